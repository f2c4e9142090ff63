// Regression tests for the durability defects of issue 7: each one lost, corrupted or stranded
// acknowledged records through ordinary use of the public API before it was fixed. Real files,
// both native backends where the defect is not backend-specific.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NativeIo, Wal, WalIoError } from '../dist/index.js';
import { SEGMENT_NAME_PATTERN } from './helpers/format.mjs';
import { hookedIo } from './helpers/hooked-io.mjs';
import { BACKENDS, nextRecord, payloadFor, tempDir } from './helpers/tmp.mjs';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

async function readAll(wal, options) {
  const out = [];
  for await (const rec of wal.read(options)) out.push(rec);
  return out;
}

/** Rejects when `promise` has not settled within `ms`: a hang fails the test instead of stalling it. */
function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function nativeIo(backend) {
  return NativeIo.create({ backend, syncMethod: 'linked-fdatasync', queueDepth: 64 });
}

for (const backend of BACKENDS) {
  test(`${backend}: truncateAfter fences appends made after it in the same tick`, async (t) => {
    const dir = tempDir(t);
    const wal = await Wal.open(dir, { backend });
    for (let i = 0; i < 10; i++) await wal.append(payloadFor(i));
    const cut = wal.truncateAfter(5);
    const x = wal.append(Buffer.from('x after the cut'));
    await cut;
    assert.equal(await x, 6, 'an append made after truncateAfter(5) gets LSN 6');
    const records = await readAll(wal);
    assert.deepEqual(
      records.map((r) => r.lsn),
      [1, 2, 3, 4, 5, 6],
    );
    assert.deepEqual(records[5].payload, Buffer.from('x after the cut'));
    await wal.close();
    const reopened = await Wal.open(dir, { backend });
    assert.deepEqual(
      (await readAll(reopened)).map((r) => r.payload.toString('hex')),
      records.map((r) => r.payload.toString('hex')),
    );
    await reopened.close();
  });

  test(`${backend}: truncateAfter queued behind a running truncateBefore still fences later appends`, async (t) => {
    const dir = tempDir(t);
    const options = { backend, segmentSizeBytes: 64 * 1024, batchBytesMax: 64 * 1024, preallocate: false };
    const wal = await Wal.open(dir, options);
    for (let i = 0; i < 1200; i++) await wal.append(payloadFor(i, 200));
    const sealedBefore = (await wal.stats()).segmentCount;
    assert.ok(sealedBefore > 3, `several segments to remove (${sealedBefore})`);
    const removal = wal.truncateBefore(600);
    const cut = wal.truncateAfter(1000);
    await nextTurn();
    const x = wal.append(Buffer.from('x a turn later'));
    await removal;
    await cut;
    assert.equal(await x, 1001, 'the append made after truncateAfter(1000) gets LSN 1001');
    const records = await readAll(wal, { fromLsn: 990 });
    assert.deepEqual(
      records.map((r) => r.lsn),
      Array.from({ length: 12 }, (_, i) => 990 + i),
    );
    assert.deepEqual(records[11].payload, Buffer.from('x a turn later'));
    await wal.close();
  });

  test(`${backend}: a queued append copies the caller's buffer, which may be reused at once`, async (t) => {
    for (const options of [{ batchBytesMax: 64 * 1024 }, { segmentSizeBytes: 1024 * 1024, batchBytesMax: 256 * 1024 }]) {
      const dir = tempDir(t);
      const wal = await Wal.open(dir, { backend, ...options });
      const reused = Buffer.alloc(20 * 1024);
      const appends = [];
      for (let i = 0; i < 200; i++) {
        reused.fill(i & 0xff);
        reused.writeUInt32LE(i, 0);
        appends.push(wal.append(reused));
      }
      reused.fill(0xee);
      const lsns = await Promise.all(appends);
      const byLsn = new Map((await readAll(wal)).map((r) => [r.lsn, r.payload]));
      lsns.forEach((lsn, i) => {
        const want = Buffer.alloc(20 * 1024, i & 0xff);
        want.writeUInt32LE(i, 0);
        assert.ok(byLsn.get(lsn).equals(want), `LSN ${lsn} holds the bytes of append ${i} (options ${JSON.stringify(options)})`);
      });
      await wal.close();
    }
  });

  test(`${backend}: close waits for a reader's read in flight, and closing again resolves`, async (t) => {
    const dir = tempDir(t);
    const mib = 1024 * 1024;
    const wal = await Wal.open(dir, { backend, batchBytesMax: 64 * mib, recordPayloadBytesMax: 40 * mib, segmentSizeBytes: 256 * mib, preallocate: false });
    // Records of 40 MiB: the reader reads the next one in one request of tens of milliseconds,
    // so close() certainly finds it in flight.
    for (let i = 0; i < 3; i++) await wal.append(payloadFor(i, 40 * mib));
    const reader = wal.read()[Symbol.asyncIterator]();
    assert.equal((await nextRecord(reader)).lsn, 1);
    const next = reader.next(); // submits the read of the next chunk before it returns
    const nextOutcome = next.then(
      (r) => r,
      (err) => err,
    );
    const closing = wal.close();
    await within(closing, 10_000, 'close');
    await within(wal.close(), 10_000, 'a second close');
    assert.equal((await nextOutcome).code, 'WAL_ERR_CLOSED', 'the reader stops with WAL_ERR_CLOSED');
  });

  test(`${backend}: a read cut short during recovery is read again, never taken as the end`, async (t) => {
    const dir = tempDir(t);
    let wal = await Wal.open(dir, { backend });
    const payloads = Array.from({ length: 100 }, (_, i) => payloadFor(i, 200));
    await wal.appendBatch(payloads);
    await wal.close();
    let shortened = 0;
    const io = hookedIo(nativeIo(backend), {
      read: ({ fileOffsetBytes, lengthBytes, readOnly }) => {
        // The first read of the records, as recovery's scan makes it: one block instead of all.
        if (!readOnly && shortened === 0 && fileOffsetBytes === 4096 && lengthBytes > 4096) {
          shortened += 1;
          return { shortBytes: 4096 };
        }
        return undefined;
      },
    });
    wal = await Wal.open(dir, { io });
    assert.equal(shortened, 1, 'the short read happened');
    assert.equal(wal.recovery.tornTail, null, 'nothing was taken for a torn tail');
    assert.equal(wal.nextLsn, 101);
    await wal.close();
    await io.close();
    wal = await Wal.open(dir, { backend });
    const records = await readAll(wal);
    assert.equal(records.length, 100, 'every acknowledged record survives');
    records.forEach((r, i) => assert.deepEqual(r.payload, payloads[i]));
    await wal.close();
  });

  test(`${backend}: a failed directory fsync in truncateBefore leaves the log usable`, async (t) => {
    const dir = tempDir(t);
    let failDirSync = false;
    const io = hookedIo(nativeIo(backend), {
      fsyncDir: () => {
        if (!failDirSync) return undefined;
        failDirSync = false;
        return new WalIoError('EIO', 'fsync', dir);
      },
    });
    const wal = await Wal.open(dir, { io, segmentSizeBytes: 64 * 1024, batchBytesMax: 64 * 1024, preallocate: false });
    for (let i = 0; i < 1000; i++) await wal.append(payloadFor(i, 200));
    failDirSync = true;
    await assert.rejects(wal.truncateBefore(500), { code: 'WAL_ERR_IO', errnoName: 'EIO', errno: -os.constants.errno.EIO });
    const first = wal.firstLsn;
    assert.ok(first > 1, 'the removed segment is no longer part of the log');
    // A call that removes nothing still makes the earlier unlink durable before it resolves (B2).
    const syncsBefore = io.stats.calls.filter((c) => c[0] === 'fsyncDir').length;
    assert.deepEqual(await wal.truncateBefore(1), { segmentsRemoved: 0, bytesRemoved: 0 });
    assert.equal(wal.firstLsn, first);
    assert.equal(io.stats.calls.filter((c) => c[0] === 'fsyncDir').length, syncsBefore + 1, 'the failed directory sync is made again');
    await wal.truncateBefore(1);
    assert.equal(io.stats.calls.filter((c) => c[0] === 'fsyncDir').length, syncsBefore + 1, 'and only once');
    await wal.truncateBefore(500);
    const records = await readAll(wal);
    assert.equal(records[0].lsn, wal.firstLsn);
    assert.equal(records[records.length - 1].lsn, 1000);
    assert.equal(await wal.append(Buffer.from('after')), 1001);
    await wal.close();
    await io.close();
  });
}

