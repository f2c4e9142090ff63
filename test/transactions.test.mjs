// Transactions (docs/format.md "Transactions", docs/design.md "Transactions"): appendTransaction
// writes a transaction record and the records it announces in one batch; every reader yields
// them all, marked with `txn`, or none; recovery cuts a torn transaction back to its transaction
// record (a torn tail) and still finds a hole; truncateAfter refuses to cut inside one; bad
// arguments are typed errors and write nothing.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Wal, WalCorruptionError, WalInvalidArgumentError, WalPayloadTooLargeError } from '../dist/index.js';
import { RECORD_HEADER_SIZE_BYTES, SEGMENT_NAME, SEGMENT_NAME_PATTERN, changeFileBytes, walkSegment } from './helpers/format.mjs';
import { payloadFor, tempDir } from './helpers/tmp.mjs';

const TRANSACTION_TYPE = 0xffff0005;
/** Small segments and batches: a few hundred records roll over several times. */
const SMALL = { segmentSizeBytes: 128 * 1024, batchBytesMax: 64 * 1024, preallocate: false };

/** Records of `count` payloads numbered from `from` (payloadFor), as appendTransaction entries. */
function entries(from, count, sizeBytes) {
  return Array.from({ length: count }, (_, i) => ({ payload: payloadFor(from + i, sizeBytes) }));
}

async function collect(iterable) {
  const out = [];
  for await (const r of iterable) out.push(r);
  return out;
}

/** Checks that every record of a transaction is there, in order, and nothing else claims it. */
function assertWholeTransactions(records) {
  const byLsn = new Map(records.map((r) => [r.lsn, r]));
  for (const r of records) {
    if (r.txn === null) continue;
    assert.ok(r.txn.firstLsn <= r.lsn && r.lsn <= r.txn.lastLsn, `LSN ${r.lsn} marked with ${JSON.stringify(r.txn)}`);
    for (let lsn = r.txn.firstLsn; lsn <= r.txn.lastLsn; lsn++) {
      const member = byLsn.get(lsn);
      assert.ok(member !== undefined, `transaction ${r.txn.firstLsn}..${r.txn.lastLsn} is missing LSN ${lsn}`);
      assert.deepEqual(member.txn, r.txn, `LSN ${lsn} is marked as part of the same transaction`);
    }
  }
}

test('appendTransaction resolves to the LSNs of its records, which every reader yields marked with txn, and nothing else', async (t) => {
  const dir = tempDir(t);
  let wal = await Wal.open(dir, SMALL);
  assert.equal(await wal.append(payloadFor(1)), 1);
  // The transaction record takes LSN 2; the records are 3..7.
  const result = await wal.appendTransaction([
    { payload: payloadFor(3) },
    { payload: payloadFor(4), type: 0x8002, tenant: 9, vshard: 4, database: 2 },
    ...entries(5, 3),
  ]);
  assert.deepEqual(result, { firstLsn: 3, lastLsn: 7 });
  // Appends made in the same turn as transactions keep call order, and each transaction stays whole.
  const mixed = await Promise.all([
    wal.append(payloadFor(8)),
    wal.appendTransaction(entries(10, 4)),
    wal.append(payloadFor(14)),
    wal.appendTransaction(entries(16, 2)),
  ]);
  assert.deepEqual(mixed, [8, { firstLsn: 10, lastLsn: 13 }, 14, { firstLsn: 16, lastLsn: 17 }]);

  const records = await collect(wal.read());
  assert.deepEqual(
    records.map((r) => r.lsn),
    [1, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 16, 17],
    'transaction records are never yielded',
  );
  assert.equal(records[0].txn, null);
  for (const r of records.slice(1, 6)) assert.deepEqual(r.txn, { firstLsn: 3, lastLsn: 7 });
  assert.equal(records[2].type, 0x8002);
  assert.equal(records[2].tenant, 9);
  assert.equal(records[2].vshard, 4);
  assert.equal(records[2].database, 2);
  assert.equal(records[6].txn, null);
  assertWholeTransactions(records);
  // Lazy reads mark them too; a read that starts inside a transaction marks what it yields.
  const headers = await collect(wal.read({ payloads: false, fromLsn: 12 }));
  assert.deepEqual(
    headers.map((h) => [h.lsn, h.txn]),
    [
      [12, { firstLsn: 10, lastLsn: 13 }],
      [13, { firstLsn: 10, lastLsn: 13 }],
      [14, null],
      [16, { firstLsn: 16, lastLsn: 17 }],
      [17, { firstLsn: 16, lastLsn: 17 }],
    ],
  );
  // A follower sees them as soon as they are durable, marked.
  const controller = new AbortController();
  const followed = [];
  const following = (async () => {
    for await (const r of wal.follow({ fromLsn: 18, signal: controller.signal })) {
      followed.push(r);
      if (r.lsn === 21) controller.abort();
    }
  })();
  assert.deepEqual(await wal.appendTransaction(entries(19, 3)), { firstLsn: 19, lastLsn: 21 });
  await following;
  assert.deepEqual(
    followed.map((r) => [r.lsn, r.txn]),
    [19, 20, 21].map((lsn) => [lsn, { firstLsn: 19, lastLsn: 21 }]),
  );
  await wal.close();

  wal = await Wal.open(dir, SMALL);
  t.after(() => wal.close());
  const reopened = await collect(wal.read());
  assert.deepEqual(
    reopened.map((r) => [r.lsn, r.txn]),
    [...records, ...followed].map((r) => [r.lsn, r.txn]),
  );
  for (const r of reopened) assert.deepEqual(r.payload, payloadFor(r.lsn), `LSN ${r.lsn}`);
});

