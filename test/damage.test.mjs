/**
 * Damaged segment files: bit flips, zeroed blocks, truncations, garbage, absurd lengths and
 * files that are not segments at all. The rule under test (docs/design.md, "Recovery" and the
 * threat model): damage to acknowledged records that later write batches prove durable is
 * WAL_ERR_CORRUPT naming the file and the damaged record's offset, with nothing truncated;
 * damage that only touches the last write batch, or the end of the file, is a torn tail that
 * recovery cuts and reports. A damaged record is never returned and never silently dropped
 * from the middle of the log.
 *
 * Expected offsets come from test/helpers/format.mjs, an independent reading of the format.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Wal, WalCorruptionError, WalError, WalUnsupportedFormatError } from '../dist/index.js';
import {
  FORMAT_VERSION,
  Field,
  RECORD_HEADER_SIZE_BYTES,
  SEGMENT_HEADER_SIZE_BYTES,
  SEGMENT_NAME,
  resealSegmentHeader,
  segmentName,
  walkSegment,
} from './helpers/format.mjs';
import { SEED, random, randomBytes, randomInt } from './helpers/random.mjs';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ringwal-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

/**
 * The smallest batch buffers Wal.open accepts: the tests open thousands of damaged copies, and
 * the two default 4 MiB buffers, zeroed at open, would dominate their time. Recovery does not
 * depend on this option (it accepts anything the format allows).
 */
const OPEN_OPTIONS = { batchBytesMax: 64 * 1024, preallocate: false };
/** A damaged length must not make anyone allocate it: 500 MiB is far above the reader's 1 MiB + one record. */
const RSS_GROWTH_BYTES_MAX = 500 * 1024 * 1024;
const RECORD_COUNT = 2000;

/** The reference log: its bytes, what was appended, and the walk of its records and batches. */
let log;

function metaOf(r) {
  return { type: r.type, tenant: r.tenant, vshard: r.vshard, database: r.database };
}

/**
 * Writes RECORD_COUNT records with varied sizes and meta through many write batches: awaited
 * appendBatch calls, awaited single appends, and bursts of concurrent appends that group commit
 * joins. The last operation is a small appendBatch, so the last write batch is known to be short.
 */
async function writeReferenceLog(dir) {
  const expected = [null];
  const wal = await Wal.open(dir, { directIo: 'required', preallocate: false });
  const randomMeta = () => ({
    type: [0x8001, 0x0001, 0x8abc][randomInt(0, 2)],
    tenant: randomInt(0, 2 ** 40),
    vshard: randomInt(0, 2 ** 32 - 1),
    database: randomInt(0, 2 ** 30),
  });
  const randomPayload = () => (random() < 0.1 ? Buffer.alloc(0) : randomBytes(randomInt(1, 3000)));
  const note = (lsn, payload, meta) => {
    expected[lsn] = { lsn, payload, ...meta };
  };
  const LAST_BATCH_RECORDS = 6;
  while (expected.length - 1 < RECORD_COUNT - LAST_BATCH_RECORDS) {
    const left = RECORD_COUNT - LAST_BATCH_RECORDS - (expected.length - 1);
    const kind = randomInt(0, 2);
    if (kind === 0) {
      const payloads = Array.from({ length: Math.min(left, randomInt(2, 60)) }, randomPayload);
      const meta = randomMeta();
      const { firstLsn } = await wal.appendBatch(payloads, meta);
      payloads.forEach((p, i) => note(firstLsn + i, p, meta));
    } else if (kind === 1) {
      const payload = randomPayload();
      const meta = randomMeta();
      note(await wal.append(payload, meta), payload, meta);
    } else {
      const burst = Array.from({ length: Math.min(left, randomInt(2, 30)) }, () => ({ payload: randomPayload(), meta: randomMeta() }));
      const lsns = await Promise.all(burst.map((b) => wal.append(b.payload, b.meta)));
      lsns.forEach((lsn, i) => note(lsn, burst[i].payload, burst[i].meta));
    }
  }
  const payloads = Array.from({ length: LAST_BATCH_RECORDS }, randomPayload);
  const meta = randomMeta();
  const { firstLsn } = await wal.appendBatch(payloads, meta);
  payloads.forEach((p, i) => note(firstLsn + i, p, meta));
  await wal.close();
  return expected.slice(1);
}