test('a read that fails at any step of truncateAfter settles the cut, queued appends, sync and close', async (t) => {
  // The old cut read the whole 64 MiB segment (about 66 reads) before the tail block of resume.
  for (let failAt = 1; failAt <= 100; failAt++) {
    const dir = tempDir(t);
    let readsLeft = -1;
    const io = hookedIo(nativeIo('io_uring'), {
      read: () => {
        if (readsLeft < 0) return undefined;
        readsLeft -= 1;
        return readsLeft === 0 ? { error: new WalIoError('EIO', 'read', dir) } : undefined;
      },
    });
    const wal = await Wal.open(dir, { io });
    for (let i = 0; i < 20; i++) await wal.append(payloadFor(i, 100));
    readsLeft = failAt;
    const cut = wal.truncateAfter(13);
    // A turn later the cut is running: these wait behind it until it resumes the writer.
    await nextTurn();
    const queued = wal.append(Buffer.from('queued behind the cut'));
    const synced = wal.sync();
    const outcomes = await within(Promise.allSettled([cut, queued, synced]), 10_000, `truncateAfter with read ${failAt} failing`);
    const hit = readsLeft <= 0;
    readsLeft = -1;
    await within(
      wal.close().catch(() => undefined),
      10_000,
      'close',
    );
    await io.close();
    if (!hit) {
      // The cut made fewer reads than failAt: every later position was covered by earlier rounds.
      assert.deepEqual(
        outcomes.map((o) => o.status),
        ['fulfilled', 'fulfilled', 'fulfilled'],
      );
      assert.equal(outcomes[1].value, 14);
      break;
    }
    for (const o of outcomes) if (o.status === 'rejected') assert.match(o.reason.code, /^WAL_ERR_(IO|DURABILITY_LOST)$/);
    const reopened = await Wal.open(dir);
    const lsns = (await readAll(reopened)).map((r) => r.lsn);
    // Either the cut happened (1..13, maybe the queued append as 14) or not (1..20).
    assert.ok(lsns.length === 20 || lsns.length === 13 || lsns.length === 14, `after a failed read ${failAt}: ${lsns.length} records`);
    await reopened.close();
  }
});

