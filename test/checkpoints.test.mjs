// Checkpoints (docs/format.md "Record types"): durable records of ringwal's own type; the last
// one is known at open from the last segment alone (a segment's header names the last checkpoint
// before it), across rollovers and reopen; truncateBefore keeps it when asked to
// keep its LSN and forgets it when it removes it; truncateAfter below it makes the one before it
// the last; read({ fromCheckpoint: true }) starts after it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fs from 'node:fs';
import { Wal, WalCorruptionError, WalInvalidArgumentError } from '../dist/index.js';
import path from 'node:path';
import { SEGMENT_HEADER_CHECKPOINT_LSN_AT, SEGMENT_NAME_PATTERN, resealSegmentHeader } from './helpers/format.mjs';
import { payloadFor, tempDir } from './helpers/tmp.mjs';

/** Small segments, so that a few hundred records roll over several times. */
const ROLLING = { segmentSizeBytes: 64 * 1024, batchBytesMax: 64 * 1024, preallocate: false };

async function lsnsOf(iterable) {
  const out = [];
  for await (const r of iterable) out.push(r.lsn);
  return out;
}

async function appendMany(wal, count, sizeBytes = 600) {
  const lsns = [];
  for (let i = 0; i < count; i++) lsns.push(await wal.append(payloadFor(i, sizeBytes)));
  return lsns;
}

test('the last checkpoint is known at open from the last segment, across rollovers, and read({ fromCheckpoint }) starts after it', async (t) => {
  const dir = tempDir(t);
  let wal = await Wal.open(dir, ROLLING);
  assert.equal(wal.lastCheckpoint(), null);
  assert.deepEqual(await lsnsOf(wal.read({ fromCheckpoint: true })), []);
  const before = await appendMany(wal, 50);
  const first = await wal.checkpoint(Buffer.from('state at 50'));
  assert.equal(first, 51);
  const middle = await appendMany(wal, 50);
  const second = await wal.checkpoint(Buffer.from('state at 100'));
  assert.deepEqual(wal.lastCheckpoint(), { lsn: second, payload: Buffer.from('state at 100') });
  // Enough records to roll over several times after the checkpoint: the last segment does not hold it.
  const after = await appendMany(wal, 400);
  const segmentsAfter = (await wal.stats()).segmentCount;
  assert.ok(segmentsAfter >= 4, `${segmentsAfter} segments`);
  // The last segment begins after the checkpoint: open must find it through that segment's header.
  const lastFirstLsn = Math.max(
    ...fs
      .readdirSync(dir)
      .map((name) => SEGMENT_NAME_PATTERN.exec(name))
      .filter((m) => m !== null)
      .map((m) => Number(m[1])),
  );
  assert.ok(lastFirstLsn > second + 1, `the last segment starts at ${lastFirstLsn}`);
  assert.deepEqual(await lsnsOf(wal.read({ fromCheckpoint: true })), after);
  // Checkpoints are never yielded as user records.
  assert.deepEqual(await lsnsOf(wal.read()), [...before, ...middle, ...after]);
  await wal.close();

  wal = await Wal.open(dir, ROLLING);
  t.after(() => wal.close());
  assert.deepEqual(wal.lastCheckpoint(), { lsn: second, payload: Buffer.from('state at 100') });
  assert.deepEqual(await lsnsOf(wal.read({ fromCheckpoint: true })), after);
  // The payload returned is a copy.
  wal.lastCheckpoint().payload.fill(0);
  assert.deepEqual(wal.lastCheckpoint().payload, Buffer.from('state at 100'));
  void first;
});

