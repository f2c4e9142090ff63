// Live reads (wal.follow, src/writer/follow.ts): records appended after the follower started, in
// LSN order, across rollovers, with filters; ends on abort and on close; stops with
// WAL_ERR_READ_INVALIDATED when a truncateAfter cuts below its position or a truncateBefore
// removes what it has not read. Real files and the real backends.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Wal, WalClosedError, WalInvalidArgumentError, WalReadInvalidatedError } from '../dist/index.js';
import { BACKENDS, payloadFor, tempDir } from './helpers/tmp.mjs';

/** Small segments, so that a few hundred records roll over several times. */
const ROLLING = { segmentSizeBytes: 64 * 1024, batchBytesMax: 64 * 1024, preallocate: false };

/**
 * Consumes `iterable` into `out` until it ends, calling `onRecord` on each record.
 * @param {AsyncIterable<any>} iterable
 * @param {any[]} out
 * @param {(rec: any) => unknown} [onRecord]
 */
async function drain(iterable, out, onRecord = () => undefined) {
  for await (const rec of iterable) {
    out.push(rec);
    await onRecord(rec);
  }
}

/** Resolves once `predicate()` holds, polling the event loop; fails after `ms`. */
async function until(predicate, what, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

for (const backend of BACKENDS) {
  test(`${backend}: a follower sees records appended after it started, in order, across rollovers, and ends on abort`, async (t) => {
    const wal = await Wal.open(tempDir(t), { ...ROLLING, backend });
    t.after(() => wal.close());
    for (let i = 1; i <= 20; i++) await wal.append(payloadFor(i, 600));
    const controller = new AbortController();
    const seen = [];
    const following = drain(wal.follow({ fromLsn: 5, signal: controller.signal }), seen);
    const RECORDS = 600;
    // Appends of every kind while the follower runs: awaited singles, bursts, batches.
    for (let i = 21; i <= RECORDS;) {
      if (i % 3 === 0) {
        const payloads = Array.from({ length: Math.min(9, RECORDS - i + 1) }, (_, k) => payloadFor(i + k, 600));
        await wal.appendBatch(payloads);
        i += payloads.length;
      } else {
        await Promise.all([wal.append(payloadFor(i, 600)), wal.append(payloadFor(i + 1, 600))].slice(0, RECORDS - i + 1));
        i += Math.min(2, RECORDS - i + 1);
      }
    }
    await until(() => seen.length === RECORDS - 4, `${RECORDS - 4} records`);
    assert.ok((await wal.stats()).segmentCount >= 5, 'the log rolled over several times');
    controller.abort();
    await following;
    assert.deepEqual(
      seen.map((r) => r.lsn),
      Array.from({ length: RECORDS - 4 }, (_, k) => k + 5),
    );
    for (const r of seen) assert.deepEqual(r.payload, payloadFor(r.lsn, 600));
  });
}

test('a follower yields each record only after its append resolved, and filters like read', async (t) => {
  const wal = await Wal.open(tempDir(t), ROLLING);
  t.after(() => wal.close());
  const resolved = new Set();
  const seen = [];
  const controller = new AbortController();
  const following = drain(wal.follow({ tenants: [1], payloads: false, signal: controller.signal }), seen, (h) => {
    assert.ok(resolved.has(h.lsn) || h.lsn <= wal.durableLsn, `LSN ${h.lsn} yielded before it was durable`);
  });
  for (let i = 1; i <= 300; i++) {
    const lsn = await wal.append(payloadFor(i), { tenant: i % 3 });
    resolved.add(lsn);
  }
  await until(() => seen.length === 100, '100 records of tenant 1');
  controller.abort();
  await following;
  assert.deepEqual(
    seen.map((h) => h.lsn),
    Array.from({ length: 100 }, (_, k) => 3 * k + 1),
  );
  for (const h of seen) {
    assert.equal(h.tenant, 1);
    assert.equal('payload' in h, false);
    assert.equal(h.payloadSizeBytes, payloadFor(h.lsn).byteLength);
  }
});

test('close ends a waiting follower cleanly; an aborted signal ends it at once; toLsn ends it', async (t) => {
  const wal = await Wal.open(tempDir(t), ROLLING);
  for (let i = 1; i <= 10; i++) await wal.append(payloadFor(i));
  const seen = [];
  const following = drain(wal.follow(), seen);
  await until(() => seen.length === 10, '10 records');
  const upTo = [];
  await drain(wal.follow({ fromLsn: 3, toLsn: 7 }), upTo);
  assert.deepEqual(
    upTo.map((r) => r.lsn),
    [3, 4, 5, 6, 7],
  );
  const aborted = [];
  await drain(wal.follow({ signal: AbortSignal.abort() }), aborted);
  assert.deepEqual(aborted, []);
  await wal.close();
  await following;
  assert.equal(seen.length, 10);
  assert.throws(
    () => wal.follow(),
    (err) => err instanceof WalClosedError,
  );
  void t;
});

test('truncateAfter below what a follower passed stops it; a cut above its position does not', async (t) => {
  const wal = await Wal.open(tempDir(t), ROLLING);
  t.after(() => wal.close());
  for (let i = 1; i <= 50; i++) await wal.append(payloadFor(i));
  const seen = [];
  const controller = new AbortController();
  const survivor = drain(wal.follow({ signal: controller.signal, toLsn: 20 }), []);
  const following = drain(wal.follow({ signal: controller.signal }), seen);
  await until(() => seen.length === 50, '50 records');
  // A cut at the follower's position keeps everything it passed: it goes on with the new records.
  await wal.truncateAfter(50);
  await wal.append(payloadFor(51));
  await until(() => seen.length === 51, 'record 51');
  await survivor;
  await wal.truncateAfter(30);
  await assert.rejects(following, (err) => err instanceof WalReadInvalidatedError && /truncateAfter\(30\)/.test(err.message));
  // A follower that had not passed the cut yet reads the log as the cut left it, then the new records.
  const late = [];
  const lateFollowing = drain(wal.follow({ fromLsn: 25, signal: controller.signal }), late);
  await wal.append(Buffer.from('after the cut'));
  await until(() => late.length === 7, 'LSNs 25 to 31');
  controller.abort();
  await lateFollowing;
  assert.deepEqual(
    late.map((r) => r.lsn),
    [25, 26, 27, 28, 29, 30, 31],
  );
  assert.deepEqual(late[6].payload, Buffer.from('after the cut'));
});

test('truncateBefore that removes records a follower has not read stops it', async (t) => {
  const wal = await Wal.open(tempDir(t), ROLLING);
  t.after(() => wal.close());
  const lsns = [];
  for (let i = 1; i <= 400; i++) lsns.push(await wal.append(payloadFor(i, 600)));
  assert.ok((await wal.stats()).segmentCount >= 3);
  // A consumer that stops after its first record holds the follower at LSN 2.
  const iterator = wal.follow()[Symbol.asyncIterator]();
  const first = await iterator.next();
  assert.equal(first.done, false);
  assert.equal(first.value?.lsn, 1);
  const removed = await wal.truncateBefore(300);
  assert.ok(removed.segmentsRemoved >= 1);
  await assert.rejects(
    (async () => {
      for (;;) if ((await iterator.next()).done) break;
    })(),
    WalReadInvalidatedError,
  );
});

test('bad follow options are typed errors', async (t) => {
  const wal = await Wal.open(tempDir(t), ROLLING);
  t.after(() => wal.close());
  for (const [options, argument] of [
    [{ signal: 'stop' }, 'signal'],
    [{ fromLsn: -1 }, 'fromLsn'],
    [{ types: [0xffff0001] }, 'types[0]'],
    [{ follow: true }, 'follow'],
  ]) {
    assert.throws(
      () => wal.follow(/** @type {any} */ (options)),
      (err) => err instanceof WalInvalidArgumentError && err.argument === argument,
    );
  }
});

test('a consumer that holds a round while the log writes more than the follower keeps in memory still gets every record, in order', async (t) => {
  const wal = await Wal.open(tempDir(t));
  t.after(() => wal.close());
  for (let i = 1; i <= 5; i++) await wal.append(payloadFor(i, 4096));
  const seen = [];
  const controller = new AbortController();
  /** @type {(value?: unknown) => void} */
  let release = () => {};
  const held = new Promise((resolve) => (release = resolve));
  // The follower catches up; then one batch of 400 records (1.6 MiB, more than one 1 MiB scan step)
  // becomes durable, and the consumer stops at its first record until 12 MiB more are durable:
  // the rest of that round's bytes in memory are overwritten by then.
  const following = drain(wal.follow({ signal: controller.signal }), seen, async (rec) => {
    if (rec.lsn === 6) await held;
  });
  await until(() => seen.length === 5, 'the first 5 records');
  await wal.appendBatch(Array.from({ length: 400 }, (_, k) => payloadFor(6 + k, 4096)));
  await until(() => seen.length === 6, 'LSN 6');
  const RECORDS = 3000;
  for (let i = 406; i <= RECORDS; i += 10) {
    await Promise.all(Array.from({ length: Math.min(10, RECORDS - i + 1) }, (_, k) => wal.append(payloadFor(i + k, 4096))));
  }
  release();
  await until(() => seen.length === RECORDS, `${RECORDS} records`);
  controller.abort();
  await following;
  assert.deepEqual(
    seen.map((r) => r.lsn),
    Array.from({ length: RECORDS }, (_, k) => k + 1),
  );
  for (const r of seen) assert.deepEqual(r.payload, payloadFor(r.lsn, 4096));
});
