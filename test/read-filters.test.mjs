// Record types and filtered, lazy reads (docs/format.md "Record types", README "Reading"):
// knownTypes with the required bit, ringwal's reserved type range, the header filters, toLsn,
// headers-only reads, and the rule that a record a filter skips is still CRC-checked.
// Real files, real O_DIRECT where the file system has it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Wal, WalCorruptionError, WalInvalidArgumentError, WalUnknownRequiredTypeError, isSystemRecordType } from '../dist/index.js';
import { RECORD_HEADER_SIZE_BYTES, SEGMENT_NAME, changeFileBytes, walkSegment } from './helpers/format.mjs';
import { payloadFor, tempDir } from './helpers/tmp.mjs';

const REQUIRED_A = 0x8001;
const REQUIRED_B = 0x8abc;
const OPTIONAL_C = 0x0007;
const TYPES = [REQUIRED_A, REQUIRED_B, OPTIONAL_C];
const RECORD_COUNT = 300;

/** Record i's meta: every type, tenant and database mixed, in a pattern the test recomputes. */
function metaFor(i) {
  return { type: TYPES[i % 3], tenant: i % 4, database: 10 + (i % 5), vshard: i };
}

/** A log of RECORD_COUNT records (LSN i+1 is record i), in batches of 7 and single appends. */
async function writeLog(dir) {
  const wal = await Wal.open(dir, { preallocate: false });
  for (let i = 0; i < RECORD_COUNT;) {
    if (i % 2 === 0) {
      const group = Array.from({ length: Math.min(7, RECORD_COUNT - i) }, (_, k) => i + k);
      await Promise.all(group.map((k) => wal.append(payloadFor(k), metaFor(k))));
      i += group.length;
    } else {
      await wal.append(payloadFor(i), metaFor(i));
      i += 1;
    }
  }
  return wal;
}

async function collect(iterable) {
  const out = [];
  for await (const r of iterable) out.push(r);
  return out;
}

function expectedLsns(predicate) {
  const lsns = [];
  for (let i = 0; i < RECORD_COUNT; i++) if (predicate(i, metaFor(i))) lsns.push(i + 1);
  return lsns;
}

test('the header filters, toLsn and fromLsn yield exactly the matching records, payloads intact', async (t) => {
  const wal = await writeLog(tempDir(t));
  t.after(() => wal.close());
  /** @type {[import('../dist/index.js').ReadOptions, (i: number, m: ReturnType<typeof metaFor>) => boolean][]} */
  const cases = [
    [{}, () => true],
    [{ types: [REQUIRED_B] }, (i, m) => m.type === REQUIRED_B],
    [{ tenants: [1, 3] }, (i, m) => m.tenant === 1 || m.tenant === 3],
    [{ databases: [12] }, (i, m) => m.database === 12],
    [
      { types: [REQUIRED_A, OPTIONAL_C], tenants: [0], databases: [10, 14] },
      (i, m) => m.type !== REQUIRED_B && m.tenant === 0 && (m.database === 10 || m.database === 14),
    ],
    [{ fromLsn: 50, toLsn: 120 }, (i) => i + 1 >= 50 && i + 1 <= 120],
    [{ fromLsn: 77, toLsn: 77 }, (i) => i + 1 === 77],
    [{ types: [] }, () => false],
  ];
  for (const [options, predicate] of cases) {
    const records = await collect(wal.read(options));
    assert.deepEqual(
      records.map((r) => r.lsn),
      expectedLsns(predicate),
      JSON.stringify(options),
    );
    for (const r of records) {
      const i = r.lsn - 1;
      assert.deepEqual(r.payload, payloadFor(i));
      assert.equal(r.payloadSizeBytes, payloadFor(i).byteLength);
      assert.deepEqual({ type: r.type, tenant: r.tenant, database: r.database, vshard: r.vshard }, metaFor(i));
    }
  }
});

test('payloads: false yields headers only, with each payload size', async (t) => {
  const wal = await writeLog(tempDir(t));
  t.after(() => wal.close());
  const headers = await collect(wal.read({ payloads: false, tenants: [2] }));
  assert.deepEqual(
    headers.map((h) => h.lsn),
    expectedLsns((i, m) => m.tenant === 2),
  );
  for (const h of headers) {
    assert.equal('payload' in h, false);
    assert.deepEqual(h, { lsn: h.lsn, ...metaFor(h.lsn - 1), payloadSizeBytes: payloadFor(h.lsn - 1).byteLength, txn: null });
  }
});

