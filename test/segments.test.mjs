// Segments on real files: rollover under load, sealing and the hook, truncation at both ends,
// continuity checks on open, the double-write buffer, and bad arguments.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Wal, WalCorruptionError } from '../dist/index.js';
import { nextRecord, payloadFor, tempDir } from './helpers/tmp.mjs';

const SMALL = { segmentSizeBytes: 128 * 1024, batchBytesMax: 64 * 1024 };

function segmentFiles(dir) {
  return fs
    .readdirSync(dir)
    .filter((n) => /^wal-\d{20}-\d{10}\.seg$/.test(n))
    .sort();
}

async function readAll(wal, options) {
  const out = [];
  for await (const rec of wal.read(options)) out.push(rec);
  return out;
}

test('rollover under concurrent load: every record in order across segments, hook per sealed segment', async (t) => {
  const dir = tempDir(t);
  const sealed = [];
  const wal = await Wal.open(dir, {
    ...SMALL,
    onSegmentSealed: (info) => {
      sealed.push(info);
    },
  });
  const producers = 32;
  const perProducer = 60;
  const byLsn = new Map();
  await Promise.all(
    Array.from({ length: producers }, async (_, p) => {
      for (let s = 0; s < perProducer; s++) {
        const id = p * perProducer + s;
        byLsn.set(await wal.append(payloadFor(id, 100 + (id % 900))), id);
      }
    }),
  );
  const total = producers * perProducer;
  const stats = await wal.stats();
  assert.ok(stats.segmentCount > 3, `expected several segments, got ${stats.segmentCount}`);
  assert.equal(sealed.length, stats.segmentCount - 1, 'the hook ran once per sealed segment');
  let expectFirst = 1;
  for (const info of sealed) {
    assert.equal(info.firstLsn, expectFirst, 'sealed segments are contiguous');
    assert.ok(info.lastLsn >= info.firstLsn);
    assert.ok(fs.existsSync(info.path));
    assert.equal(info.sizeBytes, fs.statSync(info.path).size);
    expectFirst = info.lastLsn + 1;
  }
  const records = await readAll(wal);
  assert.equal(records.length, total);
  records.forEach((r, i) => {
    assert.equal(r.lsn, i + 1);
    const id = byLsn.get(r.lsn);
    assert.deepEqual(r.payload, payloadFor(id, 100 + (id % 900)));
  });
  await wal.close();

  const reopened = await Wal.open(dir, SMALL);
  assert.equal(reopened.nextLsn, total + 1);
  assert.equal((await readAll(reopened)).length, total);
  assert.equal(await reopened.append(Buffer.from('next')), total + 1);
  await reopened.close();
  for (const name of segmentFiles(dir)) {
    const first = Number(name.slice(4, 24));
    assert.ok(first >= 1);
  }
});

test('preallocation off: segments grow as written and read back the same', async (t) => {
  const dir = tempDir(t);
  const wal = await Wal.open(dir, { ...SMALL, preallocate: false });
  await Promise.all(Array.from({ length: 1500 }, (_, i) => wal.append(payloadFor(i))));
  const stats = await wal.stats();
  assert.ok(stats.segmentCount > 1);
  assert.ok(stats.bytesOnDisk < stats.segmentCount * SMALL.segmentSizeBytes, 'no segment is preallocated');
  const records = await readAll(wal);
  records.forEach((r, i) => assert.deepEqual(r.payload, payloadFor(i)));
  await wal.close();
});

test('space amplification stays near 1 with one record per sync', async (t) => {
  const dir = tempDir(t);
  const wal = await Wal.open(dir, { ...SMALL, preallocate: false });
  for (let i = 0; i < 2000; i++) await wal.append(Buffer.alloc(128, i & 0xff));
  const stats = await wal.stats();
  assert.equal(stats.batches, 2000, 'one write per record');
  assert.equal(stats.recordBytes, 2000 * 176);
  assert.ok(stats.spaceAmplification <= 1.05, `space amplification ${stats.spaceAmplification}`);
  await wal.close();
});

