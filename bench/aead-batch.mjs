// AES-256-GCM cost per record: the addon's batch call (one native call for a batch of records,
// in place) against Node's crypto.createCipheriv per record, for the encryption work
// (docs/encryption.md). A benchmark, not a test.
//
//   node bench/aead-batch.mjs [payload bytes] [records per batch]   (default 128, 8192)
import crypto from 'node:crypto';
import { createRequire } from 'node:module';

const native = createRequire(import.meta.url)('../build/Release/ringwal.node');
const sizeBytes = Number(process.argv[2] ?? 128);
const count = Number(process.argv[3] ?? 8192);
const HEADER = 48;
const TAG = 16;
const span = HEADER + sizeBytes + TAG;
const keyBytes = crypto.randomBytes(32);
const key = native.aeadKey(new Uint8Array(keyBytes));
const view = new Uint8Array(count * span);
const ranges = new Uint32Array(5 * count);
const nonces = new Uint8Array(12 * count);
for (let i = 0; i < count; i++) {
  ranges.set([i * span, HEADER, i * span + HEADER, sizeBytes, i * span + HEADER + sizeBytes], 5 * i);
  new DataView(nonces.buffer).setBigUint64(12 * i + 4, BigInt(i + 1), true);
}
const results = new Int32Array(count);
for (let round = 0; round < 3; round++) {
  let t = process.hrtime.bigint();
  for (let k = 0; k < 20; k++) native.aeadSealBatch(key, view, ranges, nonces, count);
  const sealNs = Number(process.hrtime.bigint() - t) / (20 * count);
  native.aeadSealBatch(key, view, ranges, nonces, count);
  t = process.hrtime.bigint();
  native.aeadOpenBatch(key, view, ranges, nonces, count, results);
  const openNs = Number(process.hrtime.bigint() - t) / count;
  const records = Math.min(count, 20_000);
  t = process.hrtime.bigint();
  for (let i = 0; i < records; i++) {
    const at = (i % count) * span;
    const cipher = crypto.createCipheriv('aes-256-gcm', keyBytes, nonces.subarray(12 * (i % count), 12 * (i % count) + 12));
    cipher.setAAD(view.subarray(at, at + HEADER));
    cipher.update(view.subarray(at + HEADER, at + HEADER + sizeBytes));
    cipher.final();
    cipher.getAuthTag();
  }
  const perRecordNs = Number(process.hrtime.bigint() - t) / records;
  console.log(
    JSON.stringify({
      sizeBytes,
      count,
      sealNsPerRecord: Math.round(sealNs),
      openNsPerRecord: Math.round(openNs),
      createCipherivNsPerRecord: Math.round(perRecordNs),
    }),
  );
}
native.aeadKeyDestroy(key);