test('knownTypes: an unknown optional type is skipped, an unknown required type stops the read with its LSN and type', async (t) => {
  const wal = await writeLog(tempDir(t));
  t.after(() => wal.close());
  // C is optional: a reader that knows only A and B skips it and reads to the end.
  const known = await collect(wal.read({ knownTypes: [REQUIRED_A, REQUIRED_B] }));
  assert.deepEqual(
    known.map((r) => r.lsn),
    expectedLsns((i, m) => m.type !== OPTIONAL_C),
  );
  // B is required: a reader that does not know it must stop at the first B (record 1, LSN 2),
  // after yielding what came before it.
  const yielded = [];
  await assert.rejects(
    async () => {
      for await (const r of wal.read({ knownTypes: [REQUIRED_A, OPTIONAL_C] })) yielded.push(r.lsn);
    },
    (err) => err instanceof WalUnknownRequiredTypeError && err.code === 'WAL_ERR_UNKNOWN_REQUIRED_TYPE' && err.lsn === 2 && err.type === REQUIRED_B,
  );
  assert.deepEqual(yielded, [1]);
  // The check comes before the types filter: a reader that only wants A still may not pass a B it cannot read.
  await assert.rejects(collect(wal.read({ knownTypes: [REQUIRED_A], types: [REQUIRED_A] })), WalUnknownRequiredTypeError);
  // Headers-only reads obey the same rule.
  await assert.rejects(
    collect(wal.read({ knownTypes: [OPTIONAL_C], payloads: false })),
    (err) => err instanceof WalUnknownRequiredTypeError && err.lsn === 1 && err.type === REQUIRED_A,
  );
});

test("ringwal's own type range is refused on append and in every type list", async (t) => {
  const wal = await Wal.open(tempDir(t), { preallocate: false });
  t.after(() => wal.close());
  for (const type of [0xffff0000, 0xffff8001, 0xffffffff, 0xffff4000]) {
    assert.equal(isSystemRecordType(type), true);
    await assert.rejects(wal.append(Buffer.from('x'), { type }), (err) => err instanceof WalInvalidArgumentError && err.argument === 'type');
    for (const list of ['knownTypes', 'types']) {
      assert.throws(
        () => wal.read({ [list]: [REQUIRED_A, type] }),
        (err) => err instanceof WalInvalidArgumentError && err.argument === `${list}[1]`,
      );
    }
  }
  for (const type of [1, 0x8001, 0xfffe_bfff]) assert.equal(isSystemRecordType(type), false);
  assert.equal(await wal.append(Buffer.from('x'), { type: 0xfffe_bfff }), 1);
});

test('bad read options are typed errors before anything is read', async (t) => {
  const wal = await Wal.open(tempDir(t), { preallocate: false });
  t.after(() => wal.close());
  const bad = [
    [{ toLsn: -1 }, 'toLsn'],
    [{ toLsn: 1.5 }, 'toLsn'],
    [{ fromLsn: 5, toLsn: 4 }, 'toLsn'],
    [{ types: 'A' }, 'types'],
    [{ types: [0] }, 'types[0]'],
    [{ types: [2 ** 32] }, 'types[0]'],
    [{ knownTypes: [0x4001] }, 'knownTypes[0]'],
    [{ tenants: [-1] }, 'tenants[0]'],
    [{ databases: [1, 'x'] }, 'databases[1]'],
    [{ tenants: new Array(65_537).fill(0) }, 'tenants'],
    [{ payloads: 'no' }, 'payloads'],
    [{ fromLSN: 3 }, 'fromLSN'],
    [null, 'read options'],
  ];
  for (const [options, argument] of bad) {
    assert.throws(
      // Options of every wrong shape, on purpose.
      () => wal.read(/** @type {any} */ (options)),
      (err) => err instanceof WalInvalidArgumentError && err.argument === argument,
      JSON.stringify(options)?.slice(0, 80),
    );
  }
});

test('a flipped bit inside a payload that the filter skips, or that a headers-only read never copies, still stops the reader', async (t) => {
  const dir = tempDir(t);
  const wal = await writeLog(dir);
  t.after(() => wal.close());
  const file = path.join(dir, SEGMENT_NAME);
  const victim = walkSegment(fs.readFileSync(file)).records.find((r) => r.lsn === 101);
  assert.equal(victim.lsn - 1, 100);
  const atBytes = victim.offsetBytes + RECORD_HEADER_SIZE_BYTES + 5;
  // Damage the durable record on disk behind the open log (the reader reads with O_DIRECT where
  // it can; the kernel writes back this buffered write before such a read of the range).
  changeFileBytes(file, atBytes, (b) => b ^ 0x10);
  const victimMeta = metaFor(100);
  const otherType = TYPES.find((type) => type !== victimMeta.type);
  for (const options of [
    { types: [otherType] },
    { tenants: [(victimMeta.tenant + 1) % 4] },
    { payloads: false },
    { knownTypes: TYPES, payloads: false, databases: [99] },
  ]) {
    const yielded = [];
    await assert.rejects(
      async () => {
        for await (const r of wal.read(options)) yielded.push(r.lsn);
      },
      (err) => {
        assert.ok(err instanceof WalCorruptionError, String(err));
        assert.equal(err.code, 'WAL_ERR_CORRUPT');
        assert.equal(err.offsetBytes, victim.offsetBytes);
        assert.match(err.message, /LSN 101/);
        return true;
      },
      JSON.stringify(options),
    );
    assert.ok(
      yielded.every((lsn) => lsn < 101),
      JSON.stringify(options),
    );
  }
  // A range that ends before the damage never reads it.
  assert.equal((await collect(wal.read({ toLsn: 100 }))).length, 100);
});