test('truncateBefore removes whole sealed segments below the LSN, oldest first, never the active one', async (t) => {
  const dir = tempDir(t);
  const wal = await Wal.open(dir, SMALL);
  await Promise.all(Array.from({ length: 3000 }, (_, i) => wal.append(payloadFor(i))));
  const before = await wal.stats();
  const result = await wal.truncateBefore(1500);
  assert.ok(result.segmentsRemoved > 0);
  assert.ok(result.bytesRemoved > 0);
  assert.ok(wal.firstLsn <= 1500 && wal.firstLsn > 1, `firstLsn ${wal.firstLsn}`);
  const after = await wal.stats();
  assert.equal(after.segmentCount, before.segmentCount - result.segmentsRemoved);
  const records = await readAll(wal);
  assert.equal(records[0].lsn, wal.firstLsn, 'reading starts at the first retained LSN');
  assert.equal(records.at(-1).lsn, 3000);
  for (const r of records) assert.deepEqual(r.payload, payloadFor(r.lsn - 1));
  // Everything below the active segment: only it remains.
  await wal.truncateBefore(wal.nextLsn);
  assert.equal((await wal.stats()).segmentCount, 1);
  assert.equal(await wal.append(Buffer.from('x')), 3001);
  await wal.close();
  const reopened = await Wal.open(dir, SMALL);
  assert.equal(reopened.nextLsn, 3002, 'LSNs are never reused after a front truncation');
  assert.equal(reopened.firstLsn, segmentFiles(dir).map((n) => Number(n.slice(4, 24)))[0]);
  await reopened.close();
});

test('truncateAfter cuts inside the active segment, inside a sealed one, and down to an empty log', async (t) => {
  const dir = tempDir(t);
  let wal = await Wal.open(dir, SMALL);
  await Promise.all(Array.from({ length: 3000 }, (_, i) => wal.append(payloadFor(i))));

  await wal.truncateAfter(2990);
  assert.equal(wal.durableLsn, 2990);
  assert.equal(await wal.append(Buffer.from('new 2991')), 2991, 'the next append gets n + 1');
  let records = await readAll(wal);
  assert.equal(records.length, 2991);
  assert.deepEqual(records.at(-1).payload, Buffer.from('new 2991'));

  const segmentsBefore = segmentFiles(dir).length;
  await wal.truncateAfter(700);
  assert.ok(segmentFiles(dir).length < segmentsBefore, 'segments above the cut were removed');
  assert.equal(await wal.append(Buffer.from('new 701')), 701);
  await wal.close();

  wal = await Wal.open(dir, SMALL);
  records = await readAll(wal);
  assert.equal(records.length, 701);
  for (const r of records.slice(0, 700)) assert.deepEqual(r.payload, payloadFor(r.lsn - 1));
  assert.deepEqual(records[700].payload, Buffer.from('new 701'));
  assert.equal(fs.existsSync(path.join(dir, 'truncate-after.intent')), false);

  await wal.truncateAfter(wal.firstLsn - 1);
  assert.deepEqual(await readAll(wal), [], 'the log is empty');
  assert.equal(await wal.append(Buffer.from('again')), 1);
  await wal.close();
  wal = await Wal.open(dir, SMALL);
  assert.equal(wal.nextLsn, 2);
  await wal.close();
});