before(async () => {
  const dir = path.join(root, 'reference');
  const expected = await writeReferenceLog(dir);
  const bytes = fs.readFileSync(path.join(dir, SEGMENT_NAME));
  const walk = walkSegment(bytes);
  // The walker and the writer must agree before the walk can predict anything.
  assert.equal(walk.records.length, RECORD_COUNT);
  walk.records.forEach((w, i) => {
    assert.equal(w.lsn, i + 1);
    assert.ok(w.payload.equals(expected[i].payload), `walked payload of LSN ${w.lsn}`);
    assert.deepEqual(metaOf(w), metaOf(expected[i]));
  });
  assert.equal(bytes.length % walk.blockSizeBytes, 0);
  assert.ok(
    bytes.subarray(walk.endBytes).every((b) => b === 0),
    'the tail after the last record is zero',
  );
  const lastBatchFirst = walk.records.findLastIndex((r) => r.pendingIndex === 0);
  const batchCount = walk.records.filter((r) => r.pendingIndex === 0).length;
  assert.ok(batchCount >= 30, `only ${batchCount} write batches`);
  assert.equal(RECORD_COUNT - lastBatchFirst, 6, 'the last write batch is the final appendBatch');
  log = { bytes, expected, records: walk.records, endBytes: walk.endBytes, lastBatchFirst };
});

/** Writes `bytes` as the only segment of a fresh directory. */
function placeCopy(bytes, name = SEGMENT_NAME) {
  const dir = fs.mkdtempSync(path.join(root, 'case-'));
  const segPath = path.join(dir, name);
  fs.writeFileSync(segPath, bytes);
  return { dir, segPath };
}

async function readAll(wal, options) {
  const records = [];
  for await (const rec of wal.read(options)) records.push(rec);
  return records;
}

/**
 * Opens a damaged copy and reads it whole. The outcome is `{ opened: false, error }` when open
 * rejects, otherwise what recovery reported and every record; a reader error is not caught, as
 * a log that opens must also read.
 */
