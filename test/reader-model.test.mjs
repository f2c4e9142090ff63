// One reader model (docs/design.md, "Readers: one model"): recovery, read and follow share one
// definition of a valid record. The same damage, made to a log behind an open writer (for read
// and follow) and to a copy of it that is then opened (for recovery), must be found at the same
// byte offset by all three, with exactly the same records before it; none yields a damaged record.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Wal, WalCorruptionError } from '../dist/index.js';
import { RECORD_HEADER_SIZE_BYTES, SEGMENT_NAME, changeFileBytes, walkSegment } from './helpers/format.mjs';
import { payloadFor, tempDir } from './helpers/tmp.mjs';

const RECORDS = 400;
const OPTIONS = { preallocate: false };

/**
 * The damages: each a function of the reference walk, returning [offset, how each byte changes, bytes].
 * @type {Record<string, (records: any[]) => [number, (b: number) => number, number?]>}
 */
const DAMAGES = {
  'a flipped bit inside a payload in the middle': (records) => {
    const r = records[150];
    return [r.offsetBytes + RECORD_HEADER_SIZE_BYTES + 3, (b) => b ^ 0x01];
  },
  'a flipped bit in an LSN in the middle': (records) => {
    const r = records[200];
    return [r.offsetBytes + 8, (b) => b ^ 0x40];
  },
  'a zeroed header in the middle': (records) => {
    const r = records[99];
    return [r.offsetBytes, () => 0, RECORD_HEADER_SIZE_BYTES];
  },
  'a flipped bit inside the last record': (records) => {
    const r = records[records.length - 1];
    return [r.offsetBytes + RECORD_HEADER_SIZE_BYTES, (b) => b ^ 0x80];
  },
};

function damageFile(file, [offsetBytes, change, lengthBytes = 1]) {
  changeFileBytes(file, offsetBytes, change, lengthBytes);
}

/** Every record a reader yields, then the error that stopped it. */
async function readAll(iterable) {
  const lsns = [];
  try {
    for await (const rec of iterable) {
      assert.deepEqual(rec.payload, payloadFor(rec.lsn), `LSN ${rec.lsn} yielded with a damaged payload`);
      lsns.push(rec.lsn);
    }
  } catch (err) {
    return { lsns, err };
  }
  return { lsns, err: null };
}

for (const [name, damageOf] of Object.entries(DAMAGES)) {
  test(`${name}: recovery, read and follow stop at the same offset after the same records`, async (t) => {
    const dir = tempDir(t);
    let wal = await Wal.open(dir, OPTIONS);
    // Batches of several records, so the damaged record has valid ones on both sides in its batch.
    for (let i = 1; i <= RECORDS; i += 8) await Promise.all(Array.from({ length: 8 }, (_, k) => wal.append(payloadFor(i + k))));
    await wal.close();
    const file = path.join(dir, SEGMENT_NAME);
    const records = walkSegment(fs.readFileSync(file)).records;
    assert.equal(records.length, RECORDS);
    const damage = damageOf(records);
    const damagedIndex = records.findIndex((r) => r.offsetBytes <= damage[0] && damage[0] < r.offsetBytes + r.spanBytes);
    const damagedOffset = records[damagedIndex].offsetBytes;
    const before = records.slice(0, damagedIndex).map((r) => r.lsn);

    // Recovery, on a copy damaged the same way.
    const copy = tempDir(t);
    fs.copyFileSync(file, path.join(copy, SEGMENT_NAME));
    damageFile(path.join(copy, SEGMENT_NAME), damage);
    let recovered;
    try {
      const reopened = await Wal.open(copy, OPTIONS);
      recovered = { report: reopened.recovery, read: await readAll(reopened.read()) };
      await reopened.close();
    } catch (err) {
      recovered = { err };
    }
    if (damagedIndex === records.length - 1) {
      // The last batch: a torn tail to recovery, which keeps exactly the records before it.
      assert.equal(recovered.report.tornTail?.offsetBytes, damagedOffset);
      assert.deepEqual(recovered.read.lsns, before);
    } else {
      // Acknowledged records after it prove a hole.
      assert.ok(recovered.err instanceof WalCorruptionError, String(recovered.err));
      assert.equal(recovered.err.offsetBytes, damagedOffset);
    }

    // read and follow, on the log open again, damaged behind it (all of it is durable to them).
    wal = await Wal.open(dir, OPTIONS);
    t.after(() => wal.close());
    damageFile(file, damage);
    const read = await readAll(wal.read());
    const controller = new AbortController();
    const followed = await readAll(wal.follow({ signal: controller.signal }));
    /** @type {[string, { lsns: number[], err: unknown }][]} */
    const results = [
      ['read', read],
      ['follow', followed],
    ];
    for (const [reader, result] of results) {
      assert.deepEqual(result.lsns, before, `${reader} yields exactly the records before the damage`);
      assert.ok(result.err instanceof WalCorruptionError, `${reader}: ${result.err}`);
      assert.equal(result.err.offsetBytes, damagedOffset, `${reader} names the damaged record's offset`);
    }
  });
}
