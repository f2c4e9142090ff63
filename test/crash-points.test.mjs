// A child process dies by SIGKILL exactly between two steps of a rollover or a truncation (the
// crash points of src/io/crash-point.ts); the parent reopens the log and checks it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Wal } from '../dist/index.js';
import { SEGMENT_NAME, SEGMENT_NAME_PATTERN, walkSegment } from './helpers/format.mjs';
import { payloadFor, tempDir } from './helpers/tmp.mjs';

const WRITER = fileURLToPath(new URL('./helpers/crash-point-writer.mjs', import.meta.url));
/** A child that neither dies nor finishes within this is hung: the test fails instead of waiting. */
const CHILD_TIMEOUT_MS = 60_000;
/** @type {import('../dist/index.js').WalOptions} */
const OPTIONS = { segmentSizeBytes: 64 * 1024, batchBytesMax: 64 * 1024, preallocate: false, doubleWriteBuffer: 'buffered' };

function runChild(dir, operation, count, lsn, point, hit = 1, overrides = {}) {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    if (point !== undefined) {
      env.RINGWAL_CRASH_POINT = point;
      env.RINGWAL_CRASH_POINT_HIT = String(hit);
    }
    const child = spawn(process.execPath, [WRITER, dir, operation, String(count), String(lsn ?? 0), JSON.stringify(overrides)], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child hung: ${err}`));
    }, CHILD_TIMEOUT_MS);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const lines = out.split('\n');
      const acked = lines.filter((l) => l.startsWith('ack ')).map((l) => Number(l.slice(4)));
      resolve({ code, signal, acked, started: lines.includes(`start ${operation}`), done: lines.includes(`done ${operation}`), stderr: err });
    });
  });
}

async function readAll(dir) {
  const wal = await Wal.open(dir, OPTIONS);
  const records = [];
  for await (const rec of wal.read()) records.push(rec);
  return { wal, records };
}

function assertRecords(records, fromLsn, toLsn, what) {
  assert.equal(records.length, toLsn - fromLsn + 1, `${what}: ${records.length} records, expected LSNs ${fromLsn}..${toLsn}`);
  records.forEach((r, i) => {
    assert.equal(r.lsn, fromLsn + i, what);
    assert.deepEqual(r.payload, payloadFor(r.lsn - 1, 200), `${what}: LSN ${r.lsn}`);
  });
}

for (const point of ['roll.sealed', 'roll.renamed', 'roll.named']) {
  test(`a crash at ${point} during a rollover loses no acknowledged record`, async (t) => {
    const dir = tempDir(t);
    for (const hit of [1, 2]) {
      const run = await runChild(dir, 'none', 100_000, undefined, point, hit);
      assert.equal(run.signal, 'SIGKILL', `the child died at the crash point: ${run.stderr}`);
      const { wal, records } = await readAll(dir);
      const lastAcked = run.acked.at(-1) ?? 0;
      assert.ok(records.length >= lastAcked, `${point}: ${records.length} records, ${lastAcked} acknowledged`);
      assertRecords(records, 1, records.length, point);
      assert.equal(await wal.append(payloadFor(records.length, 200)), records.length + 1, 'appends continue after the crash');
      await wal.close();
    }
  });
}

test('a crash between the removals of truncateBefore leaves a suffix of the log', async (t) => {
  const dir = tempDir(t);
  const run = await runChild(dir, 'truncateBefore', 2000, 1500, 'truncate-before.unlinked', 2);
  assert.equal(run.signal, 'SIGKILL', run.stderr);
  assert.ok(run.started);
  const { wal, records } = await readAll(dir);
  assert.ok(wal.firstLsn > 1 && wal.firstLsn <= 1500, `firstLsn ${wal.firstLsn}`);
  assertRecords(records, wal.firstLsn, 2000, 'after the interrupted truncateBefore');
  await wal.close();
});

/**
 * Where the segments of the child's 2000-record log start: every run lays them out alike (same
 * payload sizes, same options), so cut positions can be chosen from one scratch run.
 */
async function segmentStarts(t) {
  const dir = tempDir(t);
  const run = await runChild(dir, 'none', 2000, 0, undefined);
  assert.equal(run.code, 0, run.stderr);
  return fs
    .readdirSync(dir)
    .map((n) => SEGMENT_NAME_PATTERN.exec(n))
    .filter((m) => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/**
 * truncateAfter's three ways of cutting the segment that keeps LSN lsn + 1, each with its steps.
 * @type {Array<{ how: string, lsn: (starts: number[]) => number, points: Array<[string, number]> }>}
 */
const CUTS = [
  {
    how: 'in the active segment (in place)',
    lsn: (starts) => starts.at(-1) + 5,
    points: [
      ['truncate-after.intent', 1],
      ['truncate-after.reincarnated', 1],
      ['truncate-after.zeroed', 1],
      ['truncate-after.cleared', 1],
    ],
  },
  {
    how: 'inside a sealed segment (replaced)',
    lsn: () => 777,
    points: [
      ['truncate-after.intent', 1],
      ['truncate-after.unlinked', 1],
      ['truncate-after.unlinked', 3],
      ['truncate-after.copied', 1],
      ['truncate-after.replaced', 1],
      ['truncate-after.cleared', 1],
    ],
  },
  {
    how: 'at the end of a sealed segment (kept sealed)',
    lsn: (starts) => starts[3] - 1,
    points: [
      ['truncate-after.intent', 1],
      ['truncate-after.unlinked', 1],
      ['truncate-after.cleared', 1],
    ],
  },
];

for (const cut of CUTS) {
  for (const [point, hit] of cut.points) {
    test(`a crash at ${point} (hit ${hit}) of truncateAfter ${cut.how} is finished by the next open`, async (t) => {
      const lsn = cut.lsn(await segmentStarts(t));
      const dir = tempDir(t);
      const run = await runChild(dir, 'truncateAfter', 2000, lsn, point, hit);
      assert.equal(run.signal, 'SIGKILL', run.stderr);
      assert.ok(run.started && !run.done);
      const { wal, records } = await readAll(dir);
      assertRecords(records, 1, lsn, `after a crash at ${point}`);
      assert.equal(fs.existsSync(path.join(dir, 'truncate-after.intent')), false, 'the intent is gone once the cut is complete');
      assert.equal(await wal.append(payloadFor(lsn, 200)), lsn + 1, 'the next append gets n + 1');
      await wal.close();
    });
  }
}

test('a crash in a cut, finished by an open with the DWB off: a later open with it on restores no cut record', async (t) => {
  // The child writes with the DWB on, so its copies hold records above the cut.
  const lsn = (await segmentStarts(t)).at(-1) + 5;
  const dir = tempDir(t);
  const run = await runChild(dir, 'truncateAfter', 2000, lsn, 'truncate-after.zeroed', 1);
  assert.equal(run.signal, 'SIGKILL', run.stderr);
  const off = await Wal.open(dir, { ...OPTIONS, doubleWriteBuffer: 'off' });
  const replacements = [Buffer.alloc(200, 0xb2), Buffer.alloc(200, 0xb3)];
  for (const b of replacements) await off.append(b);
  await off.close();
  const { wal, records } = await readAll(dir);
  assert.equal(records.length, lsn + 2);
  assertRecords(records.slice(0, lsn), 1, lsn, 'the records kept by the cut');
  assert.deepEqual(
    records.slice(lsn).map((r) => r.payload),
    replacements,
    'the records appended after the cut, not the cut ones',
  );
  await wal.close();
});

/** Writes `bytes` at `offsetBytes` of the log's first segment, durably, as a torn write leaves them. */
function plantTornBytes(dir, offsetBytes, bytes) {
  const fd = fs.openSync(path.join(dir, SEGMENT_NAME), 'r+');
  fs.writeSync(fd, bytes, 0, bytes.length, offsetBytes);
  fs.fsyncSync(fd);
  fs.closeSync(fd);
}

for (const [point, quarantineSuffix] of /** @type {const} */ ([
  ['recover.torn-copied', ''],
  ['recover.torn-quarantined', '-2'],
])) {
  test(`a crash at ${point} while recovery quarantines a torn tail: the next open quarantines and erases it`, async (t) => {
    const dir = tempDir(t);
    const noDwb = { ...OPTIONS, doubleWriteBuffer: /** @type {const} */ ('off') };
    let wal = await Wal.open(dir, noDwb);
    for (let i = 0; i < 3; i++) await wal.append(payloadFor(i, 200));
    await wal.close();
    const segPath = path.join(dir, SEGMENT_NAME);
    const { endBytes, blockSizeBytes } = walkSegment(fs.readFileSync(segPath));
    // Garbage in the block after the last record: what a torn write of a next batch leaves.
    const garbageAtBytes = Math.ceil(endBytes / blockSizeBytes) * blockSizeBytes;
    const garbage = Buffer.alloc(300, 0xc7);
    plantTornBytes(dir, garbageAtBytes, garbage);
    const tornBytes = fs.readFileSync(segPath).subarray(endBytes, garbageAtBytes + garbage.length);
    const quarantine = `${segPath}.torn-${endBytes}`;

    const run = await runChild(dir, 'none', 0, 0, point, 1, { doubleWriteBuffer: 'off' });
    assert.equal(run.signal, 'SIGKILL', `the child died at the crash point: ${run.stderr}`);
    if (point === 'recover.torn-copied') {
      assert.ok(fs.readFileSync(`${quarantine}.tmp`).equals(tornBytes), 'the copy was written, not yet named');
      assert.equal(fs.existsSync(quarantine), false);
    } else {
      assert.ok(fs.readFileSync(quarantine).equals(tornBytes), 'the copy is named');
    }
    assert.ok(
      fs
        .readFileSync(segPath)
        .subarray(garbageAtBytes, garbageAtBytes + garbage.length)
        .equals(garbage),
      'the tail is not erased yet',
    );

    const { wal: reopened, records } = await readAll(dir);
    assertRecords(records, 1, 3, `after a crash at ${point}`);
    const torn = reopened.recovery.tornTail;
    assert.equal(torn.offsetBytes, endBytes);
    assert.equal(torn.discardedBytes, tornBytes.length);
    assert.equal(torn.quarantinePath, quarantine + quarantineSuffix);
    assert.ok(fs.readFileSync(torn.quarantinePath).equals(tornBytes), 'the new copy holds the torn bytes');
    assert.ok(fs.readFileSync(quarantine).equals(tornBytes), 'a named copy is never deleted');
    assert.equal(fs.existsSync(`${quarantine}.tmp`), false, 'the unnamed copy is deleted (O2)');
    assert.equal(await reopened.append(payloadFor(3, 200)), 4);
    await reopened.close();
    const again = await Wal.open(dir, OPTIONS);
    assert.equal(again.recovery.tornTail, null, 'the torn tail was erased');
    await again.close();
  });
}

test('a crash at open.write-max-raised: the raised bytes in flight stay, and the log opens with every record', async (t) => {
  const dir = tempDir(t);
  const small = { ...OPTIONS, segmentSizeBytes: 1024 * 1024, batchBytesMax: 64 * 1024, batchesInFlightMax: 1 };
  const large = { segmentSizeBytes: 1024 * 1024, batchBytesMax: 256 * 1024, batchesInFlightMax: 2 };
  let wal = await Wal.open(dir, small);
  for (let i = 0; i < 5; i++) await wal.append(payloadFor(i, 200));
  await wal.close();
  const segPath = path.join(dir, SEGMENT_NAME);
  const blockBytes = walkSegment(fs.readFileSync(segPath)).blockSizeBytes;
  // A batch buffer per batch in flight: batchBytesMax plus one block, in whole blocks.
  const inFlightOf = (shape) => shape.batchesInFlightMax * Math.ceil((shape.batchBytesMax + blockBytes) / blockBytes) * blockBytes;
  assert.equal(walkSegment(fs.readFileSync(segPath)).inFlightBytesMax, inFlightOf(small));

  // The child opens with larger batches, so it raises the header first.
  const run = await runChild(dir, 'none', 0, 0, 'open.write-max-raised', 1, large);
  assert.equal(run.signal, 'SIGKILL', `the child died at the crash point: ${run.stderr}`);
  assert.equal(walkSegment(fs.readFileSync(segPath)).inFlightBytesMax, inFlightOf(large), 'raised durably before the kill');

  wal = await Wal.open(dir, small);
  const records = [];
  for await (const rec of wal.read()) records.push(rec);
  assertRecords(records, 1, 5, 'after a crash at open.write-max-raised');
  assert.equal(wal.recovery.tornTail, null);
  assert.equal(await wal.append(payloadFor(5, 200)), 6);
  await wal.close();
  assert.equal(walkSegment(fs.readFileSync(segPath)).inFlightBytesMax, inFlightOf(large), 'a smaller writer never lowers it');
});

const KEY_HEX = 'd4'.repeat(32);
const ENCRYPTED = { ...OPTIONS, encryption: { key: Buffer.from(KEY_HEX, 'hex'), keyId: 1 } };

test('a crash at encrypt.sealed (an encrypted open sealing the recovered segment): every record stays, and the next append begins a new segment', async (t) => {
  const dir = tempDir(t);
  let wal = await Wal.open(dir, ENCRYPTED);
  for (let i = 0; i < 5; i++) await wal.append(payloadFor(i, 200));
  await wal.close();
  const run = await runChild(dir, 'none', 0, 0, 'encrypt.sealed', 1, { encryptionKeyHex: KEY_HEX });
  assert.equal(run.signal, 'SIGKILL', `the child died at the crash point: ${run.stderr}`);
  const segPath = path.join(dir, SEGMENT_NAME);
  assert.equal(walkSegment(fs.readFileSync(segPath)).sealed, true, 'sealed durably before the kill');
  wal = await Wal.open(dir, ENCRYPTED);
  const records = [];
  for await (const rec of wal.read()) records.push(rec);
  assertRecords(records, 1, 5, 'after a crash at encrypt.sealed');
  assert.equal(await wal.append(payloadFor(5, 200)), 6);
  await wal.close();
  const names = fs.readdirSync(dir).filter((n) => SEGMENT_NAME_PATTERN.test(n));
  assert.equal(names.length, 2, 'the append went to a new segment');
});

test('a crash at encrypt.resalted (a cut that kept no record of the active segment): the log is empty and takes appends under the new salt', async (t) => {
  const dir = tempDir(t);
  const run = await runChild(dir, 'truncateAfter', 20, 0, 'encrypt.resalted', 1, { encryptionKeyHex: KEY_HEX });
  assert.equal(run.signal, 'SIGKILL', `the child died at the crash point: ${run.stderr}`);
  assert.ok(run.started && !run.done);
  const segPath = path.join(dir, SEGMENT_NAME);
  const before = walkSegment(fs.readFileSync(segPath));
  assert.equal(before.records.length, 0);
  assert.equal(before.sealed, false, 'an empty segment is given a new salt, not sealed');
  const wal = await Wal.open(dir, ENCRYPTED);
  t.after(() => wal.close());
  assert.equal((await readRecords(wal)).length, 0);
  assert.equal(await wal.append(payloadFor(0, 200)), 1);
  const after = walkSegment(fs.readFileSync(segPath));
  assert.notDeepEqual(after.salt, before.salt, 'the open gave the empty segment a fresh salt again');
  assert.deepEqual(
    (await readRecords(wal)).map((r) => r.payload),
    [payloadFor(0, 200)],
  );
});

async function readRecords(wal) {
  const records = [];
  for await (const rec of wal.read()) records.push(rec);
  return records;
}

test('without a crash point the child finishes (the crash points are really what kills it)', async (t) => {
  const dir = tempDir(t);
  const run = await runChild(dir, 'truncateAfter', 300, 100, undefined);
  assert.equal(run.code, 0, run.stderr);
  assert.ok(run.done);
  const { wal, records } = await readAll(dir);
  assertRecords(records, 1, 100, 'after a finished truncateAfter');
  await wal.close();
});
