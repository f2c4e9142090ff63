// A full disk, for real: a small ext4 file system on a loop device, filled up around the log.
// Lack of space for the next segment must fail only the appends that need it (WAL_ERR_NO_SPACE),
// never the log; truncateBefore must work to free space; an open on the full disk must succeed.
// Needs root, losetup and mkfs.ext4; skips with the reason where any is missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Wal } from '../dist/index.js';
import { payloadFor } from './helpers/tmp.mjs';

const MIB = 1024 * 1024;
const IMAGE_BYTES = 48 * MIB;
const SEGMENT_BYTES = 4 * MIB;
const RECORD_BYTES = 16 * 1024;

/** Mounts a fresh ext4 image; resolves to its mount point, or a reason to skip. */
function mountSmallExt4(t) {
  if (process.getuid?.() !== 0) return { skip: 'needs root to mount a loop device' };
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ringwal-nospace-'));
  const image = path.join(root, 'fs.img');
  const mountPoint = path.join(root, 'mnt');
  fs.mkdirSync(mountPoint);
  try {
    fs.writeFileSync(image, '');
    fs.truncateSync(image, IMAGE_BYTES);
    // -m 0: no blocks reserved for root, who runs this test, so "full" means full.
    execFileSync('mkfs.ext4', ['-q', '-F', '-m', '0', image], { stdio: 'pipe' });
    execFileSync('mount', ['-o', 'loop', image, mountPoint], { stdio: 'pipe' });
  } catch (err) {
    fs.rmSync(root, { recursive: true, force: true });
    return { skip: `cannot make a loop-mounted ext4 here: ${String(err.stderr ?? err.message).trim()}` };
  }
  t.after(() => {
    execFileSync('umount', [mountPoint], { stdio: 'pipe' });
    fs.rmSync(root, { recursive: true, force: true });
  });
  return { mountPoint };
}

/** Writes a filler file until the file system refuses with ENOSPC. */
function fillDisk(mountPoint, name) {
  const fd = fs.openSync(path.join(mountPoint, name), 'a');
  const chunk = Buffer.alloc(64 * 1024, 0x66);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (err) {
    if (err.code !== 'ENOSPC') throw err;
  } finally {
    fs.fsyncSync(fd);
    fs.closeSync(fd);
  }
}

