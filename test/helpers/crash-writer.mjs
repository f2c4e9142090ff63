/**
 * The child process of test/crash.test.mjs: it opens a log and appends from many concurrent
 * producers until it is killed, printing `ack <lsn> <producer> <seq>` for every record only
 * after its append resolved (that is, once it is durable), and `pipelined <batches> <peak>` from
 * the writer's stats every few milliseconds (batches submitted behind others in flight, and the
 * most in flight at once), so the parent can tell the kills hit a pipelined writer.
 *
 *   node crash-writer.mjs <dir> <backend> <append|batch|hold> <producers> <producer id base>
 *
 * `hold` opens the log and does nothing, for the lock test.
 */
import { Wal } from '../../dist/index.js';
import { groupSizeFor, metaFor, payloadFor } from './crash-payload.mjs';

const [dir, backendText, mode, producersText, baseText] = process.argv.slice(2);
const backend = /** @type {import('../../dist/index.js').BackendChoice} */ (backendText);
const producerCount = Number(producersText);
const producerBase = Number(baseText);

// The parent kills this process; should the parent itself die first, do not run forever.
const ORPHAN_EXIT_MS = 60_000;
setTimeout(() => process.exit(3), ORPHAN_EXIT_MS);
process.stdout.on('error', () => process.exit(4));

// Pipelined (the default is one batch in flight): the kills land among batches in flight together.
const wal = await Wal.open(dir, { backend, directIo: 'required', batchesInFlightMax: 2 });
process.stdout.write(`ready ${wal.backend} ${wal.directIo} ${wal.nextLsn}\n`);

// Acks are batched into one write per event-loop turn; writes to a pipe are synchronous on
// Linux, so a line is in the pipe before the next turn, and a kill loses at most unsent acks.
let lines = [];
let flushScheduled = false;
function ack(lsn, producer, seq) {
  lines.push(`ack ${lsn} ${producer} ${seq}\n`);
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(() => {
      flushScheduled = false;
      const text = lines.join('');
      lines = [];
      process.stdout.write(text);
    });
  }
}

function die(err) {
  process.stderr.write(`crash-writer: ${err?.stack ?? err}\n`);
  process.exit(1);
}

setInterval(() => {
  wal.stats().then(
    (s) => process.stdout.write(`pipelined ${s.pipelinedBatches} ${s.batchesInFlightPeak}\n`),
    () => undefined,
  );
}, 5);

async function produce(producer) {
  let seq = 0;
  for (;;) {
    // A third of the time a producer waits a turn before its next append: appends then arrive
    // while batches are in flight, not all at once, and later batches are pipelined behind them.
    if ((producer + seq) % 3 === 0) await new Promise((resolve) => setImmediate(resolve));
    if (mode === 'batch') {
      const size = groupSizeFor(producer, seq);
      const payloads = [];
      for (let i = 0; i < size; i++) payloads.push(payloadFor(producer, seq + i));
      const { firstLsn, lastLsn } = await wal.appendBatch(payloads, metaFor(producer, seq, size));
      if (lastLsn - firstLsn !== size - 1) die(new Error(`appendBatch of ${size} returned ${firstLsn}..${lastLsn}`));
      for (let i = 0; i < size; i++) ack(firstLsn + i, producer, seq + i);
      seq += size;
    } else {
      const lsn = await wal.append(payloadFor(producer, seq), metaFor(producer, seq, 1));
      ack(lsn, producer, seq);
      seq += 1;
    }
  }
}

if (mode === 'hold') {
  setInterval(() => undefined, 1000);
} else {
  for (let p = 0; p < producerCount; p++) produce(producerBase + p).catch(die);
}
