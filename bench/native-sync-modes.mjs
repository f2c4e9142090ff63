// Measures QD1 durable 4 KiB overwrites through the native addon: linked fdatasync (durability 1)
// against RWF_DSYNC (durability 2), on io_uring and on the thread pool. A benchmark, not a test.
//
//   node bench/native-sync-modes.mjs [directory]   (default: os.tmpdir(); needs O_DIRECT)
//
// Protocol: one file per trial, a 1 MiB region written and fdatasync'ed once so that every timed
// write overwrites allocated, written blocks (no metadata change, as a WAL rewriting a preallocated
// segment); then one 4 KiB O_DIRECT write at a time, each awaited, cycling over the region,
// until OPS_MAX writes or TRIAL_MS_MAX elapse, whichever comes first.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const native = createRequire(import.meta.url)('../build/Release/ringwal.node');

const BLOCK_BYTES = 4096;
const REGION_BYTES = 1 << 20;
const OPS_MAX = 10_000;
const TRIAL_MS_MAX = 5_000;

function openBackend(kind) {
  const completions = new Int32Array(3);
  let resolveNext = null;
  const onCompletions = () => {
    const resolve = resolveNext;
    resolveNext = null;
    resolve({ result: completions[1], syscall: completions[2] });
  };
  const handle = native.backendCreate(kind === 'ring' ? 'io_uring' : 'threadpool', 1, completions, onCompletions);
  if (typeof handle === 'number') throw new Error(`backendCreate(${kind}) failed: ${handle}`);
  return {
    write(fd, buffer, fileOffsetBytes, durability) {
      return new Promise((resolve, reject) => {
        resolveNext = resolve;
        const ret = native.backendWrite(handle, 1, fd, buffer, 0, BLOCK_BYTES, fileOffsetBytes, durability);
        if (ret !== 0) reject(new Error(`write returned ${ret}`));
      });
    },
    close: () => native.backendClose(handle),
  };
}

async function trial(dir, kind, durability) {
  const file = path.join(dir, `sync-modes-${kind}-${durability}.dat`);
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_DIRECT);
  const region = native.allocAligned(REGION_BYTES, BLOCK_BYTES);
  fs.writeSync(fd, new Uint8Array(region), 0, REGION_BYTES, 0);
  fs.fdatasyncSync(fd);
  const buffer = native.allocAligned(BLOCK_BYTES, BLOCK_BYTES);
  new Uint8Array(buffer).fill(0x5a);
  const backend = openBackend(kind);
  const blocks = REGION_BYTES / BLOCK_BYTES;
  const latenciesUs = [];
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(TRIAL_MS_MAX) * 1_000_000n;
  let ops = 0;
  while (ops < OPS_MAX && process.hrtime.bigint() < deadline) {
    const before = process.hrtime.bigint();
    const { result } = await backend.write(fd, buffer, (ops % blocks) * BLOCK_BYTES, durability);
    if (result !== BLOCK_BYTES) throw new Error(`write completed with ${result}`);
    latenciesUs.push(Number(process.hrtime.bigint() - before) / 1000);
    ops++;
  }
  const elapsedS = Number(process.hrtime.bigint() - start) / 1e9;
  backend.close();
  fs.closeSync(fd);
  fs.rmSync(file);
  latenciesUs.sort((a, b) => a - b);
  const percentile = (p) => latenciesUs[Math.min(latenciesUs.length - 1, Math.floor(p * latenciesUs.length))];
  return {
    backend: kind,
    durability: durability === 1 ? '1 write+fdatasync' : '2 RWF_DSYNC',
    ops,
    seconds: Number(elapsedS.toFixed(2)),
    opsPerSecond: Math.round(ops / elapsedS),
    p50Us: Math.round(percentile(0.5)),
    p99Us: Math.round(percentile(0.99)),
  };
}

const dir = process.argv[2] ?? os.tmpdir();
const results = [];
for (const kind of ['ring', 'pool']) {
  for (const durability of [1, 2]) results.push(await trial(dir, kind, durability));
}
console.table(results);
console.log(JSON.stringify({ kernel: os.release(), directory: dir, results }));