async function waitForPreparedSegment(dir) {
  const prepared = path.join(dir, 'wal-prepared.seg.tmp');
  for (let i = 0; i < 500; i++) {
    if (fs.existsSync(prepared) && fs.statSync(prepared).size === SEGMENT_BYTES) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('the next segment was never prepared');
}

async function readAll(wal) {
  const out = [];
  for await (const rec of wal.read()) out.push(rec);
  return out;
}

test('a full disk fails the appends that need a new segment with WAL_ERR_NO_SPACE, and the log goes on', async (t) => {
  const mounted = mountSmallExt4(t);
  if (mounted.skip !== undefined) {
    t.skip(mounted.skip);
    return;
  }
  const dir = path.join(mounted.mountPoint, 'wal');
  const options = { segmentSizeBytes: SEGMENT_BYTES, batchBytesMax: MIB };
  let wal = await Wal.open(dir, options);
  await waitForPreparedSegment(dir);
  fillDisk(mounted.mountPoint, 'filler');

  // Segment 1 fills, the prepared segment 2 takes over, segment 3 cannot be made.
  const acked = [];
  let refusal;
  for (let i = 0; refusal === undefined; i++) {
    try {
      acked.push(await wal.append(payloadFor(i, RECORD_BYTES)));
    } catch (err) {
      refusal = err;
    }
    assert.ok(i < (2 * SEGMENT_BYTES) / RECORD_BYTES + 10, 'the disk never ran out of space');
  }
  assert.equal(refusal.code, 'WAL_ERR_NO_SPACE', refusal.message);
  assert.equal(refusal.errnoName, 'ENOSPC');
  assert.equal(refusal.errno, -os.constants.errno.ENOSPC);
  assert.ok(acked.length > 1.5 * (SEGMENT_BYTES / RECORD_BYTES), `two segments' worth were acknowledged (${acked.length})`);
  assert.deepEqual(
    acked,
    acked.map((_, i) => i + 1),
  );
  // The log was not failed: the next append is refused the same way, sync and reads work.
  await assert.rejects(wal.append(Buffer.from('still no space')), { code: 'WAL_ERR_NO_SPACE' });
  await wal.sync();
  assert.equal((await readAll(wal)).length, acked.length);

  // Removing the first segment frees its space: appends go on, at the next LSN.
  assert.equal((await wal.stats()).segmentCount, 2);
  // Every record of the sealed first segment is below the last LSN; the active one is kept.
  const removed = await wal.truncateBefore(acked.at(-1));
  assert.equal(removed.segmentsRemoved, 1);
  const next = await wal.append(payloadFor(acked.length, RECORD_BYTES));
  assert.equal(next, acked.length + 1);
  acked.push(next);
  await wal.close();

  // An open on a full disk succeeds when the segments are intact.
  fillDisk(mounted.mountPoint, 'filler-2');
  wal = await Wal.open(dir, options);
  const records = await readAll(wal);
  assert.equal(records[records.length - 1].lsn, acked.at(-1));
  for (const r of records) assert.deepEqual(r.payload, payloadFor(r.lsn - 1, RECORD_BYTES));
  await wal.close();
});

test('without preallocation a write that finds the disk full fails the log, truncateBefore still frees space, and a reopen continues', async (t) => {
  const mounted = mountSmallExt4(t);
  if (mounted.skip !== undefined) {
    t.skip(mounted.skip);
    return;
  }
  const dir = path.join(mounted.mountPoint, 'wal');
  const options = { segmentSizeBytes: SEGMENT_BYTES, batchBytesMax: MIB, preallocate: false };
  let wal = await Wal.open(dir, options);
  // Two full segments first, then the disk fills up while the third grows.
  const perSegment = Math.floor((SEGMENT_BYTES - 4096) / (RECORD_BYTES + 48));
  const acked = [];
  for (let i = 0; i < 2 * perSegment + 5; i++) acked.push(await wal.append(payloadFor(i, RECORD_BYTES)));
  fillDisk(mounted.mountPoint, 'filler');
  let refusal;
  for (let i = acked.length; refusal === undefined; i++) {
    try {
      acked.push(await wal.append(payloadFor(i, RECORD_BYTES)));
    } catch (err) {
      refusal = err;
    }
    assert.ok(i < 4 * perSegment, 'the disk never ran out of space');
  }
  assert.ok(refusal.code === 'WAL_ERR_IO' || refusal.code === 'WAL_ERR_NO_SPACE', refusal.message);
  assert.equal(refusal.errnoName, 'ENOSPC');
  assert.equal(refusal.errno, -os.constants.errno.ENOSPC);
  if (refusal.code === 'WAL_ERR_IO') {
    await assert.rejects(wal.append(Buffer.from('x')), { code: 'WAL_ERR_DURABILITY_LOST' });
  }
  const removed = await wal.truncateBefore(perSegment + 1);
  assert.equal(removed.segmentsRemoved, 1, 'a log whose only failure is space still removes segments');
  await wal.close();
  wal = await Wal.open(dir, options);
  const records = await readAll(wal);
  assert.equal(records[0].lsn, wal.firstLsn);
  assert.ok(records[records.length - 1].lsn >= acked.at(-1), 'every acknowledged record survives');
  for (const r of records) assert.deepEqual(r.payload, payloadFor(r.lsn - 1, RECORD_BYTES));
  assert.equal(await wal.append(payloadFor(records.length + wal.firstLsn - 1, RECORD_BYTES)), records.at(-1).lsn + 1);
  await wal.close();
});
