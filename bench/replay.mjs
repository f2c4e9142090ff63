// Replay speed from disk: open + recovery time and a full read of a log, against a plain
// sequential O_DIRECT read of the same files. A benchmark, not a test.
//
//   node bench/replay.mjs [directory] [MB] [record bytes,...]   (default ./ringwal-bench-data, 1024, 128,4096)
//
// Protocol per record size: a fresh log of about MB megabytes of payload written with
// appendBatch (64 MiB segments, defaults otherwise), closed; then, timed: Wal.open (recovery
// scans the last segment), one wal.read() over every record (payloads copied out, as a consumer
// gets them), and a sequential read of every segment file in 1 MiB O_DIRECT reads (the disk's
// rate for the same bytes, readSync from an aligned buffer). All reads bypass the page cache;
// its size before and after is printed (Cached in /proc/meminfo).
import { closeSync, constants, openSync, readdirSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Wal } from '../dist/index.js';

const native = createRequire(import.meta.url)('../build/Release/ringwal.node');
const directory = process.argv[2] ?? './ringwal-bench-data';
const megabytes = Number(process.argv[3] ?? 1024);
const sizes = (process.argv[4] ?? '128,4096').split(',').map(Number);
const BATCH_BYTES = 1024 * 1024;
const READ_BYTES = 1024 * 1024;
const cachedKb = () => Number(/^Cached:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))[1]);

function diskRead(dir) {
  const buffer = new Uint8Array(native.allocAligned(READ_BYTES, 4096));
  let bytes = 0;
  const startMs = performance.now();
  for (const name of readdirSync(dir)
    .filter((n) => n.endsWith('.seg'))
    .sort()) {
    const fd = openSync(join(dir, name), constants.O_RDONLY | constants.O_DIRECT);
    try {
      const size = statSync(join(dir, name)).size;
      for (let at = 0; at < size; at += READ_BYTES) bytes += readSync(fd, buffer, 0, READ_BYTES, at);
    } finally {
      closeSync(fd);
    }
  }
  return { bytes, seconds: (performance.now() - startMs) / 1000 };
}

const rows = [];
for (const recordBytes of sizes) {
  rmSync(directory, { recursive: true, force: true });
  const wal = await Wal.open(directory);
  const payload = Buffer.alloc(recordBytes, 7);
  const perBatch = Math.max(1, Math.floor(BATCH_BYTES / recordBytes));
  const batch = Array.from({ length: perBatch }, () => payload);
  const total = Math.ceil((megabytes * 1e6) / recordBytes);
  for (let n = 0; n < total; n += perBatch) await wal.appendBatch(batch);
  await wal.close();
  const cachedBeforeKb = cachedKb();
  let startMs = performance.now();
  const reopened = await Wal.open(directory);
  const openSeconds = (performance.now() - startMs) / 1000;
  startMs = performance.now();
  let records = 0;
  let payloadBytes = 0;
  for await (const rec of reopened.read()) {
    records += 1;
    payloadBytes += rec.payload.byteLength;
  }
  const readSeconds = (performance.now() - startMs) / 1000;
  await reopened.close();
  const logBytes = readdirSync(directory)
    .filter((n) => n.endsWith('.seg'))
    .reduce((sum, n) => sum + statSync(join(directory, n)).size, 0);
  const disk = diskRead(directory);
  const cachedAfterKb = cachedKb();
  rows.push({
    recordBytes,
    records,
    logMB: Math.round(logBytes / 1e6),
    openSeconds: Number(openSeconds.toFixed(3)),
    readMBps: Math.round(logBytes / 1e6 / readSeconds),
    recordsPerS: Math.round(records / readSeconds),
    payloadMBps: Math.round(payloadBytes / 1e6 / readSeconds),
    diskReadMBps: Math.round(disk.bytes / 1e6 / disk.seconds),
    ratio: Number((disk.seconds / readSeconds).toFixed(2)),
    pageCacheDeltaMB: Math.round((cachedAfterKb - cachedBeforeKb) / 1024),
  });
}
rmSync(directory, { recursive: true, force: true });
console.table(rows);
console.log(JSON.stringify(rows));
