/**
 * Pipelined group commit on real files: several batches in flight, completing in an order the
 * test decides (test/helpers/hooked-io.mjs holds a write's completion back, or reports a failure
 * once the real write is done), acknowledgements strictly in LSN order, a failure of any batch in
 * flight failing every batch not yet resolved, and recovery of files written with batches in
 * flight together: a torn earlier batch with a whole later one is a torn tail, damage that a
 * later batch proves acknowledged is a hole.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { NativeIo, Wal, WalDurabilityLostError, WalIoError } from '../dist/index.js';
import { hookedIo } from './helpers/hooked-io.mjs';
import { walkSegment } from './helpers/format.mjs';
import { BACKENDS, payloadFor, tempDir } from './helpers/tmp.mjs';

const SEGMENT_NAME = 'wal-00000000000000000001-0000000001.seg';
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** @returns {{ promise: Promise<void>, resolve: () => void }} */
function deferred() {
  /** @type {() => void} */
  let resolve = () => undefined;
  const promise = new Promise((r) => (resolve = () => r(undefined)));
  return { promise, resolve };
}

/** A durable write into the record area of the first segment: a batch (headers are at offset 0). */
const isBatchWrite = (info) => info.durable && info.path.endsWith(SEGMENT_NAME) && info.fileOffsetBytes > 0;

/** Pipelined: two batches in flight (the default is one). */
async function openHooked(t, backend, hooks, options = { batchesInFlightMax: 2 }) {
  const io = hookedIo(NativeIo.create({ backend, syncMethod: 'linked-fdatasync', queueDepth: 64 }), hooks);
  const dir = tempDir(t);
  const wal = await Wal.open(dir, { io, ...options });
  t.after(() => io.close());
  return { dir, io, wal };
}

async function readLsns(dir) {
  const wal = await Wal.open(dir);
  const out = [];
  for await (const rec of wal.read()) {
    assert.deepEqual(rec.payload, payloadFor(rec.lsn), `payload of LSN ${rec.lsn}`);
    out.push(rec.lsn);
  }
  await wal.close();
  return out;
}

/** `count` appends made in one turn: one batch. Each remembers how it settled, in settlement order. */
function appendTurn(wal, firstIndex, count, settled) {
  return Array.from({ length: count }, (_, i) =>
    wal.append(payloadFor(firstIndex + i)).then(
      (lsn) => settled.push({ index: firstIndex + i, lsn }),
      (error) => settled.push({ index: firstIndex + i, error }),
    ),
  );
}