async function openCopy(bytes, { keep = false } = {}) {
  const { dir, segPath } = placeCopy(bytes);
  try {
    let wal;
    try {
      wal = await Wal.open(dir, OPEN_OPTIONS);
    } catch (error) {
      return { opened: false, error, segPath, after: fs.readFileSync(segPath) };
    }
    try {
      const records = await readAll(wal);
      return { opened: true, recovery: wal.recovery, nextLsn: wal.nextLsn, records, segPath, after: fs.readFileSync(segPath) };
    } finally {
      await wal.close();
    }
  } finally {
    if (!keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}

function assertSameRecords(actual, expected, what) {
  assert.equal(actual.length, expected.length, `${what}: record count`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    assert.equal(a.lsn, e.lsn, `${what}: LSN at position ${i}`);
    assert.deepEqual(metaOf(a), metaOf(e), `${what}: meta of LSN ${e.lsn}`);
    assert.ok(Buffer.isBuffer(a.payload) && a.payload.equals(e.payload), `${what}: payload of LSN ${e.lsn}`);
  }
}

function assertCorruptAt(outcome, offsetBytes, damaged, what) {
  assert.equal(
    outcome.opened,
    false,
    `${what}: open must refuse, got ${outcome.records?.length} records and tornTail ${JSON.stringify(outcome.recovery?.tornTail)}`,
  );
  const err = outcome.error;
  assert.ok(err instanceof WalCorruptionError, `${what}: not a WalError: ${err?.stack}`);
  assert.equal(err.code, 'WAL_ERR_CORRUPT', `${what}: ${err.message}`);
  assert.equal(err.offsetBytes, offsetBytes, `${what}: ${err.message}`);
  assert.equal(err.path, outcome.segPath, what);
  // A hole is reported, never repaired: the file is exactly as damaged, not truncated.
  assert.ok(outcome.after.equals(damaged), `${what}: the file was changed by a refused open`);
}

/**
 * A torn tail is erased in place: every byte from the end of the valid prefix to the last
 * non-zero byte (rounded up to a 4-byte word) is zeroed, the file keeps its size (a preallocated
 * segment keeps its extents), and the bytes before the cut are untouched.
 */
function assertTornAt(outcome, index, damaged, what) {
  assert.equal(outcome.opened, true, `${what}: open must succeed: ${outcome.error?.stack}`);
  const offsetBytes = index < log.records.length ? log.records[index].offsetBytes : log.endBytes;
  let lastNonZero = damaged.length - 1;
  while (lastNonZero >= offsetBytes && damaged[lastNonZero] === 0) lastNonZero--;
  const erasedEndBytes = Math.min((Math.floor(lastNonZero / 4) + 1) * 4, damaged.length);
  assert.ok(outcome.recovery.tornTail !== null, `${what}: tornTail not reported`);
  assert.equal(outcome.recovery.tornTail.offsetBytes, offsetBytes, what);
  assert.equal(outcome.recovery.tornTail.discardedBytes, erasedEndBytes - offsetBytes, what);
  assert.equal(typeof outcome.recovery.tornTail.reason, 'string');
  assert.equal(outcome.recovery.recordCount, index, what);
  assert.equal(outcome.nextLsn, index + 1, what);
  const after = outcome.after;
  assert.ok(after.length >= damaged.length, `${what}: the file never shrinks`);
  assert.ok(after.subarray(0, offsetBytes).equals(damaged.subarray(0, offsetBytes)), `${what}: bytes before the cut are untouched`);
  assert.ok(
    after.subarray(offsetBytes).every((b) => b === 0),
    `${what}: the torn tail is zeroed`,
  );
  assertSameRecords(outcome.records, log.expected.slice(0, index), what);
}

function flipped(bytes, at, bit) {
  const copy = Buffer.from(bytes);
  copy[at] ^= 1 << bit;
  return copy;
}

/** Positions inside record `r` that a CRC covers: header fields, first, middle, last payload byte. */
function positionsIn(r) {
  const header = [
    Field.CRC,
    Field.SIZE,
    Field.SIZE + 3,
    Field.LSN,
    Field.LSN + 6,
    Field.TENANT,
    Field.DATABASE + 2,
    Field.VSHARD,
    Field.TYPE,
    Field.TYPE + 1,
    Field.SEGMENT_ID,
    Field.PENDING_INDEX,
  ];
  const payload = r.sizeBytes === 0 ? [] : [0, r.sizeBytes >> 1, r.sizeBytes - 1].map((p) => RECORD_HEADER_SIZE_BYTES + p);
  return [...header, ...payload].map((p) => r.offsetBytes + p);
}

test('a bit flip in acknowledged records with later batches is WAL_ERR_CORRUPT at that record, nothing truncated', async () => {
  let cases = 0;
  for (let k = 0; k < 8; k++) {
    const index = randomInt(200, log.lastBatchFirst - 200);
    const r = log.records[index];
    const positions = positionsIn(r);
    for (let j = 0; j < 3; j++) {
      const at = positions[randomInt(0, positions.length - 1)];
      const bit = randomInt(0, 7);
      const damaged = flipped(log.bytes, at, bit);
      assertCorruptAt(await openCopy(damaged), r.offsetBytes, damaged, `seed ${SEED}: bit ${bit} of byte ${at} (LSN ${r.lsn} at ${r.offsetBytes})`);
      cases += 1;
    }
  }
  // Every field of one record, and the first and last records before the last batch.
  for (const index of [1000, 0, log.lastBatchFirst - 1]) {
    const r = log.records[index];
    for (const at of positionsIn(r)) {
      const damaged = flipped(log.bytes, at, randomInt(0, 7));
      assertCorruptAt(await openCopy(damaged), r.offsetBytes, damaged, `seed ${SEED}: byte ${at} (LSN ${r.lsn})`);
      cases += 1;
    }
  }
  assert.ok(cases >= 50);
});

test('a bit flip in the last write batch is a torn tail: the records before it, reported and cut', async () => {
  for (let index = log.lastBatchFirst; index < log.records.length; index++) {
    const r = log.records[index];
    for (const at of positionsIn(r)) {
      const bit = randomInt(0, 7);
      const what = `seed ${SEED}: bit ${bit} of byte ${at} (LSN ${r.lsn}, last batch)`;
      const damaged = flipped(log.bytes, at, bit);
      assertTornAt(await openCopy(damaged), index, damaged, what);
    }
  }
});

test('a zeroed 4 KiB block in the middle is WAL_ERR_CORRUPT at the first record it changed', async () => {
  for (const fraction of [0.25, 0.5, 0.75]) {
    const blockStart = Math.floor((log.endBytes * fraction) / 4096) * 4096;
    const damaged = Buffer.from(log.bytes);
    damaged.fill(0, blockStart, blockStart + 4096);
    const index = log.records.findIndex(
      (r) => !damaged.subarray(r.offsetBytes, r.offsetBytes + r.spanBytes).equals(log.bytes.subarray(r.offsetBytes, r.offsetBytes + r.spanBytes)),
    );
    assert.ok(index >= 0 && index < log.lastBatchFirst, 'the zeroed block lies before the last batch');
    assertCorruptAt(await openCopy(damaged), log.records[index].offsetBytes, damaged, `block at ${blockStart}`);
  }
});

test('a truncation keeps exactly the records wholly before the cut', async () => {
  const cuts = new Set([log.bytes.length, log.endBytes, log.endBytes + 1, log.endBytes - 1, 4096, 4097, 4096 + 47, 2048, SEGMENT_HEADER_SIZE_BYTES]);
  for (const index of [0, 1, 2, 500, 999, 1500, log.lastBatchFirst, RECORD_COUNT - 2, RECORD_COUNT - 1]) {
    const at = log.records[index].offsetBytes;
    for (const delta of [-1, 0, 1, 4, 47, 48, 49]) cuts.add(at + delta);
  }
  for (let i = 0; i < 40; i++) cuts.add(randomInt(4096, log.bytes.length));
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    const what = `seed ${SEED}: cut at ${cut}`;
    const kept = log.records.filter((r) => r.offsetBytes + r.spanBytes <= cut);
    const validEndBytes = kept.length === 0 ? 4096 : kept.at(-1).offsetBytes + kept.at(-1).spanBytes;
    // A torn tail exists only where a non-zero byte of a cut record remains; zeros are a clean end.
    const tornBytes = log.bytes.subarray(Math.min(validEndBytes, cut), cut);
    const outcome = await openCopy(log.bytes.subarray(0, cut), { keep: true });
    try {
      if (outcome.opened) {
        assert.equal(outcome.recovery.recordCount, kept.length, what);
        assertSameRecords(outcome.records, log.expected.slice(0, kept.length), what);
      }
      if (tornBytes.some((b) => b !== 0)) {
        assertTornAt(outcome, kept.length, log.bytes.subarray(0, cut), what);
      } else {
        assert.equal(outcome.opened, true, `${what}: ${outcome.error?.stack}`);
        assert.equal(outcome.recovery.tornTail, null, what);
      }
      // The cut log takes appends right after its last whole record, and reads them back.
      const wal = await Wal.open(path.dirname(outcome.segPath), OPEN_OPTIONS);
      try {
        const payload = Buffer.from(`after the cut at ${cut}`);
        assert.equal(await wal.append(payload, { tenant: 7 }), kept.length + 1, what);
        const all = await readAll(wal);
        assertSameRecords(
          all,
          [...log.expected.slice(0, kept.length), { lsn: kept.length + 1, payload, type: 0x8001, tenant: 7, vshard: 0, database: 0 }],
          what,
        );
      } finally {
        await wal.close();
      }
    } finally {
      fs.rmSync(path.dirname(outcome.segPath), { recursive: true, force: true });
    }
  }
});

test('garbage after the last record is a torn tail; the log then continues at the next LSN', async () => {
  const zeroTailBytes = log.bytes.length - log.endBytes;
  assert.ok(zeroTailBytes > 0, 'the reference log must end inside a block for this test');
  const overwritten = Buffer.from(log.bytes);
  randomBytes(zeroTailBytes).copy(overwritten, log.endBytes);
  const appended = Buffer.concat([log.bytes, randomBytes(10_000)]);
  for (const [what, bytes] of [
    ['random bytes over the zero tail', overwritten],
    ['random bytes appended', appended],
  ]) {
    const outcome = await openCopy(bytes, { keep: true });
    try {
      assertTornAt(outcome, RECORD_COUNT, bytes, what);
      const dir = path.dirname(outcome.segPath);
      const wal = await Wal.open(dir, OPEN_OPTIONS);
      try {
        assert.equal(wal.recovery.tornTail, null, `${what}: the cut is durable`);
        const payload = randomBytes(777);
        assert.equal(await wal.append(payload, { tenant: 1 }), RECORD_COUNT + 1);
        const all = await readAll(wal);
        assertSameRecords(all, [...log.expected, { lsn: RECORD_COUNT + 1, payload, type: 0x8001, tenant: 1, vshard: 0, database: 0 }], what);
      } finally {
        await wal.close();
      }
    } finally {
      fs.rmSync(path.dirname(outcome.segPath), { recursive: true, force: true });
    }
  }
});

test('a huge payload length is a typed error or a torn tail, with no huge allocation', async () => {
  for (const index of [700, log.lastBatchFirst + 2]) {
    const r = log.records[index];
    for (const sizeBytes of [0xfffffff0, 0x7fffffff, 64 * 1024 * 1024 + 8]) {
      const damaged = Buffer.from(log.bytes);
      damaged.writeUInt32LE(sizeBytes, r.offsetBytes + Field.SIZE);
      const rssBefore = process.memoryUsage().rss;
      const outcome = await openCopy(damaged);
      const growth = process.memoryUsage().rss - rssBefore;
      assert.ok(growth < RSS_GROWTH_BYTES_MAX, `rss grew by ${growth} bytes for length ${sizeBytes}`);
      const what = `length ${sizeBytes} in LSN ${r.lsn}`;
      if (index < log.lastBatchFirst) assertCorruptAt(outcome, r.offsetBytes, damaged, what);
      else assertTornAt(outcome, index, damaged, what);
    }
  }
});

test('files that are not segments are refused with a WalError', async () => {
  const wrongMagic = Buffer.from(log.bytes);
  wrongMagic[3] ^= 0x20;
  // The format before this one and one after it: both are refused, never read as this one.
  const version3 = Buffer.from(log.bytes);
  version3.writeUInt16LE(3, 8);
  resealSegmentHeader(version3);
  // A later version than this build's, with a valid CRC.
  const laterVersion = Buffer.from(log.bytes);
  laterVersion.writeUInt16LE(FORMAT_VERSION + 1, 8);
  resealSegmentHeader(laterVersion);
  const oddBlock = Buffer.from(log.bytes);
  oddBlock.writeUInt32LE(3000, 12);
  resealSegmentHeader(oddBlock);
  const badHeaderCrc = Buffer.from(log.bytes);
  badHeaderCrc[60] ^= 1;
  const randomWithMagic = Buffer.concat([log.bytes.subarray(0, 8), randomBytes(8192)]);
  const cases = [
    ['pure random bytes, 64 KiB', randomBytes(65536), WalCorruptionError],
    ['pure random bytes, 4 KiB', randomBytes(4096), WalCorruptionError],
    ['random bytes after a valid magic', randomWithMagic, WalCorruptionError],
    ['wrong magic', wrongMagic, WalCorruptionError],
    ['header CRC mismatch', badHeaderCrc, WalCorruptionError],
    ['format version 3 with a valid CRC', version3, WalUnsupportedFormatError],
    ['a later format version with a valid CRC', laterVersion, WalUnsupportedFormatError],
    ['block size 3000 with a valid CRC', oddBlock, WalCorruptionError],
    ['empty file', Buffer.alloc(0), WalCorruptionError],
    ['1 byte', log.bytes.subarray(0, 1), WalCorruptionError],
    ['header cut at 64 bytes', log.bytes.subarray(0, 64), WalCorruptionError],
    ['header cut at 127 bytes', log.bytes.subarray(0, SEGMENT_HEADER_SIZE_BYTES - 1), WalCorruptionError],
    ['a zero block', Buffer.alloc(4096), WalCorruptionError],
  ];
  const codeOf = (errorClass) => (errorClass === WalCorruptionError ? 'WAL_ERR_CORRUPT' : 'WAL_ERR_UNSUPPORTED_FORMAT');
  for (const [what, bytes, errorClass] of cases) {
    const outcome = await openCopy(bytes);
    assert.equal(outcome.opened, false, `${what}: open must refuse`);
    assert.ok(outcome.error instanceof errorClass, `${what}: not a ${errorClass.name}: ${outcome.error?.stack}`);
    assert.equal(outcome.error.code, codeOf(errorClass), `${what}: ${outcome.error.message}`);
    assert.equal(outcome.error.path, outcome.segPath, what);
    assert.ok(outcome.after.equals(bytes), `${what}: a refused open changed the file`);
  }
  // A segment whose header disagrees with its name (LSN 1 in the header, 2 in the name).
  const { dir, segPath } = placeCopy(log.bytes, segmentName(2, 1));
  try {
    await assert.rejects(Wal.open(dir, OPEN_OPTIONS), (err) => {
      assert.ok(err instanceof WalCorruptionError);
      assert.equal(err.code, 'WAL_ERR_CORRUPT');
      assert.equal(err.path, segPath);
      assert.equal(err.offsetBytes, 0);
      return true;
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Every single-bit flip of a tiny log (two batches of two records): the header, the records
 * and some of the zero bytes after them, each position's outcome predicted from the recovery rules.
 */
test('every single-bit flip of a tiny log: a WalError or exactly a prefix, as the position predicts', { timeout: 120_000 }, async () => {
  const dir = path.join(root, 'tiny');
  const wal = await Wal.open(dir, { directIo: 'required', preallocate: false });
  const expected = [];
  for (const [payloads, meta] of /** @type {const} */ ([
    [[Buffer.alloc(0), Buffer.from('abc')], { type: 0x8002, tenant: 3, vshard: 4, database: 5 }],
    [[Buffer.from('z'), Buffer.from('sixsix')], { type: 0x0009, tenant: 2 ** 40 + 1, vshard: 2 ** 32 - 1, database: 6 }],
  ])) {
    const { firstLsn } = await wal.appendBatch(payloads, meta);
    payloads.forEach((payload, i) => expected.push({ lsn: firstLsn + i, payload, ...meta }));
  }
  await wal.close();
  const bytes = fs.readFileSync(path.join(dir, SEGMENT_NAME));
  const walk = walkSegment(bytes);
  assert.deepEqual(
    walk.records.map((r) => r.pendingIndex),
    [0, 1, 0, 1],
  );
  const ZERO_TAIL_CHECKED_BYTES = 16;
  const positions = [];
  for (let at = 0; at < SEGMENT_HEADER_SIZE_BYTES; at++) positions.push(at);
  for (let at = walk.blockSizeBytes; at < walk.endBytes + ZERO_TAIL_CHECKED_BYTES; at++) positions.push(at);

  // What each byte position must lead to, from docs/design.md's recovery rules.
  function predict(at) {
    if (at < SEGMENT_HEADER_SIZE_BYTES) return { kind: 'corrupt', offsetBytes: 0 };
    if (at >= walk.endBytes) return { kind: 'torn', index: walk.records.length };
    const index = walk.records.findIndex((r) => at < r.offsetBytes + r.spanBytes);
    const r = walk.records[index];
    // Padding is outside the CRC; a flip there may go unnoticed but must not change a record.
    if (at >= r.offsetBytes + RECORD_HEADER_SIZE_BYTES + r.sizeBytes) return { kind: 'padding' };
    return index < 2 ? { kind: 'corrupt', offsetBytes: r.offsetBytes } : { kind: 'torn', index };
  }

  // Opens overlap their waits on the disk; more than a few gains nothing on a small machine.
  const CONCURRENCY = 4;
  const seen = { corrupt: 0, torn: 0, padding: 0 };
  const bits = [];
  for (let b = 0; b < positions.length * 8; b++) bits.push(b);
  let next = 0;
  async function worker() {
    while (next < bits.length) {
      const b = bits[next++];
      const at = positions[b >> 3];
      const bit = b & 7;
      const damaged = flipped(bytes, at, bit);
      const what = `bit ${bit} of byte ${at}`;
      const outcome = await openCopyTiny(damaged);
      const expectation = predict(at);
      seen[expectation.kind] += 1;
      if (outcome.opened) {
        // Whatever opens holds a prefix of the original records, each exactly as written.
        assertSameRecords(outcome.records, expected.slice(0, outcome.records.length), what);
      } else {
        assert.ok(outcome.error instanceof WalError, `${what}: ${outcome.error?.stack}`);
        assert.ok(['WAL_ERR_CORRUPT', 'WAL_ERR_UNSUPPORTED_FORMAT'].includes(outcome.error.code), `${what}: ${outcome.error.message}`);
      }
      if (expectation.kind === 'corrupt') {
        assert.equal(outcome.opened, false, `${what}: must be refused, opened with ${outcome.records?.length} records`);
        assert.equal(outcome.error.code, 'WAL_ERR_CORRUPT', what);
        assert.equal(outcome.error.offsetBytes, expectation.offsetBytes, `${what}: ${outcome.error.message}`);
      } else if (expectation.kind === 'torn') {
        assert.equal(outcome.opened, true, `${what}: ${outcome.error?.message}`);
        assert.equal(outcome.records.length, expectation.index, what);
        const offsetBytes = expectation.index < walk.records.length ? walk.records[expectation.index].offsetBytes : walk.endBytes;
        assert.equal(outcome.recovery.tornTail?.offsetBytes, offsetBytes, what);
      } else if (outcome.opened) {
        assert.equal(outcome.records.length, expected.length, `${what}: a padding flip dropped records`);
      }
    }
  }
  async function openCopyTiny(damaged) {
    const caseDir = fs.mkdtempSync(path.join(root, 'bit-'));
    fs.writeFileSync(path.join(caseDir, SEGMENT_NAME), damaged);
    try {
      let w;
      try {
        w = await Wal.open(caseDir, OPEN_OPTIONS);
      } catch (error) {
        return { opened: false, error };
      }
      try {
        return { opened: true, recovery: w.recovery, records: await readAll(w) };
      } finally {
        await w.close();
      }
    } finally {
      fs.rmSync(caseDir, { recursive: true, force: true });
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  assert.ok(seen.corrupt > 0 && seen.torn > 0 && seen.padding > 0, JSON.stringify(seen));
});

test('the reader throws WAL_ERR_CORRUPT at damage in the durable range, after exactly the records before it', async () => {
  const { dir, segPath } = placeCopy(log.bytes);
  const wal = await Wal.open(dir, { ...OPEN_OPTIONS, directIo: 'required' });
  try {
    assert.equal(wal.durableLsn, RECORD_COUNT);
    // Damage on disk while the log is open: a buffered write made durable, then O_DIRECT reads.
    const damageOnDisk = (at, bytes) => {
      const fd = fs.openSync(segPath, 'r+');
      try {
        fs.writeSync(fd, bytes, 0, bytes.length, at);
        fs.fdatasyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    };
    const readUntilError = async (options) => {
      const records = [];
      let error = null;
      try {
        for await (const rec of wal.read(options)) records.push(rec);
      } catch (err) {
        error = err;
      }
      return { records, error };
    };
    // A payload byte, so the first record from LSN 1235 on that has one.
    const index = log.records.findIndex((x, i) => i >= 1234 && x.sizeBytes > 0);
    const r = log.records[index];
    const at = r.offsetBytes + RECORD_HEADER_SIZE_BYTES + (r.sizeBytes >> 1);
    damageOnDisk(at, Buffer.from([log.bytes[at] ^ 0x10]));
    for (const fromLsn of [1, 1000]) {
      const { records, error } = await readUntilError({ fromLsn });
      assert.ok(error instanceof WalCorruptionError, `fromLsn ${fromLsn}: the reader must throw, it yielded ${records.length} records`);
      assert.equal(error.code, 'WAL_ERR_CORRUPT');
      assert.equal(error.path, segPath);
      assert.equal(error.offsetBytes, r.offsetBytes);
      assertSameRecords(records, log.expected.slice(fromLsn - 1, index), `reader from ${fromLsn}`);
    }
    // A reader that starts after the damage must still refuse: it cannot reach its start without it.
    const past = await readUntilError({ fromLsn: r.lsn + 200 });
    assert.equal(past.error?.code, 'WAL_ERR_CORRUPT');
    assert.equal(past.records.length, 0);

    // Repaired, then a huge length in another record: the reader stops there without allocating it.
    damageOnDisk(at, log.bytes.subarray(at, at + 1));
    assertSameRecords(await readAll(wal), log.expected, 'after the repair');
    const h = log.records[1700];
    const length = Buffer.alloc(4);
    length.writeUInt32LE(0xfffffff0);
    damageOnDisk(h.offsetBytes + Field.SIZE, length);
    const rssBefore = process.memoryUsage().rss;
    const { records, error } = await readUntilError();
    assert.ok(process.memoryUsage().rss - rssBefore < RSS_GROWTH_BYTES_MAX);
    assert.equal(error?.code, 'WAL_ERR_CORRUPT');
    assert.equal(error.offsetBytes, h.offsetBytes);
    assertSameRecords(records, log.expected.slice(0, 1700), 'huge length');
  } finally {
    await wal.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
