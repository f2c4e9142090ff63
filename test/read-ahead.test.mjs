// Reads of whole segments keep the next 1 MiB chunk in flight while the current one is parsed
// (src/read/segment-scanner.ts, readAhead). Records crossing chunk boundaries, records larger
// than a chunk, and damage several chunks in must read exactly as without it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Wal, WalCorruptionError } from '../dist/index.js';
import { RECORD_HEADER_SIZE_BYTES, SEGMENT_NAME, changeFileBytes, walkSegment } from './helpers/format.mjs';
import { payloadFor, tempDir } from './helpers/tmp.mjs';

/** Sizes from a few bytes to 1.5 MiB, so records straddle every 1 MiB chunk boundary and some exceed a chunk. */
function sizeFor(i) {
  if (i % 97 === 0) return 1536 * 1024;
  return 1 + ((i * 7919) % 20000);
}

test('a multi-chunk segment reads back exactly, and damage several chunks in stops the read at its offset', async (t) => {
  const dir = tempDir(t);
  const wal = await Wal.open(dir, { recordPayloadBytesMax: 2 * 1024 * 1024, batchBytesMax: 4 * 1024 * 1024 });
  t.after(() => wal.close());
  if (!wal.directIo) return t.skip('no O_DIRECT here: the read-ahead is for direct reads');
  const RECORDS = 600;
  for (let i = 1; i <= RECORDS; i += 5) await Promise.all(Array.from({ length: 5 }, (_, k) => wal.append(payloadFor(i + k, sizeFor(i + k)))));
  let n = 0;
  for await (const rec of wal.read()) {
    n += 1;
    assert.equal(rec.lsn, n);
    assert.deepEqual(rec.payload, payloadFor(n, sizeFor(n)));
  }
  assert.equal(n, RECORDS);
  const file = path.join(dir, SEGMENT_NAME);
  const records = walkSegment(fs.readFileSync(file)).records;
  const victim = records.find((r) => r.offsetBytes > 5 * 1024 * 1024 && r.sizeBytes > 100);
  assert.ok(victim !== undefined, 'the log reaches past 5 MiB');
  changeFileBytes(file, victim.offsetBytes + RECORD_HEADER_SIZE_BYTES + 50, (b) => b ^ 0x04);
  const seen = [];
  await assert.rejects(
    async () => {
      for await (const rec of wal.read()) seen.push(rec.lsn);
    },
    (err) => err instanceof WalCorruptionError && err.offsetBytes === victim.offsetBytes,
  );
  assert.deepEqual(
    seen,
    Array.from({ length: victim.lsn - 1 }, (_, k) => k + 1),
  );
});