for (const backend of BACKENDS) {
  test(`${backend}: thousands of concurrent appends resolve in LSN order while batches complete out of order`, async (t) => {
    // Every even-numbered batch write completes only after the next one has (or after 50 ms, for
    // the last): a batch submitted behind another in flight completes first.
    let batchWrites = 0;
    const reported = [];
    const done = new Map();
    const doneOf = (n) => {
      if (!done.has(n)) done.set(n, deferred());
      return done.get(n);
    };
    const { dir, wal } = await openHooked(t, backend, {
      write: (info) => {
        if (!isBatchWrite(info)) return undefined;
        const n = batchWrites++;
        const hold = n % 2 === 0 ? Promise.race([doneOf(n + 1).promise, delay(50)]) : Promise.resolve();
        return {
          hold: hold.then(() => {
            reported.push(n);
            doneOf(n).resolve();
          }),
        };
      },
    });
    const settled = [];
    const all = [];
    const TURNS = 40;
    const PER_TURN = 100;
    for (let turn = 0; turn < TURNS; turn++) {
      all.push(...appendTurn(wal, turn * PER_TURN + 1, PER_TURN, settled));
      await nextTurn();
    }
    await Promise.all(all);
    assert.equal(settled.length, TURNS * PER_TURN);
    settled.forEach((s, i) => {
      assert.equal(s.error, undefined, `append ${s.index} failed: ${s.error}`);
      assert.equal(s.lsn, s.index, 'each append gets the LSN of its call');
      assert.equal(s.index, i + 1, 'appends resolve in LSN order');
    });
    const outOfOrder = reported.some((n, i) => i > 0 && n < reported[i - 1]);
    assert.ok(outOfOrder, `some batch completed before one submitted ahead of it (completion order ${reported.slice(0, 20)})`);
    const stats = await wal.stats();
    assert.equal(stats.batchesInFlightPeak, 2, 'two batches in flight, never more');
    assert.ok(stats.pipelinedBatches > 0, 'batches were submitted behind others in flight');
    assert.ok(stats.gapBytes > 0 && stats.gapBytes < stats.pipelinedBatches * 4096, `each pipelined batch skips less than a block (${stats.gapBytes})`);
    await wal.close();
    assert.deepEqual(
      await readLsns(dir),
      Array.from({ length: TURNS * PER_TURN }, (_, i) => i + 1),
      'read back across the gaps',
    );
  });

  /**
   * Three batches: A (10 appends), B (10 appends, the next turn, in flight with A), C (10 more,
   * waiting for a slot). `plan(n, info, ctl)` decides the n-th batch write after the first five
   * acknowledged records.
   */
  async function failureCase(t, plan) {
    let armed = false;
    let n = 0;
    const ctl = { bSettled: deferred(), aSettled: deferred(), bWritten: deferred() };
    const { dir, wal } = await openHooked(t, backend, {
      write: (info) => (armed && isBatchWrite(info) ? plan(n++, info, ctl) : undefined),
      writeCompleted: (info) => {
        if (armed && isBatchWrite(info) && n >= 2) ctl.bWritten.resolve();
      },
    });
    for (let i = 1; i <= 5; i++) assert.equal(await wal.append(payloadFor(i)), i);
    armed = true;
    const settled = [];
    const a = appendTurn(wal, 6, 10, settled);
    await nextTurn();
    const b = appendTurn(wal, 16, 10, settled);
    await nextTurn();
    const c = appendTurn(wal, 26, 10, settled);
    void Promise.all(a).then(() => ctl.aSettled.resolve());
    void Promise.all(b).then(() => ctl.bSettled.resolve());
    await Promise.all([...a, ...b, ...c]);
    return { dir, wal, settled };
  }

  const ioError = (info) => new WalIoError('EIO', 'fdatasync', info.path);

  test(`${backend}: a later batch failing while an earlier one is in flight rejects both and everything after`, async (t) => {
    let failure = null;
    const { dir, wal, settled } = await failureCase(t, (n, info, ctl) => {
      // A completes only after B's failure was delivered; B fails.
      if (n === 0) return { hold: ctl.bSettled.promise };
      if (n === 1) return { error: (failure = ioError(info)) };
      return undefined;
    });
    assert.ok(failure !== null, 'B was written');
    for (const s of settled) {
      assert.equal(s.lsn, undefined, `append ${s.index} resolved after a failure was seen`);
      if (s.index >= 16 && s.index < 26) assert.equal(s.error, failure, `B's append ${s.index} rejects with its own error`);
      else {
        assert.ok(s.error instanceof WalDurabilityLostError, `append ${s.index}: ${s.error}`);
        assert.equal(s.error.cause, failure);
      }
    }
    assert.equal(wal.durableLsn, 5, 'durableLsn never moves past a failure');
    await assert.rejects(wal.append(payloadFor(36)), { code: 'WAL_ERR_DURABILITY_LOST' });
    await wal.close();
    const lsns = await readLsns(dir);
    assert.deepEqual(
      lsns,
      Array.from({ length: lsns.length }, (_, i) => i + 1),
      'a prefix',
    );
    assert.ok(lsns.length >= 5, 'the acknowledged records survive');
  });

  test(`${backend}: an earlier batch failing while a later one is in flight rejects both and everything after`, async (t) => {
    let failure = null;
    const { wal, settled } = await failureCase(t, (n, info, ctl) => {
      // A fails once B's real write is done, and B completes only after A's failure was delivered.
      if (n === 0) return { hold: ctl.bWritten.promise, error: (failure = ioError(info)) };
      if (n === 1) return { hold: ctl.aSettled.promise };
      return undefined;
    });
    for (const s of settled) {
      assert.equal(s.lsn, undefined, `append ${s.index} resolved after a failure was seen`);
      if (s.index < 16) assert.equal(s.error, failure, `A's append ${s.index} rejects with its own error`);
      else assert.ok(s.error instanceof WalDurabilityLostError, `append ${s.index}: ${s.error}`);
    }
    assert.equal(wal.durableLsn, 5);
    await wal.close();
  });

  test(`${backend}: an earlier batch that completed before a later one failed stays acknowledged`, async (t) => {
    let failure = null;
    const { dir, wal, settled } = await failureCase(t, (n, info, ctl) => {
      // A completes normally; B fails only once A has resolved.
      if (n === 1) return { hold: ctl.aSettled.promise, error: (failure = ioError(info)) };
      return undefined;
    });
    const order = settled.map((s) => s.index);
    assert.deepEqual(
      order.slice(0, 10),
      Array.from({ length: 10 }, (_, i) => 6 + i),
      "A's appends settle first",
    );
    for (const s of settled) {
      if (s.index < 16) assert.equal(s.lsn, s.index, `A's append ${s.index} resolves`);
      else if (s.index < 26) assert.equal(s.error, failure);
      else assert.ok(s.error instanceof WalDurabilityLostError);
    }
    assert.equal(wal.durableLsn, 15);
    await wal.close();
    const lsns = await readLsns(dir);
    assert.ok(lsns.length >= 15, `acknowledged A survives (${lsns.length} records)`);
    assert.deepEqual(
      lsns,
      Array.from({ length: lsns.length }, (_, i) => i + 1),
      'a prefix',
    );
  });
}