test('transactions across many rollovers stay whole in one segment each, also after reopen', async (t) => {
  const dir = tempDir(t);
  let wal = await Wal.open(dir, SMALL);
  const results = [];
  for (let round = 0; round < 30; round++) {
    const calls = [];
    for (let k = 0; k < 4; k++) {
      // 1 to 40 records of 300 to 1,500 bytes: up to about 60 KiB, near the batch size.
      const count = 1 + ((round * 7 + k * 13) % 40);
      calls.push(wal.appendTransaction(Array.from({ length: count }, () => ({ payload: Buffer.alloc(300 + ((round + k) % 5) * 300, round) }))));
      calls.push(wal.append(Buffer.alloc(100, k)));
    }
    results.push(...(await Promise.all(calls)));
  }
  const segments = fs.readdirSync(dir).filter((name) => SEGMENT_NAME_PATTERN.test(name));
  assert.ok(segments.length >= 5, `${segments.length} segments`);
  const check = async () => {
    const records = await collect(wal.read({ payloads: false }));
    assertWholeTransactions(records);
    const starts = new Set(records.filter((r) => r.txn !== null).map((r) => r.txn.firstLsn));
    assert.equal(starts.size, 120, 'every transaction is there');
    for (const r of results) if (typeof r !== 'number') assert.ok(starts.has(r.firstLsn), `transaction ${r.firstLsn}..${r.lastLsn}`);
  };
  await check();
  // No transaction spans two segment files: each file's first LSN is outside every transaction's records.
  const firstLsns = segments.map((name) => Number(SEGMENT_NAME_PATTERN.exec(name)?.[1]));
  for (const r of results) {
    if (typeof r === 'number') continue;
    for (const first of firstLsns) assert.ok(first <= r.firstLsn - 1 || first > r.lastLsn, `segment starting at ${first} splits ${r.firstLsn}..${r.lastLsn}`);
  }
  await wal.close();
  wal = await Wal.open(dir, SMALL);
  t.after(() => wal.close());
  await check();
});

/**
 * Writes records 1..20 (in batches), then a transaction of 40 one-KiB records in a batch of its
 * own, and returns the log directory and the walk of its segment.
 */