test('truncation rejects bad arguments with WAL_ERR_INVALID_ARGUMENT', async (t) => {
  const dir = tempDir(t);
  const wal = await Wal.open(dir, SMALL);
  await Promise.all(Array.from({ length: 100 }, (_, i) => wal.append(payloadFor(i))));
  const invalid = { code: 'WAL_ERR_INVALID_ARGUMENT' };
  // Deliberately of the wrong type or range: the checks at run time are under test.
  for (const bad of /** @type {any[]} */ ([1.5, -1, '10', null, undefined, NaN, 2 ** 53])) {
    await assert.rejects(wal.truncateBefore(bad), invalid, `truncateBefore(${bad})`);
    await assert.rejects(wal.truncateAfter(bad), invalid, `truncateAfter(${bad})`);
  }
  await assert.rejects(wal.truncateBefore(102), invalid, 'beyond the next LSN');
  await assert.rejects(wal.truncateAfter(101), invalid, 'beyond the end');
  assert.equal(await wal.append(Buffer.from('still fine')), 101);
  await wal.close();
  await assert.rejects(wal.truncateAfter(5), { code: 'WAL_ERR_CLOSED' });
});

test('open refuses a missing middle segment, an overlap, a header that disagrees with its name, and a cut sealed segment', async (t) => {
  const base = tempDir(t);
  const make = async (name) => {
    const dir = path.join(base, name);
    const wal = await Wal.open(dir, { ...SMALL, preallocate: false });
    await Promise.all(Array.from({ length: 3000 }, (_, i) => wal.append(payloadFor(i))));
    await wal.close();
    const files = segmentFiles(dir);
    assert.ok(files.length >= 4);
    return { dir, files };
  };
  const expectCorrupt = async (dir, pattern) => {
    const err = await Wal.open(dir, SMALL).then(
      async (w) => {
        await w.close();
        return null;
      },
      (e) => e,
    );
    assert.ok(err instanceof WalCorruptionError, `expected WAL_ERR_CORRUPT, got ${err}`);
    assert.match(err.message, pattern);
  };

  const missing = await make('missing');
  fs.unlinkSync(path.join(missing.dir, missing.files[1]));
  await expectCorrupt(missing.dir, new RegExp(`missing between .*${missing.files[0]}`));

  const renamed = await make('renamed');
  fs.renameSync(path.join(renamed.dir, renamed.files[2]), path.join(renamed.dir, renamed.files[2].replace(/^wal-\d{20}/, 'wal-00000000000000000005')));
  await expectCorrupt(renamed.dir, /file name says|overlaps/);

  const cut = await make('cut');
  const victim = path.join(cut.dir, cut.files[1]);
  fs.truncateSync(victim, fs.statSync(victim).size - 300);
  await expectCorrupt(cut.dir, /sealed|cut/);
});

test('double-write buffer: a torn rewrite of the tail block is restored from the copy', async (t) => {
  const base = tempDir(t);
  for (const mode of /** @type {const} */ (['buffered', 'direct', 'off'])) {
    const dir = path.join(base, mode);
    const wal = await Wal.open(dir, { doubleWriteBuffer: mode, preallocate: false });
    // Each awaited append is its own batch, so each one rewrites the tail block holding the
    // records before it: the DWB holds a copy of them each time.
    for (let i = 0; i < 10; i++) await wal.append(payloadFor(i, 100));
    await wal.close();
    assert.equal(fs.existsSync(path.join(dir, 'ringwal.dwb')), mode !== 'off');
    // A torn rewrite of the tail block: the first sector holds garbage, as a device without
    // atomic sector writes may leave it. The records in it were acknowledged.
    const seg = path.join(dir, segmentFiles(dir)[0]);
    const fd = fs.openSync(seg, 'r+');
    fs.writeSync(fd, Buffer.alloc(512, 0xa5), 0, 512, 4096);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    if (mode === 'off') {
      // Without the DWB the damage is found, never repaired: later batches prove a hole.
      await assert.rejects(Wal.open(dir, { preallocate: false }), { code: 'WAL_ERR_CORRUPT', offsetBytes: 4096 });
      continue;
    }
    const reopened = await Wal.open(dir, { doubleWriteBuffer: mode, preallocate: false });
    const records = await readAll(reopened);
    {
      assert.equal(reopened.recovery.restoredFromDoubleWrite, true, `${mode}: repaired from the copy`);
      // The newest copy holds the block as it was before the last append rewrote it: records
      // 1..9. Record 10 lies past the copied prefix and past the damage, and is kept as read.
      assert.equal(records.length, 10, `${mode}: ${records.length} records`);
      records.forEach((r, i) => assert.deepEqual(r.payload, payloadFor(i, 100)));
      assert.equal(reopened.recovery.tornTail, null);
    }
    await reopened.close();
  }
});