/**
 * A log whose last two batches were in flight together: 20 records one at a time, then A (LSNs
 * 21..50) and, a turn later, B (51..80), submitted while A was in flight (A's completion is held
 * until B is submitted, so this does not depend on timing). With `thenIdle`, the log is reopened
 * and C (LSN 81) is appended once everything is durable: C proves A and B acknowledged.
 */
async function pipelinedLog(t, thenIdle) {
  let hold = null;
  let submitted = 0;
  const { dir, wal } = await openHooked(t, 'io_uring', {
    write: (info) => {
      if (hold === null || !isBatchWrite(info)) return undefined;
      submitted += 1;
      if (submitted === 1) return { hold: hold.promise };
      hold.resolve();
      return undefined;
    },
  });
  for (let i = 1; i <= 20; i++) await wal.append(payloadFor(i, 300));
  hold = deferred();
  const a = Array.from({ length: 30 }, (_, i) => wal.append(payloadFor(21 + i, 300)));
  await nextTurn();
  const b = Array.from({ length: 30 }, (_, i) => wal.append(payloadFor(51 + i, 300)));
  assert.deepEqual(
    await Promise.all([...a, ...b]),
    Array.from({ length: 60 }, (_, i) => 21 + i),
  );
  await wal.close();
  if (thenIdle) {
    const again = await Wal.open(dir);
    assert.equal(await again.append(payloadFor(81, 300)), 81);
    await again.close();
  }
  const segPath = path.join(dir, SEGMENT_NAME);
  const bytes = fs.readFileSync(segPath);
  const walk = walkSegment(bytes);
  const at = (lsn) => walk.records.find((r) => r.lsn === lsn);
  assert.equal(walk.records.length, thenIdle ? 81 : 80);
  // B started on a fresh block, after zeros, numbered behind A's 30 records in flight.
  assert.equal(at(51).offsetBytes % walk.blockSizeBytes, 0, 'B starts on a block boundary');
  assert.ok(at(51).offsetBytes > at(50).offsetBytes + at(50).spanBytes, 'zeros before B');
  assert.equal(at(51).pendingIndex, 30, "B's durable LSN at submission is 20");
  assert.equal(at(21).pendingIndex, 0, 'A went to an idle log');
  if (thenIdle) assert.equal(at(81).pendingIndex, 0, 'C went to an idle log');
  return { segPath, bytes, walk, at };
}