async function logEndingInTransaction(t, after = 0) {
  const dir = tempDir(t);
  const wal = await Wal.open(dir, { preallocate: false });
  for (let i = 1; i <= 20; i += 5) await Promise.all(Array.from({ length: 5 }, (_, k) => wal.append(payloadFor(i + k))));
  const txn = await wal.appendTransaction(entries(22, 40, 1024));
  assert.deepEqual(txn, { firstLsn: 22, lastLsn: 61 });
  for (let i = 0; i < after; i++) await wal.append(payloadFor(62 + i));
  await wal.close();
  const file = path.join(dir, SEGMENT_NAME);
  const walk = walkSegment(fs.readFileSync(file));
  assert.equal(walk.records[20].type, TRANSACTION_TYPE, 'LSN 21 is the transaction record');
  return { dir, file, records: walk.records };
}

for (const [name, damage] of /** @type {const} */ ([
  ['a flipped bit in a record in its middle', (records) => [records[40].offsetBytes + RECORD_HEADER_SIZE_BYTES + 5, (b) => b ^ 0x04, 1]],
  [
    'its last records never written (zeros)',
    (records) => [records[50].offsetBytes, () => 0, records[60].offsetBytes + records[60].spanBytes - records[50].offsetBytes],
  ],
  ['a flipped bit in the transaction record', (records) => [records[20].offsetBytes + RECORD_HEADER_SIZE_BYTES, (b) => b ^ 0x01, 1]],
])) {
  test(`a transaction torn at the tail (${name}) is cut whole by recovery and no reader yields any of it`, async (t) => {
    const { dir, file, records } = await logEndingInTransaction(t);
    const [offsetBytes, change, lengthBytes] = damage(records);
    changeFileBytes(file, offsetBytes, change, lengthBytes);
    const wal = await Wal.open(dir, { preallocate: false });
    t.after(() => wal.close());
    const torn = wal.recovery.tornTail;
    assert.ok(torn !== null, 'recovery found a torn tail');
    assert.equal(torn.offsetBytes, records[20].offsetBytes, 'the valid records end before the transaction record');
    assert.ok(torn.quarantinePath !== null && fs.existsSync(torn.quarantinePath), 'the cut bytes are kept beside the log');
    assert.equal(wal.nextLsn, 21, 'the transaction record and its records are gone');
    const read = await collect(wal.read());
    assert.deepEqual(
      read.map((r) => r.lsn),
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    // The log goes on from there, with a new transaction in the same LSNs.
    assert.deepEqual(await wal.appendTransaction(entries(22, 2)), { firstLsn: 22, lastLsn: 23 });
    assert.deepEqual(
      (await collect(wal.read({ fromLsn: 21 }))).map((r) => [r.lsn, r.txn]),
      [
        [22, { firstLsn: 22, lastLsn: 23 }],
        [23, { firstLsn: 22, lastLsn: 23 }],
      ],
    );
  });
}

test('damage inside an acknowledged transaction followed by later acknowledged records is a hole, not a torn tail', async (t) => {
  const { dir, file, records } = await logEndingInTransaction(t, 10);
  changeFileBytes(file, records[40].offsetBytes + RECORD_HEADER_SIZE_BYTES + 5, (b) => b ^ 0x04);
  await assert.rejects(Wal.open(dir, { preallocate: false }), (err) => err instanceof WalCorruptionError && err.offsetBytes === records[20].offsetBytes);
});

test('read and follow stop at the transaction record of a damaged transaction, having yielded none of it', async (t) => {
  const { dir, file, records } = await logEndingInTransaction(t, 10);
  const wal = await Wal.open(dir, { preallocate: false });
  t.after(() => wal.close());
  changeFileBytes(file, records[40].offsetBytes + RECORD_HEADER_SIZE_BYTES + 5, (b) => b ^ 0x04);
  for (const [reader, iterable] of /** @type {const} */ ([
    ['read', wal.read()],
    ['lazy read', wal.read({ payloads: false })],
    ['follow', wal.follow({ signal: AbortSignal.timeout(5_000) })],
  ])) {
    const lsns = [];
    await assert.rejects(
      (async () => {
        for await (const r of iterable) lsns.push(r.lsn);
      })(),
      (err) => err instanceof WalCorruptionError && err.offsetBytes === records[20].offsetBytes,
      reader,
    );
    assert.deepEqual(
      lsns,
      Array.from({ length: 20 }, (_, i) => i + 1),
      `${reader} yields the records before the transaction only`,
    );
  }
});

test('truncateAfter refuses to cut inside a transaction and cuts at its edges', async (t) => {
  const dir = tempDir(t);
  const wal = await Wal.open(dir, SMALL);
  t.after(() => wal.close());
  await wal.append(payloadFor(1));
  const txn = await wal.appendTransaction(entries(3, 4));
  assert.deepEqual(txn, { firstLsn: 3, lastLsn: 6 });
  await wal.append(payloadFor(7));
  // Keeping the transaction record (2) or part of its records (3..5) would leave a partial transaction.
  for (const lsn of [2, 3, 4, 5]) {
    await assert.rejects(
      wal.truncateAfter(lsn),
      (err) => err instanceof WalInvalidArgumentError && err.argument === 'lsn' && /inside the transaction of LSNs 3\.\.6/.test(err.message),
      `truncateAfter(${lsn})`,
    );
  }
  assert.equal(wal.durableLsn, 7, 'a refused cut removed nothing');
  await wal.truncateAfter(6);
  assert.equal(wal.nextLsn, 7);
  assert.deepEqual(
    (await collect(wal.read())).map((r) => r.lsn),
    [1, 3, 4, 5, 6],
  );
  await wal.truncateAfter(1);
  assert.deepEqual(
    (await collect(wal.read())).map((r) => r.lsn),
    [1],
  );
  assert.equal(wal.nextLsn, 2);
});

test('bad transactions are typed errors and write nothing', async (t) => {
  const dir = tempDir(t);
  const wal = await Wal.open(dir, { ...SMALL, recordPayloadBytesMax: 4096 });
  t.after(() => wal.close());
  await wal.append(payloadFor(1));
  const invalid = (argument) => (err) => err instanceof WalInvalidArgumentError && err.argument === argument;
  await assert.rejects(wal.appendTransaction(/** @type {any} */ ('x')), invalid('entries'));
  await assert.rejects(wal.appendTransaction([]), invalid('entries'));
  await assert.rejects(wal.appendTransaction(/** @type {any} */ ([{ payload: payloadFor(1) }, null])), invalid('entries[1]'));
  await assert.rejects(wal.appendTransaction(/** @type {any} */ ([{ payload: 'text' }])), invalid('entries[0].payload'));
  await assert.rejects(wal.appendTransaction([{ payload: Buffer.alloc(4097) }]), (err) => err instanceof WalPayloadTooLargeError);
  await assert.rejects(wal.appendTransaction([{ payload: payloadFor(1), type: 0xffff0001 }]), invalid('type'));
  await assert.rejects(wal.appendTransaction([{ payload: payloadFor(1), tenant: -1 }]), invalid('tenant'));
  // Larger than one batch: 20 records of 4 KiB are 82 KiB of a 64 KiB batch.
  await assert.rejects(
    wal.appendTransaction(entries(2, 20, 4096)),
    (err) => invalid('entries')(err) && /above the 65536 one batch holds/.test(/** @type {Error} */ (err).message),
  );
  // The largest transaction that fits is accepted: 56 + n × (48 + 4096) bytes ≤ 65,536 gives 15.
  assert.deepEqual(await wal.appendTransaction(entries(3, 15, 4096)), { firstLsn: 3, lastLsn: 17 });
  assert.equal(wal.nextLsn, 18, 'the refused calls took no LSN');
});

test('time anchors never keep a batch-sized record or transaction out (one anchor per batch, skipped when it would not fit beside them)', async (t) => {
  const dir = tempDir(t);
  const wal = await Wal.open(dir, { ...SMALL, timeAnchorIntervalMs: 1 });
  t.after(() => wal.close());
  const largest = 64 * 1024 - RECORD_HEADER_SIZE_BYTES - 8;
  for (let i = 0; i < 20; i++) {
    await wal.append(Buffer.alloc(largest, i));
    await wal.appendTransaction(entries(0, 15, 4096));
    // Let the anchor interval pass between batches.
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const records = await collect(wal.read({ payloads: false }));
  assert.equal(records.length, 20 * 16);
  assertWholeTransactions(records);
});