test('stats() after close() rejects with WAL_ERR_CLOSED', async (t) => {
  const wal = await Wal.open(tempDir(t));
  await wal.append(Buffer.from('a'));
  await wal.close();
  await assert.rejects(wal.stats(), { code: 'WAL_ERR_CLOSED' });
});

test('reopening a one-record log reads a bounded tail, not the whole preallocated segment', async (t) => {
  const dir = tempDir(t);
  let wal = await Wal.open(dir, { segmentSizeBytes: 256 * 1024 * 1024 });
  await wal.append(Buffer.from('one'));
  await wal.close();
  const io = hookedIo(nativeIo('io_uring'));
  wal = await Wal.open(dir, { io, segmentSizeBytes: 256 * 1024 * 1024 });
  const readBytes = io.stats.bytesRead;
  await wal.close();
  await io.close();
  // A 1 MiB scan chunk plus what the writes in flight at a crash can span (two default 4 MiB
  // batches), and headers.
  assert.ok(readBytes < 12 * 1024 * 1024, `open read ${readBytes} bytes of a 256 MiB segment`);
});

test('a segment cut by truncateAfter is never handed to onSegmentSealed twice with different bytes', async (t) => {
  const dir = tempDir(t);
  const sealed = [];
  const onSegmentSealed = (info) => {
    sealed.push({ ...info, bytes: fs.readFileSync(info.path) });
  };
  const options = { segmentSizeBytes: 64 * 1024, batchBytesMax: 64 * 1024, preallocate: false, onSegmentSealed };
  const wal = await Wal.open(dir, options);
  for (let i = 0; i < 900; i++) await wal.append(payloadFor(i, 200));
  assert.ok(sealed.length >= 2, 'two sealed segments');
  const first = sealed[0];
  const cutLsn = Math.floor((first.firstLsn + first.lastLsn) / 2);
  await wal.truncateAfter(cutLsn);
  assert.equal(fs.existsSync(first.path), false, 'the sealed file cut into was replaced, not rewritten');
  for (let i = 0; i < 900; i++) await wal.append(Buffer.alloc(300, i & 0xff));
  const byPath = new Map();
  for (const s of sealed) {
    assert.ok(Number.isInteger(s.segmentId) && s.segmentId > 0, 'the hook says which segment it is');
    const earlier = byPath.get(s.path);
    if (earlier !== undefined) assert.ok(earlier.bytes.equals(s.bytes), `${path.basename(s.path)} was sealed twice with different bytes`);
    byPath.set(s.path, s);
    if (fs.existsSync(s.path)) assert.ok(fs.readFileSync(s.path).equals(s.bytes), `${path.basename(s.path)} changed after it was sealed`);
  }
  const records = await readAll(wal);
  assert.equal(records.length, cutLsn + 900);
  records.forEach((r, i) => assert.equal(r.lsn, i + 1));
  await wal.close();
});

