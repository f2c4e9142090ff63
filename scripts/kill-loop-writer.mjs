#!/usr/bin/env node
// The process kill-loop.mjs kills: opens the log on real files (native backend), prints
// `start <nextLsn>`, then appends self-describing records under load and prints `ack <lsn>` for
// each acknowledged one until it is killed. Writes to a pipe are synchronous on Linux, so a
// printed ack was really acknowledged before the kill.
import { Wal } from '../dist/index.js';
import { killLoopPayload } from './kill-loop-payload.mjs';

const [dir, generationText, backendText] = process.argv.slice(2);
const backend = /** @type {import('../dist/index.js').BackendChoice} */ (backendText);
const generation = Number(generationText);
/** Producers appending at once: enough that batches hold many records. */
const PRODUCERS = 32;

const wal = await Wal.open(dir, { backend, batchBytesMax: 256 * 1024, segmentSizeBytes: 1024 * 1024 });
process.stdout.write(`start ${wal.nextLsn}\n`);
let index = 0;
async function producer(p) {
  for (;;) {
    if (p % 8 === 0) {
      const payloads = [];
      for (let k = 0; k < 1 + (index % 7); k++) payloads.push(killLoopPayload(generation, index++));
      const { lastLsn } = await wal.appendBatch(payloads);
      process.stdout.write(`ack ${lastLsn}\n`);
    } else {
      const lsn = await wal.append(killLoopPayload(generation, index++));
      process.stdout.write(`ack ${lsn}\n`);
    }
  }
}
await Promise.all(Array.from({ length: PRODUCERS }, (_, p) => producer(p)));