function placeDamaged(t, bytes, offsetBytes) {
  const dir = tempDir(t);
  const damaged = Buffer.from(bytes);
  damaged[offsetBytes] ^= 0x40;
  const segPath = path.join(dir, SEGMENT_NAME);
  fs.writeFileSync(segPath, damaged);
  return { dir, segPath, damaged };
}

async function openAndRead(dir) {
  const wal = await Wal.open(dir);
  const lsns = [];
  for await (const rec of wal.read()) {
    assert.deepEqual(rec.payload, payloadFor(rec.lsn, 300));
    lsns.push(rec.lsn);
  }
  const recovery = wal.recovery;
  const next = await wal.append(payloadFor(lsns.length + 1, 300));
  await wal.close();
  return { lsns, recovery, next };
}

test('an earlier batch torn while a later batch in flight with it is whole: a torn tail, both cut', async (t) => {
  const { bytes, at } = await pipelinedLog(t, false);
  const { dir, segPath } = placeDamaged(t, bytes, at(35).offsetBytes + 60);
  const { lsns, recovery, next } = await openAndRead(dir);
  assert.deepEqual(
    lsns,
    Array.from({ length: 34 }, (_, i) => i + 1),
    'every record before the damage, none after',
  );
  assert.equal(recovery.tornTail?.offsetBytes, at(35).offsetBytes);
  assert.ok(recovery.tornTail.discardedBytes > at(80).offsetBytes - at(35).offsetBytes, "B's records are erased too");
  assert.equal(next, 35, 'the LSNs of the cut records are given again');
  assert.equal(walkSegment(fs.readFileSync(segPath)).records.length, 35);
});

test('a later batch torn after an earlier whole one: a torn tail at the later batch', async (t) => {
  const { bytes, at } = await pipelinedLog(t, false);
  const { dir } = placeDamaged(t, bytes, at(60).offsetBytes + 60);
  const { lsns, recovery } = await openAndRead(dir);
  assert.deepEqual(
    lsns,
    Array.from({ length: 59 }, (_, i) => i + 1),
  );
  assert.equal(recovery.tornTail?.offsetBytes, at(60).offsetBytes);
});

test('damage to batches in flight together, once a later batch proves them acknowledged: a hole, nothing changed', async (t) => {
  const { bytes, at } = await pipelinedLog(t, true);
  for (const lsn of [35, 51, 60]) {
    const { dir, segPath, damaged } = placeDamaged(t, bytes, at(lsn).offsetBytes + 60);
    await assert.rejects(Wal.open(dir), (/** @type {any} */ err) => {
      assert.equal(err.code, 'WAL_ERR_CORRUPT', `LSN ${lsn}: ${err.message}`);
      assert.equal(err.path, segPath);
      assert.equal(err.lsn, lsn, `the hole is at LSN ${lsn}`);
      return true;
    });
    assert.ok(fs.readFileSync(segPath).equals(damaged), `LSN ${lsn}: a refused open changed nothing`);
  }
});

test('batchesInFlightMax is checked: an integer in [1, 8]', async (t) => {
  for (const bad of [0, 9, 1.5, '2', null]) {
    await assert.rejects(Wal.open(tempDir(t), { batchesInFlightMax: /** @type {any} */ (bad) }), { code: 'WAL_ERR_INVALID_ARGUMENT' }, String(bad));
  }
  const wal = await Wal.open(tempDir(t), { batchesInFlightMax: 1 });
  const lsns = await Promise.all(Array.from({ length: 500 }, (_, i) => wal.append(payloadFor(i + 1))));
  assert.deepEqual(
    lsns,
    Array.from({ length: 500 }, (_, i) => i + 1),
  );
  const stats = await wal.stats();
  assert.equal(stats.batchesInFlightPeak, 1);
  assert.equal(stats.pipelinedBatches, 0);
  await wal.close();
});