test('a double-write copy made before a cut never lands on the records written after it', async (t) => {
  // The sequence: DWB on for A1 A2 A3, off for the cut and B2 B3, on again.
  const dir = tempDir(t);
  const a = [Buffer.alloc(300, 0xa1), Buffer.alloc(300, 0xa2), Buffer.alloc(300, 0xa3)];
  const b = [Buffer.alloc(300, 0xb2), Buffer.alloc(300, 0xb3)];
  let wal = await Wal.open(dir, { doubleWriteBuffer: 'buffered' });
  for (const p of a) await wal.append(p);
  await wal.close();
  wal = await Wal.open(dir, { doubleWriteBuffer: 'off' });
  await wal.truncateAfter(1);
  for (const p of b) await wal.append(p);
  await wal.close();
  wal = await Wal.open(dir, { doubleWriteBuffer: 'buffered' });
  assert.deepEqual(
    (await readAll(wal)).map((r) => r.payload),
    [a[0], ...b],
  );
  await wal.close();
});

test('rwf-dsync is used only where the file system is known to honour it; elsewhere the log reports linked-fdatasync', async (t) => {
  const ext4 = (await fs.promises.statfs(os.tmpdir())).type === 0xef53;
  if (ext4) {
    const wal = await Wal.open(tempDir(t), { syncMethod: 'rwf-dsync' });
    assert.equal(wal.syncMethod, 'rwf-dsync', 'ext4 honours RWF_DSYNC');
    await wal.close();
  }
  const shm = '/dev/shm';
  if (!fs.existsSync(shm) || (await fs.promises.statfs(shm)).type !== 0x01021994) {
    t.skip(`${shm} is not a tmpfs here`);
    return;
  }
  const wal = await Wal.open(tempDir(t, `${shm}/ringwal-`), { syncMethod: 'rwf-dsync' });
  assert.equal(wal.syncMethod, 'linked-fdatasync', 'a file system outside the list falls back');
  assert.equal((await wal.stats()).syncMethod, 'linked-fdatasync');
  assert.equal(await wal.append(Buffer.from('durable anyway')), 1);
  await wal.close();
});

test('open fsyncs every ancestor of the log directory, and the directory after creating the DWB file', async (t) => {
  const base = tempDir(t);
  const dir = path.join(base, 'a', 'b', 'c');
  const io = hookedIo(nativeIo('io_uring'));
  const wal = await Wal.open(dir, { io, doubleWriteBuffer: 'buffered' });
  await wal.close();
  await io.close();
  const calls = io.stats.calls;
  const synced = calls.filter((c) => c[0] === 'fsyncDir').map((c) => c[1]);
  for (const ancestor of [path.join(base, 'a', 'b'), path.join(base, 'a'), base, path.dirname(base), '/']) {
    assert.ok(synced.includes(ancestor), `${ancestor} was fsynced: ${synced.join(', ')}`);
  }
  const created = calls.findIndex((c) => c[0] === 'openFile' && c[1] === path.join(dir, 'ringwal.dwb'));
  assert.ok(created >= 0);
  assert.ok(
    calls.slice(created).some((c) => c[0] === 'fsyncDir' && c[1] === dir),
    "the new DWB file's entry was made durable",
  );
});

