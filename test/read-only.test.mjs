// Read-only opens (docs/design.md, "Read-only opens"): no lock, no byte written, the valid prefix
// of a log another process may be writing, checked as a writer's open checks it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Wal, ReadOnlyWal } from '../dist/index.js';
import { tempDir, payloadFor } from './helpers/tmp.mjs';
import { runChildLines } from './helpers/child-lines.mjs';
import { checkCrashLog } from './helpers/crash-payload.mjs';
import { changeFileBytes, walkSegment } from './helpers/format.mjs';

const CRASH_WRITER = fileURLToPath(new URL('./helpers/crash-writer.mjs', import.meta.url));

/** Every file of `dir` with its size, mode, mtime and a hash of its bytes. */
function fingerprint(dir) {
  return Object.fromEntries(
    fs
      .readdirSync(dir)
      .sort()
      .map((name) => {
        const p = path.join(dir, name);
        const st = fs.statSync(p);
        return [name, { sizeBytes: st.size, mode: st.mode, mtimeMs: st.mtimeMs, sha: createHash('sha256').update(fs.readFileSync(p)).digest('hex') }];
      }),
  );
}

function segmentsOf(dir) {
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.seg'))
    .sort()
    .map((n) => path.join(dir, n));
}

async function collect(iterable) {
  const out = [];
  for await (const r of iterable) out.push(r);
  return out;
}

async function writeLog(dir, count, options = {}) {
  const wal = await Wal.open(dir, { segmentSizeBytes: 1 << 20, ...options });
  for (let i = 0; i < count; i += 10) await wal.appendBatch(Array.from({ length: 10 }, (_, j) => payloadFor(i + j)));
  return wal;
}

test('a read-only open beside an open writer: no lock taken, the same records, no write method', async (t) => {
  const dir = tempDir(t);
  const wal = await writeLog(dir, 8000);
  t.after(() => wal.close());
  await wal.checkpoint(Buffer.from('state'));
  const ro = await Wal.open(dir, { readOnly: true });
  t.after(() => ro.close());
  assert.ok(ro instanceof ReadOnlyWal);
  assert.equal(ro.lastLsn, wal.durableLsn);
  assert.equal(ro.firstLsn, 1);
  assert.ok(ro.segments().length >= 2, 'rolled over at 1 MiB');
  assert.deepEqual(
    ro.segments().map((s) => s.sealed),
    [
      ...ro
        .segments()
        .slice(1)
        .map(() => true),
      false,
    ],
  );
  assert.equal(ro.lastCheckpoint()?.payload.toString(), 'state');
  // @ts-expect-error: a read-only handle has no append
  assert.equal(typeof ro.append, 'undefined', 'a read-only handle has no append');
  const records = await collect(ro.read());
  assert.equal(records.length, 8000);
  records.forEach((r, i) => assert.ok(r.payload.equals(payloadFor(i)), `LSN ${r.lsn}`));
  const fromCheckpoint = await collect(ro.read({ fromCheckpoint: true }));
  assert.equal(fromCheckpoint.length, 0, 'nothing after the checkpoint');
  // A second writer is still refused: the read-only open took no lock, the first writer holds it.
  await assert.rejects(Wal.open(dir), { code: 'WAL_ERR_LOCKED' });
  assert.throws(() => ro.read({ skipTombstoned: () => null }), { code: 'WAL_ERR_INVALID_ARGUMENT' });
  // @ts-expect-error: not a read option
  assert.throws(() => ro.read({ bogus: 1 }), { code: 'WAL_ERR_INVALID_ARGUMENT' });
  // @ts-expect-error: readOnly is a boolean
  await assert.rejects(Wal.open(dir, { readOnly: 'yes' }), { code: 'WAL_ERR_INVALID_ARGUMENT', argument: 'readOnly' });
});

test('a read-only open writes no byte: a torn tail is reported, not cut, and the files stay as they were', async (t) => {
  const dir = tempDir(t);
  const wal = await writeLog(dir, 200, { segmentSizeBytes: 4 << 20 });
  await wal.close();
  const [segment] = segmentsOf(dir);
  const walked = walkSegment(fs.readFileSync(segment));
  // Garbage after the last record, within the writes in flight: a torn write.
  changeFileBytes(segment, walked.endBytes, () => 0xab, 64);
  const before = fingerprint(dir);
  const ro = await Wal.open(dir, { readOnly: true });
  assert.equal(ro.lastLsn, 200);
  assert.equal(ro.tail?.offsetBytes, walked.endBytes);
  assert.equal(ro.tail?.nonZeroBytes, 64);
  assert.equal((await collect(ro.read())).length, 200);
  const ac = new AbortController();
  const followed = collect(ro.follow({ fromLsn: 190, signal: ac.signal }));
  await new Promise((resolve) => setTimeout(resolve, 350));
  ac.abort();
  assert.equal((await followed).length, 11);
  await ro.close();
  assert.deepEqual(fingerprint(dir), before, 'not a byte, name or mode changed');
  // A writer's open cuts the same tail.
  const reopened = await Wal.open(dir);
  assert.equal(reopened.recovery.tornTail?.offsetBytes, walked.endBytes);
  await reopened.close();
});

