// Where replay time goes, for 128-byte records: the segment scanner alone (parse, CRC, no
// records handed out), a lazy read (headers only) and a full read (payload copies), same log.
//   node bench/replay-split.mjs [directory] [MB]   (default ./ringwal-bench-split, 256)
import { Wal } from '../dist/index.js';
import { SegmentScanner } from '../dist/read/segment-scanner.js';
import { NativeIo } from '../dist/io/native-io.js';
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
const dir = process.argv[2] ?? './ringwal-bench-split';
const mb = Number(process.argv[3] ?? 256);
const recordBytes = 128;
if (!existsSync(dir)) {
  const wal = await Wal.open(dir);
  const payload = Buffer.alloc(recordBytes, 7);
  const batch = Array.from({ length: 8192 }, () => payload);
  const total = Math.ceil((mb * 1e6) / recordBytes);
  for (let n = 0; n < total; n += batch.length) await wal.appendBatch(batch);
  await wal.close();
}
const wal = await Wal.open(dir);
for (let round = 0; round < 2; round++) {
  let t = performance.now();
  let n = 0;
  for await (const _r of wal.read()) n++;
  const full = (performance.now() - t) / 1000;
  t = performance.now();
  let m = 0;
  for await (const _r of wal.read({ payloads: false })) m++;
  const lazy = (performance.now() - t) / 1000;
  // scanner alone over each segment
  const io = NativeIo.create({ backend: 'io_uring', syncMethod: 'linked-fdatasync', queueDepth: 64 });
  t = performance.now();
  let k = 0;
  for (const name of readdirSync(dir)
    .filter((x) => x.endsWith('.seg'))
    .sort()) {
    const file = await io.openFile(join(dir, name), { create: false, direct: 'required', readOnly: true });
    const size = await file.sizeBytes();
    const first = Number(name.slice(4, 24));
    const segId = Number(name.slice(25, 35));
    const sc = new SegmentScanner(io, file, {
      segmentId: segId,
      dataStartBytes: 4096,
      endBytes: size,
      firstLsn: first,
      payloadBytesLimit: 64 << 20,
      readAhead: true,
    });
    for (;;) {
      const recs = await sc.next();
      if (recs.length === 0) break;
      k += recs.length;
    }
    await file.close();
  }
  const scan = (performance.now() - t) / 1000;
  await io.close();
  console.log(JSON.stringify({ records: n, fullRecPerS: Math.round(n / full), lazyRecPerS: Math.round(m / lazy), scanRecPerS: Math.round(k / scan) }));
}
await wal.close();
