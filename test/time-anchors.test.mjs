// Time anchors (option timeAnchorIntervalMs; docs/format.md "Record types"): at most one per
// batch and at most every interval, never between the records of one appendBatch, never yielded
// as user records; timeAt and lsnAt answer from them across reopen, bounds that hold for every
// record appended at a known time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Wal, WalInvalidArgumentError } from '../dist/index.js';
import { payloadFor, tempDir } from './helpers/tmp.mjs';

const INTERVAL_MS = 20;

test('anchors bound the time of every record, across reopen; lsnAt returns an LSN after which every record is later', async (t) => {
  const dir = tempDir(t);
  let wal = await Wal.open(dir, { preallocate: false, timeAnchorIntervalMs: INTERVAL_MS });
  /** For each user record: the wall clock just before its append was called and once it resolved. */
  const written = [];
  for (let round = 0; round < 12; round++) {
    for (let k = 0; k < 5; k++) {
      const calledMs = Date.now();
      const lsn = await wal.append(payloadFor(round * 10 + k));
      written.push({ lsn, calledMs, resolvedMs: Date.now() });
    }
    const calledMs = Date.now();
    const batch = await wal.appendBatch(Array.from({ length: 20 }, (_, k) => payloadFor(k)));
    // An anchor never splits an appendBatch's consecutive LSNs.
    assert.equal(batch.lastLsn - batch.firstLsn, 19);
    for (let lsn = batch.firstLsn; lsn <= batch.lastLsn; lsn++) written.push({ lsn, calledMs, resolvedMs: Date.now() });
    await sleep(INTERVAL_MS + 5);
  }
  const users = [];
  for await (const rec of wal.read()) users.push(rec.lsn);
  assert.deepEqual(
    users,
    written.map((w) => w.lsn),
    'anchors are never yielded',
  );
  const anchorCount = wal.durableLsn - users.length;
  // One per pause at least (12 rounds), never more than one per batch.
  assert.ok(anchorCount >= 12 && anchorCount <= (await wal.stats()).batches, `${anchorCount} anchors`);
  for (const reopen of [false, true]) {
    if (reopen) {
      await wal.close();
      wal = await Wal.open(dir, { preallocate: false, timeAnchorIntervalMs: INTERVAL_MS });
    }
    let bounded = 0;
    for (const w of written) {
      const { notBeforeMs, notAfterMs } = await wal.timeAt(w.lsn);
      // A record is written between its call and its resolution: the bounds must allow that.
      if (notBeforeMs !== null) assert.ok(notBeforeMs <= w.resolvedMs, `LSN ${w.lsn}: not before ${notBeforeMs}, resolved at ${w.resolvedMs}`);
      if (notAfterMs !== null) assert.ok(notAfterMs >= w.calledMs, `LSN ${w.lsn}: not after ${notAfterMs}, called at ${w.calledMs}`);
      if (notBeforeMs !== null && notAfterMs !== null) bounded += 1;
    }
    assert.ok(bounded > written.length / 2, `${bounded} of ${written.length} records bounded on both sides`);
    // lsnAt: every record at or above the LSN it gives was called no earlier than... it was written
    // after the date, so it resolved after it.
    const middle = written[Math.floor(written.length / 2)];
    const from = await wal.lsnAt(new Date(middle.resolvedMs));
    assert.ok(from !== null);
    for (const w of written) if (w.lsn >= from) assert.ok(w.resolvedMs >= middle.resolvedMs, `LSN ${w.lsn} resolved before the date`);
    assert.equal(await wal.lsnAt(Date.now() + 60_000), null);
    assert.deepEqual(await wal.timeAt(1), { notBeforeMs: null, notAfterMs: (await wal.timeAt(1)).notAfterMs });
  }
  await wal.close();
});

test('with the option off there are no anchors; bad arguments are typed errors', async (t) => {
  const wal = await Wal.open(tempDir(t), { preallocate: false });
  t.after(() => wal.close());
  for (let i = 1; i <= 5; i++) assert.equal(await wal.append(payloadFor(i)), i);
  await sleep(5);
  assert.equal(await wal.append(payloadFor(6)), 6);
  assert.deepEqual(await wal.timeAt(3), { notBeforeMs: null, notAfterMs: null });
  assert.equal(await wal.lsnAt(0), null);
  await assert.rejects(wal.timeAt(0), (err) => err instanceof WalInvalidArgumentError && err.argument === 'lsn');
  await assert.rejects(wal.lsnAt(/** @type {any} */ ('yesterday')), (err) => err instanceof WalInvalidArgumentError && err.argument === 'date');
  await assert.rejects(
    Wal.open(tempDir(t), { timeAnchorIntervalMs: -1 }),
    (err) => err instanceof WalInvalidArgumentError && err.argument === 'timeAnchorIntervalMs',
  );
  await assert.rejects(Wal.open(tempDir(t), { timeAnchorIntervalMs: 24 * 3600 * 1000 + 1 }), WalInvalidArgumentError);
});