test('a read-only open refuses what a writer would refuse: a hole, and a cut in progress', async (t) => {
  const dir = tempDir(t);
  const wal = await writeLog(dir, 300, { segmentSizeBytes: 4 << 20 });
  await wal.close();
  const [segment] = segmentsOf(dir);
  const walked = walkSegment(fs.readFileSync(segment));
  const victim = walked.records[5];
  changeFileBytes(segment, victim.offsetBytes + 48, (b) => b ^ 1);
  await assert.rejects(Wal.open(dir, { readOnly: true }), (/** @type {any} */ err) => {
    assert.equal(err.code, 'WAL_ERR_CORRUPT');
    assert.equal(err.path, segment);
    assert.equal(err.offsetBytes, victim.offsetBytes);
    return true;
  });
  changeFileBytes(segment, victim.offsetBytes + 48, (b) => b ^ 1);
  fs.writeFileSync(path.join(dir, 'truncate-after.intent'), 'x');
  await assert.rejects(Wal.open(dir, { readOnly: true }), { code: 'WAL_ERR_CUT_PENDING' });
  fs.rmSync(path.join(dir, 'truncate-after.intent'));
  await assert.rejects(Wal.open(path.join(dir, 'missing'), { readOnly: true }), { code: 'WAL_ERR_IO' });
});

test('a read-only follower sees a writer in this process roll over and truncate', async (t) => {
  const dir = tempDir(t);
  const wal = await writeLog(dir, 100);
  t.after(() => wal.close());
  const ro = await Wal.open(dir, { readOnly: true });
  t.after(() => ro.close());
  const ac = new AbortController();
  const seen = [];
  const following = (async () => {
    for await (const r of ro.follow({ fromLsn: 1, signal: ac.signal })) seen.push(r.lsn);
  })();
  for (let i = 100; i < 6000; i += 10) await wal.appendBatch(Array.from({ length: 10 }, (_, j) => payloadFor(i + j)));
  const deadline = Date.now() + 10_000;
  while (seen.length < 6000 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(seen.length, 6000, 'every record, across rollovers');
  assert.deepEqual(seen.slice(0, 3).concat(seen.slice(-1)), [1, 2, 3, 6000]);
  // A cut below what the follower passed stops it, as it stops a writer's follower.
  await wal.truncateAfter(5000);
  await wal.appendBatch([payloadFor(1)]);
  const outcome = await following.then(
    () => 'ended',
    (err) => err.code,
  );
  ac.abort();
  assert.equal(outcome, 'WAL_ERR_READ_INVALIDATED');
  await ro.refresh();
  assert.equal(ro.lastLsn, 5001);
  assert.ok(ro.segments().length >= 2, 'rolled over');
  assert.equal(ro.segments().length, segmentsOf(dir).length);
});

test('an encrypted log opens read-only with its key, and not without', async (t) => {
  const dir = tempDir(t);
  const key = Buffer.alloc(32, 7);
  const wal = await writeLog(dir, 50, { encryption: { key, keyId: 3 } });
  await wal.close();
  await assert.rejects(Wal.open(dir, { readOnly: true }), { code: 'WAL_ERR_KEY_MISSING', keyId: 3 });
  await assert.rejects(Wal.open(dir, { readOnly: true, encryption: { key: Buffer.alloc(32, 8), keyId: 3 } }), { code: 'WAL_ERR_AUTH' });
  const ro = await Wal.open(dir, { readOnly: true, encryption: { key, keyId: 3 } });
  assert.deepEqual(ro.segments()[0].encryption, { cipher: 'aes-256-gcm', keyId: 3 });
  const records = await collect(ro.read());
  assert.equal(records.length, 50);
  assert.ok(records[49].payload.equals(payloadFor(49)));
  await ro.close();
});

test('a read-only reader beside a writer in another process: a valid prefix, then more of it', async (t) => {
  const dir = tempDir(t);
  let acked = 0;
  let ready;
  const readyP = new Promise((resolve) => (ready = resolve));
  const { child, exited } = runChildLines(CRASH_WRITER, [dir, 'io_uring', 'batch', '4', '0'], (line) => {
    if (line.startsWith('ready')) ready();
    if (line.startsWith('ack ')) acked += 1;
  });
  t.after(() => child.kill('SIGKILL'));
  await readyP;
  while (acked < 2000) await new Promise((resolve) => setTimeout(resolve, 20));
  const ro = await Wal.open(dir, { readOnly: true });
  const first = await collect(ro.read());
  assert.ok(first.length >= 2000, `at least the ${acked} acknowledged before the open`);
  checkCrashLog(first);
  const ac = new AbortController();
  let followed = 0;
  let last = first.length;
  const following = (async () => {
    for await (const r of ro.follow({ fromLsn: first.length + 1, signal: ac.signal })) {
      assert.equal(r.lsn, last + 1);
      last = r.lsn;
      followed += 1;
      if (followed >= 2000) ac.abort();
    }
  })();
  await following;
  assert.ok(followed >= 2000, 'the follower saw the writer go on');
  const again = await collect(ro.read());
  assert.ok(again.length >= last);
  checkCrashLog(again);
  await ro.close();
  child.kill('SIGKILL');
  await exited;
});
