// The iterator read() returns hands out a scan step's records from an array (no generator per
// record): it must still behave as an async generator does. Calls made without waiting settle in
// call order with consecutive records; return() ends it and releases its file (close() does not
// wait for it); an error ends it (later calls are done); a truncation between two records stops it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Wal, WalReadInvalidatedError } from '../dist/index.js';
import { payloadFor, tempDir } from './helpers/tmp.mjs';

const RECORDS = 3000;

/**
 * The record of one next() result (a test's own assertion decides whether it must be there).
 * @param {IteratorResult<import('../dist/index.js').WalRecord, void>} result
 */
function recordOf(result) {
  return /** @type {import('../dist/index.js').WalRecord} */ (result.value);
}

async function filledLog(t) {
  const wal = await Wal.open(tempDir(t), { preallocate: false });
  for (let i = 1; i <= RECORDS; i += 500) await wal.appendBatch(Array.from({ length: 500 }, (_, k) => payloadFor(i + k)));
  return wal;
}

test('next() calls made without waiting settle in order, with consecutive records, then done', async (t) => {
  const wal = await filledLog(t);
  t.after(() => wal.close());
  const reader = wal.read();
  const results = await Promise.all(Array.from({ length: RECORDS + 3 }, () => reader.next()));
  assert.deepEqual(
    results.slice(0, RECORDS).map((r) => recordOf(r)?.lsn),
    Array.from({ length: RECORDS }, (_, i) => i + 1),
  );
  for (const r of results.slice(0, RECORDS)) assert.deepEqual(recordOf(r).payload, payloadFor(recordOf(r).lsn));
  assert.deepEqual(
    results.slice(RECORDS).map((r) => r.done),
    [true, true, true],
  );
});

test('return() in the middle of a step ends the read and releases its file; close() then resolves', async (t) => {
  const wal = await filledLog(t);
  const reader = wal.read();
  for (let i = 1; i <= 10; i++) assert.equal(recordOf(await reader.next())?.lsn, i);
  assert.deepEqual(await reader.return(undefined), { value: undefined, done: true });
  assert.equal((await reader.next()).done, true, 'nothing after return()');
  // A break out of for await does the same.
  for await (const r of wal.read({ fromLsn: 100 })) if (r.lsn === 105) break;
  await wal.close();
});

test('throw() ends the read with that error; a truncation between two records stops it, and it stays done', async (t) => {
  const wal = await filledLog(t);
  t.after(() => wal.close());
  const thrown = wal.read();
  await thrown.next();
  const reason = new Error('the consumer gave up');
  await assert.rejects(thrown.throw(reason), (err) => err === reason);
  assert.equal((await thrown.next()).done, true);

  const reader = wal.read();
  assert.equal(recordOf(await reader.next())?.lsn, 1);
  await wal.truncateAfter(RECORDS - 1);
  await assert.rejects(reader.next(), (err) => err instanceof WalReadInvalidatedError);
  assert.equal((await reader.next()).done, true, 'a stopped reader is done');
});