test('double-write buffer: a copy never brings back records a truncateAfter removed', async (t) => {
  const dir = tempDir(t);
  const wal = await Wal.open(dir, { doubleWriteBuffer: 'buffered', preallocate: false });
  for (let i = 0; i < 10; i++) await wal.append(payloadFor(i, 100));
  await wal.truncateAfter(3);
  await wal.close();
  const seg = path.join(dir, segmentFiles(dir)[0]);
  const fd = fs.openSync(seg, 'r+');
  fs.writeSync(fd, Buffer.alloc(512, 0xa5), 0, 512, 4096);
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  // The cut removed the DWB file, so no copy from before it exists: the damaged sector (records
  // 1..3, all in it) is an ordinary torn tail, and no record above the cut can come back.
  const reopened = await Wal.open(dir, { doubleWriteBuffer: 'buffered', preallocate: false });
  assert.equal(reopened.recovery.restoredFromDoubleWrite, false);
  assert.equal(reopened.recovery.tornTail?.offsetBytes, 4096);
  assert.deepEqual(await readAll(reopened), []);
  assert.equal(reopened.nextLsn, 1);
  await reopened.close();
});

test('a truncation started while a reader reads stops it with WAL_ERR_READ_INVALIDATED, never a rewritten record', async (t) => {
  for (const cut of ['truncateAfter', 'truncateBefore']) {
    const dir = tempDir(t);
    const wal = await Wal.open(dir, SMALL);
    for (let i = 0; i < 600; i++) await wal.append(payloadFor(i, 200));
    const reader = wal.read()[Symbol.asyncIterator]();
    assert.equal((await nextRecord(reader)).lsn, 1);
    const truncation = cut === 'truncateAfter' ? wal.truncateAfter(100) : wal.truncateBefore(500);
    // The truncation starts at its turn, once the microtasks queued before it ran.
    await new Promise((resolve) => setImmediate(resolve));
    await assert.rejects(reader.next(), { code: 'WAL_ERR_READ_INVALIDATED', name: 'WalReadInvalidatedError' });
    await truncation;
    // A reader started after the truncation reads the log it left.
    const after = await readAll(wal);
    assert.equal(after[0].lsn, wal.firstLsn);
    assert.equal(after.at(-1).lsn, cut === 'truncateAfter' ? 100 : 600);
    await wal.close();
  }
});

test('an onSegmentSealed hook that throws or rejects becomes a warning; appends and rollovers go on', async (t) => {
  const warnings = [];
  const onWarning = (w) => warnings.push(w.message);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  let calls = 0;
  const onSegmentSealed = () => {
    calls += 1;
    if (calls % 2 === 1) throw new Error('archiver is down');
    return Promise.reject(new Error('upload failed'));
  };
  const dir = tempDir(t);
  const wal = await Wal.open(dir, { ...SMALL, onSegmentSealed });
  for (let i = 0; i < 1200; i++) await wal.append(payloadFor(i, 200));
  await new Promise((resolve) => setImmediate(resolve));
  assert.ok(calls >= 2, `the hook ran ${calls} times`);
  assert.equal((await wal.stats()).segmentCount, calls + 1, 'every rollover happened');
  assert.equal(warnings.filter((m) => m.includes('archiver is down')).length, Math.ceil(calls / 2));
  assert.equal(warnings.filter((m) => m.includes('upload failed')).length, Math.floor(calls / 2));
  assert.equal((await readAll(wal)).length, 1200);
  await wal.close();
});