test('recovery of a buffered log drops the cached pages before it reads them', async (t) => {
  const dir = tempDir(t);
  let wal = await Wal.open(dir, { directIo: 'off' });
  await wal.append(Buffer.from('buffered'));
  await wal.close();
  const io = hookedIo(nativeIo('io_uring'));
  wal = await Wal.open(dir, { io, directIo: 'off' });
  await wal.close();
  await io.close();
  const segment = io.stats.calls.filter((c) => c[1]?.endsWith('.seg'));
  const sync = segment.findIndex((c) => c[0] === 'datasync');
  const drop = segment.findIndex((c) => c[0] === 'dropCache');
  const read = segment.findIndex((c) => c[0] === 'read');
  assert.ok(sync >= 0 && sync < drop && drop < read, `datasync, then dropCache, then reads: ${segment.map((c) => c[0]).join(' ')}`);
});

/** Writes `bytes` into the log's only segment at `offsetBytes`, as a torn write would leave them. */
function tear(dir, offsetBytes, bytes) {
  const name = fs.readdirSync(dir).find((n) => SEGMENT_NAME_PATTERN.test(n));
  const fd = fs.openSync(path.join(dir, name), 'r+');
  fs.writeSync(fd, bytes, 0, bytes.length, offsetBytes);
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  return path.join(dir, name);
}

test('a torn tail is copied to a quarantine file before it is erased, and marked when it shares a block with records', async (t) => {
  // A record of 100 bytes ends inside the first data block; one of 4048 ends on its boundary.
  for (const [payloadBytes, shared] of /** @type {const} */ ([
    [100, true],
    [4048, false],
  ])) {
    const dir = tempDir(t);
    let wal = await Wal.open(dir);
    const payload = Buffer.alloc(payloadBytes, 0x33);
    await wal.append(payload);
    await wal.close();
    const endBytes = 4096 + Math.ceil((48 + payload.length) / 8) * 8;
    assert.equal(endBytes % 4096 !== 0, shared);
    const garbage = Buffer.alloc(300, 0xc7);
    const segPath = tear(dir, endBytes, garbage);
    wal = await Wal.open(dir);
    const torn = wal.recovery.tornTail;
    assert.equal(torn.offsetBytes, endBytes);
    assert.equal(torn.discardedBytes, garbage.length);
    assert.equal(torn.inSharedBlock, shared);
    assert.equal(torn.quarantinePath, `${segPath}.torn-${endBytes}`);
    assert.ok(fs.readFileSync(torn.quarantinePath).equals(garbage), 'the quarantine holds exactly the erased bytes');
    assert.deepEqual(
      (await readAll(wal)).map((r) => r.payload),
      [payload],
    );
    await wal.close();
    wal = await Wal.open(dir);
    assert.equal(wal.recovery.tornTail, null);
    await wal.close();
    assert.ok(fs.existsSync(torn.quarantinePath), 'ringwal never deletes a quarantine file');
  }
});

test('the DWB restores a torn tail block even when that block cannot be read, but not on one transient read error', async (t) => {
  for (const failedReads of [4, 1]) {
    const dir = tempDir(t);
    let wal = await Wal.open(dir, { doubleWriteBuffer: 'buffered' });
    const records = [Buffer.alloc(200, 0xa1), Buffer.alloc(200, 0xa2), Buffer.alloc(200, 0xa3)];
    for (const r of records) await wal.append(r);
    await wal.close();
    // A3's rewrite of the tail block tore and left garbage inside A1 (outside the device assumption).
    tear(dir, 4096 + 64, Buffer.alloc(128, 0x99));
    let readsLeft = failedReads;
    const io = hookedIo(nativeIo('io_uring'), {
      read: ({ fileOffsetBytes, lengthBytes, path: p }) => {
        if (readsLeft === 0 || !p.endsWith('.seg') || fileOffsetBytes !== 4096 || lengthBytes !== 4096) return undefined;
        readsLeft -= 1;
        return { error: new WalIoError('EIO', 'read', p) };
      },
    });
    wal = await Wal.open(dir, { io, doubleWriteBuffer: 'buffered' });
    assert.equal(readsLeft, 0);
    assert.equal(wal.recovery.restoredFromDoubleWrite, true);
    const expected = failedReads === 4 ? records.slice(0, 2) : records;
    assert.deepEqual(
      (await readAll(wal)).map((r) => r.payload),
      expected,
      `${failedReads} failed reads`,
    );
    await wal.close();
    await io.close();
  }
});