test('checkpoint then truncateBefore keeps it; removing it forgets it, in this process and after reopen', async (t) => {
  const dir = tempDir(t);
  let wal = await Wal.open(dir, ROLLING);
  await appendMany(wal, 200);
  const lsn = await wal.checkpoint(Buffer.from('snapshot 1'));
  await appendMany(wal, 200);
  // The README's flow: everything before the checkpoint may go.
  const removed = await wal.truncateBefore(lsn);
  assert.ok(removed.segmentsRemoved >= 1);
  assert.equal(wal.lastCheckpoint()?.lsn, lsn);
  await wal.close();
  wal = await Wal.open(dir, ROLLING);
  assert.equal(wal.lastCheckpoint()?.lsn, lsn);
  // Removing the checkpoint's segment too forgets it.
  await appendMany(wal, 200);
  await wal.truncateBefore(wal.durableLsn);
  assert.ok(wal.firstLsn > lsn);
  assert.equal(wal.lastCheckpoint(), null);
  await wal.close();
  wal = await Wal.open(dir, ROLLING);
  t.after(() => wal.close());
  assert.equal(wal.lastCheckpoint(), null);
});

test('truncateAfter below the last checkpoint makes the one before it the last, in this process and after reopen', async (t) => {
  const dir = tempDir(t);
  let wal = await Wal.open(dir, ROLLING);
  await appendMany(wal, 30);
  const older = await wal.checkpoint(Buffer.from('older'));
  await appendMany(wal, 150);
  const newer = await wal.checkpoint(Buffer.from('newer'));
  await appendMany(wal, 150);
  await wal.truncateAfter(newer - 1);
  assert.deepEqual(wal.lastCheckpoint(), { lsn: older, payload: Buffer.from('older') });
  // The next rollover carries the older one: it is still found after reopen from a later segment.
  await appendMany(wal, 300);
  await wal.close();
  wal = await Wal.open(dir, ROLLING);
  assert.deepEqual(wal.lastCheckpoint(), { lsn: older, payload: Buffer.from('older') });
  await wal.truncateAfter(older - 1);
  assert.equal(wal.lastCheckpoint(), null);
  await wal.close();
  wal = await Wal.open(dir, ROLLING);
  t.after(() => wal.close());
  assert.equal(wal.lastCheckpoint(), null);
});

test('bad checkpoint arguments are typed errors', async (t) => {
  const wal = await Wal.open(tempDir(t), ROLLING);
  t.after(() => wal.close());
  await assert.rejects(wal.checkpoint(/** @type {any} */ ('state')), WalInvalidArgumentError);
  assert.throws(
    () => wal.read({ fromCheckpoint: true, fromLsn: 3 }),
    (err) => err instanceof WalInvalidArgumentError && err.argument === 'fromCheckpoint',
  );
  assert.throws(
    () => wal.read(/** @type {any} */ ({ fromCheckpoint: 'yes' })),
    (err) => err instanceof WalInvalidArgumentError && err.argument === 'fromCheckpoint',
  );
});

test('a segment header that names a checkpoint at an LSN holding another record is WAL_ERR_CORRUPT at open, not a lost checkpoint', async (t) => {
  const dir = tempDir(t);
  const wal = await Wal.open(dir, ROLLING);
  const checkpointLsn = await wal.checkpoint(Buffer.from('state'));
  await appendMany(wal, 200);
  await wal.close();
  const last = fs
    .readdirSync(dir)
    .filter((name) => SEGMENT_NAME_PATTERN.test(name))
    .sort()
    .pop();
  const file = path.join(dir, /** @type {string} */ (last));
  const bytes = fs.readFileSync(file);
  assert.equal(Number(bytes.readBigUInt64LE(SEGMENT_HEADER_CHECKPOINT_LSN_AT)), checkpointLsn, 'the last segment names the checkpoint');
  // A user record's LSN, with the header's CRC made right again: only the field's meaning is wrong.
  bytes.writeBigUInt64LE(BigInt(checkpointLsn + 1), SEGMENT_HEADER_CHECKPOINT_LSN_AT);
  resealSegmentHeader(bytes);
  fs.writeFileSync(file, bytes);
  await assert.rejects(Wal.open(dir, ROLLING), (err) => err instanceof WalCorruptionError && /names a checkpoint at LSN/.test(err.message));
});
