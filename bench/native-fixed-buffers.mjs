// Do registered buffers (IORING_REGISTER_BUFFERS, then WRITE_FIXED) make ringwal's writes faster?
// Compares O_DIRECT writes on the io_uring backend from the writer's two batch buffers, registered
// with the ring or not, everything else equal. A benchmark, not a test.
//
//   node bench/native-fixed-buffers.mjs [directory] [--rounds N] [--seconds S] [--only 'MiB durable']
//   (default: bench/tmp/ in the repository, which must be a real disk; needs O_DIRECT)
//
// Protocol: one file per case, preallocated by writing and fdatasync'ing its whole region once,
// so every timed write overwrites written blocks (no allocation, no size change: a WAL rewriting
// a preallocated segment). Two buffers of the write size, used in turn, as the group commit uses
// its two batch buffers. A trial is a fresh ring (registered: both buffers registered before the
// first write) writing until OPS_MAX writes or the time is up. Each round runs every case once
// registered and once not, the order alternating from round to round so that neither variant
// always runs on a warmer disk. Reported: the median of each variant over the rounds, and the
// median of the per-round ratios registered ÷ plain, which cancels what the disk did in a round.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const native = createRequire(import.meta.url)('../build/Release/ringwal.node');

const KiB = 1024;
const MiB = 1024 * KiB;
const ALIGNMENT_BYTES = 4096;
/** Enough writes for a stable median of a sync-bound case, few enough that one trial stays short. */
const OPS_MAX = 20_000;
const DURABILITY = { none: 0, linkedFdatasync: 1 };

/** [name, writeBytes, queue depth, durability, region the writes cycle over]. */
const CASES = [
  ['4 KiB durable QD1', 4 * KiB, 1, DURABILITY.linkedFdatasync, 1 * MiB],
  ['64 KiB durable QD1', 64 * KiB, 1, DURABILITY.linkedFdatasync, 16 * MiB],
  ['1 MiB durable QD1', 1 * MiB, 1, DURABILITY.linkedFdatasync, 64 * MiB],
  ['4 MiB durable QD1', 4 * MiB, 1, DURABILITY.linkedFdatasync, 64 * MiB],
  ['4 KiB non-durable QD1', 4 * KiB, 1, DURABILITY.none, 1 * MiB],
  ['4 MiB non-durable QD1', 4 * MiB, 1, DURABILITY.none, 64 * MiB],
  ['1 MiB non-durable QD8', 1 * MiB, 8, DURABILITY.none, 256 * MiB],
];

function parseArgs(argv) {
  const options = { dir: fileURLToPath(new URL('./tmp/', import.meta.url)), rounds: 9, seconds: 2, only: '' };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--rounds') options.rounds = Number(argv[++i]);
    else if (argv[i] === '--only') options.only = argv[++i];
    else if (argv[i] === '--seconds') options.seconds = Number(argv[++i]);
    else options.dir = argv[i];
  }
  return options;
}

function check(ret, what) {
  if (typeof ret === 'number' && ret < 0) throw new Error(`${what} answered ${ret}`);
  return ret;
}

/** A ring of `depth` whose writes are promises of their completion. */
function openRing(depth) {
  const completions = new Int32Array(3 * depth);
  const waiting = new Map();
  const ring = check(
    native.backendCreate('io_uring', depth, completions, (count) => {
      for (let i = 0; i < count; i++) {
        const reqId = completions[3 * i];
        const resolve = waiting.get(reqId);
        waiting.delete(reqId);
        resolve(completions[3 * i + 1]);
      }
    }),
    'backendCreate',
  );
  let nextReqId = 0;
  return {
    ring,
    write(fd, buffer, lengthBytes, fileOffsetBytes, durability) {
      const reqId = nextReqId++ & 0x7fffffff;
      check(native.backendWrite(ring, reqId, fd, buffer, 0, lengthBytes, fileOffsetBytes, durability), 'backendWrite');
      return new Promise((resolve) => waiting.set(reqId, resolve));
    },
  };
}

function preparedFile(dir, name, regionBytes) {
  const file = path.join(dir, `fixed-buffers-${name.replace(/\W+/g, '-')}.dat`);
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_DIRECT);
  const chunkBytes = Math.min(regionBytes, 4 * MiB);
  const chunk = new Uint8Array(check(native.allocAligned(chunkBytes, ALIGNMENT_BYTES), 'allocAligned')).fill(0xa5);
  for (let offset = 0; offset < regionBytes; offset += chunkBytes) fs.writeSync(fd, chunk, 0, chunkBytes, offset);
  fs.fdatasyncSync(fd);
  return { file, fd };
}

async function trial(fd, buffers, [, writeBytes, depth, durability, regionBytes], registered, seconds) {
  const { ring, write } = openRing(depth);
  check(native.backendRegisterBuffers(ring, registered ? buffers : []), 'backendRegisterBuffers');
  if (native.testing.info(ring).fixedBuffers !== (registered ? buffers.length : 0)) throw new Error('registration did not take');
  const slots = regionBytes / writeBytes;
  const latenciesUs = [];
  let issued = 0;
  const deadline = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  const start = process.hrtime.bigint();
  // `depth` writers, each awaiting its write before the next: QD1 is one of them.
  const writer = async () => {
    while (issued < OPS_MAX && process.hrtime.bigint() < deadline) {
      const index = issued++;
      const before = process.hrtime.bigint();
      const result = await write(fd, buffers[index % 2], writeBytes, (index % slots) * writeBytes, durability);
      if (result !== writeBytes) throw new Error(`write completed with ${result}`);
      latenciesUs.push(Number(process.hrtime.bigint() - before) / 1000);
    }
  };
  await Promise.all(Array.from({ length: depth }, writer));
  const elapsedS = Number(process.hrtime.bigint() - start) / 1e9;
  check(native.backendClose(ring), 'backendClose');
  latenciesUs.sort((a, b) => a - b);
  return {
    opsPerSecond: latenciesUs.length / elapsedS,
    mbPerSecond: (latenciesUs.length * writeBytes) / elapsedS / 1e6,
    p50Us: latenciesUs[Math.floor(latenciesUs.length / 2)],
  };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

const options = parseArgs(process.argv.slice(2));
fs.mkdirSync(options.dir, { recursive: true });
const cases = CASES.filter(([name]) => name.includes(options.only));
const runs = cases.map(() => ({ registered: [], plain: [] }));
const files = cases.map(([name, , , , regionBytes]) => preparedFile(options.dir, name, regionBytes));
for (let round = 0; round < options.rounds; round++) {
  for (const [i, testCase] of cases.entries()) {
    const buffers = [0, 1].map((b) => {
      const buffer = check(native.allocAligned(testCase[1], ALIGNMENT_BYTES), 'allocAligned');
      new Uint8Array(buffer).fill(0x30 + b);
      return buffer;
    });
    const order = round % 2 === 0 ? [true, false] : [false, true];
    for (const registered of order) {
      const result = await trial(files[i].fd, buffers, testCase, registered, options.seconds);
      runs[i][registered ? 'registered' : 'plain'].push(result);
    }
  }
  process.stderr.write(`round ${round + 1}/${options.rounds} done\n`);
}
for (const { file, fd } of files) {
  fs.closeSync(fd);
  fs.rmSync(file);
}

// A throughput case (several writes in flight) is judged by MB/s, a QD1 case by writes per second.
const rows = cases.map(([name, , depth], i) => {
  const { registered, plain } = runs[i];
  const metric = depth > 1 ? 'mbPerSecond' : 'opsPerSecond';
  const values = (list) => list.map((r) => r[metric]);
  const range = (list) => `${Math.round(Math.min(...values(list)))}–${Math.round(Math.max(...values(list)))}`;
  // The two variants of a round ran back to back, so their ratio cancels what the disk did that round.
  const pairedRatios = registered.map((r, round) => r[metric] / plain[round][metric]);
  return {
    case: name,
    unit: metric === 'mbPerSecond' ? 'MB/s' : 'writes/s',
    plain: Math.round(median(values(plain))),
    registered: Math.round(median(values(registered))),
    'ratio of medians': Number((median(values(registered)) / median(values(plain))).toFixed(3)),
    'median paired ratio': Number(median(pairedRatios).toFixed(3)),
    'rounds registered won': `${pairedRatios.filter((ratio) => ratio > 1).length}/${pairedRatios.length}`,
    'plain range': range(plain),
    'registered range': range(registered),
    'p50 µs plain': Math.round(median(plain.map((r) => r.p50Us))),
    'p50 µs registered': Math.round(median(registered.map((r) => r.p50Us))),
  };
});
console.table(rows);
console.log(JSON.stringify({ kernel: os.release(), directory: options.dir, rounds: options.rounds, secondsPerTrial: options.seconds, rows, runs }));
