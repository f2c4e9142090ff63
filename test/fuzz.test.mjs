// High-volume fuzzing of open, recovery and the reader on the simulated disk: damaged and random
// segment files must give a typed WalError or exactly a prefix of what was written, never an
// untyped exception, a hang or an allocation beyond the format's bound. (test/damage.test.mjs
// covers hand-picked damage on real files; this is the many-thousands variant.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WalError } from '../dist/index.js';
import { ALLOCATION_BOUND_BYTES, buildLog, openDamaged } from '../dist-test/harness/damaged-open.js';
import { Prng } from '../dist/sim/prng.js';
import { crc32c } from '../dist/format/crc32c.js';

const SEGMENT = 'wal-00000000000000000001-0000000001.seg';
const HEADER_CRC_OFFSET = 124;
const RECORD_HEADER_BYTES = 48;

/** A small log in three durable batches, so damage can fall in acknowledged data or the last batch. */
async function smallLog(alignmentBytes, seed = 9) {
  const rng = new Prng(seed);
  const batches = [];
  for (let b = 0; b < 3; b++) {
    const batch = [];
    for (let i = 0; i < 3; i++) {
      const p = new Uint8Array(rng.between(0, 60));
      rng.fill(p);
      batch.push(p);
    }
    batches.push(batch);
  }
  const files = await buildLog(batches, alignmentBytes);
  return { files, payloads: batches.flat() };
}

/** The one rule every outcome must follow. Returns the outcome's kind for tallies. */
function checkOutcome(outcome, payloads, what) {
  assert.ok(outcome.largestAllocationBytes <= ALLOCATION_BOUND_BYTES, `${what}: allocated ${outcome.largestAllocationBytes} bytes`);
  assert.notEqual(outcome.kind, 'hang', `${what}: open or read hung`);
  assert.notEqual(outcome.kind, 'broke-invariant', `${what}: ${outcome.message}`);
  if (outcome.kind === 'error') {
    assert.ok(outcome.error instanceof WalError, `${what}: untyped error ${outcome.error?.stack ?? outcome.error}`);
    return outcome.error.code;
  }
  const { records, nextLsn } = outcome;
  assert.ok(records.length <= payloads.length, `${what}: ${records.length} records from a log of ${payloads.length}`);
  for (let i = 0; i < records.length; i++) {
    assert.equal(records[i].lsn, i + 1, `${what}: LSN order`);
    assert.ok(Buffer.from(payloads[i]).equals(records[i].payload), `${what}: LSN ${i + 1} has wrong bytes`);
  }
  assert.equal(nextLsn, records.length + 1, `${what}: next LSN`);
  return `prefix`;
}

function withSegment(bytes) {
  return new Map([[SEGMENT, bytes]]);
}

function tally(counts, key) {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

test('the clean small log opens to all its records', async () => {
  for (const alignment of [512, 4096]) {
    const { files, payloads } = await smallLog(alignment);
    const outcome = await openDamaged(files, alignment);
    assert.equal(outcome.kind, 'records');
    assert.equal(outcome.records.length, payloads.length);
    checkOutcome(outcome, payloads, 'clean');
  }
});

test('every single-bit flip of a small log: a typed error or the correct prefix', async () => {
  const alignment = 512;
  const { files, payloads } = await smallLog(alignment);
  const clean = files.get(SEGMENT);
  const counts = new Map();
  const started = performance.now();
  for (let bit = 0; bit < clean.byteLength * 8; bit++) {
    const damaged = clean.slice();
    damaged[bit >>> 3] ^= 1 << (bit & 7);
    tally(counts, checkOutcome(await openDamaged(withSegment(damaged), alignment), payloads, `bit ${bit}`));
  }
  const opens = clean.byteLength * 8;
  console.log(`# ${opens} bit flips in ${((performance.now() - started) / 1000).toFixed(1)} s: ${JSON.stringify(Object.fromEntries(counts))}`);
  assert.ok(counts.get('WAL_ERR_CORRUPT') > 0 && counts.get('prefix') > 0);
});

test('every truncation: a typed error or the correct prefix', async () => {
  for (const alignment of [512, 4096]) {
    const { files, payloads } = await smallLog(alignment);
    const clean = files.get(SEGMENT);
    for (let size = 0; size <= clean.byteLength; size++) {
      checkOutcome(await openDamaged(withSegment(clean.subarray(0, size)), alignment), payloads, `truncated to ${size}`);
    }
  }
});

test('huge and absurd payload lengths are refused before any large allocation', async () => {
  const alignment = 4096;
  const { files, payloads } = await smallLog(alignment);
  const clean = files.get(SEGMENT);
  const lengths = [0xffffffff, 0x80000000, 64 * 1024 * 1024 + 1, 64 * 1024 * 1024, 1 << 20, 4097, 4096, 1];
  for (const sizeBytes of lengths) {
    for (let offset = alignment; offset < alignment + 400; offset += 8) {
      const damaged = clean.slice();
      new DataView(damaged.buffer).setUint32(offset + 4, sizeBytes, true);
      checkOutcome(await openDamaged(withSegment(damaged), alignment), payloads, `length ${sizeBytes} at ${offset}`);
    }
  }
});

test('segment headers: wrong magic, version, block size, first LSN, all with a valid CRC', async () => {
  const alignment = 4096;
  const { files, payloads } = await smallLog(alignment);
  const clean = files.get(SEGMENT);
  /** @type {Array<[string, (v: DataView) => void, string | null]>} */
  const edits = [
    ['magic', (v) => v.setUint8(0, 0x52), 'WAL_ERR_CORRUPT'],
    ['version 3', (v) => v.setUint16(8, 3, true), 'WAL_ERR_UNSUPPORTED_FORMAT'],
    ['version 4', (v) => v.setUint16(8, 4, true), 'WAL_ERR_UNSUPPORTED_FORMAT'],
    ['version 5', (v) => v.setUint16(8, 5, true), 'WAL_ERR_UNSUPPORTED_FORMAT'],
    ['version 7', (v) => v.setUint16(8, 7, true), 'WAL_ERR_UNSUPPORTED_FORMAT'],
    ['header size', (v) => v.setUint16(10, 64, true), null],
    ['block size 3000', (v) => v.setUint32(12, 3000, true), null],
    ['block size 1 GiB', (v) => v.setUint32(12, 1 << 30, true), null],
    ['block size 0', (v) => v.setUint32(12, 0, true), null],
    ['segment id 0', (v) => v.setUint32(24, 0, true), null],
    ['first LSN 7', (v) => v.setUint32(32, 7, true), 'WAL_ERR_CORRUPT'],
    ['first LSN 2^60', (v) => v.setUint32(36, 1 << 28, true), null],
    ['flags', (v) => v.setUint32(28, 0xffffffff, true), null],
    ['largest write 0', (v) => v.setUint32(120, 0, true), 'WAL_ERR_CORRUPT'],
    ['largest write not a block multiple', (v) => v.setUint32(120, 4097, true), 'WAL_ERR_CORRUPT'],
  ];
  for (const [what, edit, code] of edits) {
    const damaged = clean.slice();
    const view = new DataView(damaged.buffer);
    edit(view);
    view.setUint32(HEADER_CRC_OFFSET, crc32c(damaged.subarray(0, HEADER_CRC_OFFSET)), true);
    const outcome = await openDamaged(withSegment(damaged), alignment);
    const kind = checkOutcome(outcome, payloads, what);
    if (code !== null) assert.equal(kind, code, what);
  }
});

test('random bytes: whole random files, random damage and odd directory entries', async () => {
  const rng = new Prng(2024);
  const { files, payloads } = await smallLog(4096);
  const clean = files.get(SEGMENT);
  const counts = new Map();
  const started = performance.now();
  const attempts = 3000;
  for (let i = 0; i < attempts; i++) {
    const mode = rng.below(4);
    let damaged;
    if (mode === 0) {
      damaged = new Uint8Array(rng.between(0, 3 * 4096));
      rng.fill(damaged);
    } else if (mode === 1) {
      // A valid header, then random bytes where records should be.
      damaged = clean.slice();
      rng.fill(damaged.subarray(4096 + rng.below(200)));
    } else if (mode === 2) {
      damaged = clean.slice();
      for (let k = rng.between(1, 16); k > 0; k--) damaged[rng.below(damaged.byteLength)] = rng.u32() & 0xff;
    } else {
      // A random-looking record header planted at a record boundary: plausible fields, bad CRC.
      damaged = clean.slice();
      const at = 4096 + 8 * rng.below(40);
      rng.fill(damaged.subarray(at, at + RECORD_HEADER_BYTES));
    }
    const dir = new Map([[SEGMENT, damaged]]);
    if (rng.chance(0.2)) dir.set(`${SEGMENT}.tmp`, damaged.subarray(0, rng.below(damaged.byteLength + 1)));
    if (rng.chance(0.1)) dir.set('wal-00000000000000000000-0000000001.seg', damaged.subarray(0, 4096));
    const outcome = await openDamaged(dir, 4096);
    // With an extra segment the rules still hold: its records, if any, are never wrong bytes.
    const kind =
      dir.size > 1 && dir.has('wal-00000000000000000000-0000000001.seg')
        ? outcome.kind === 'error'
          ? checkOutcome(outcome, payloads, `random ${i}`)
          : 'other'
        : checkOutcome(outcome, payloads, `random ${i}`);
    tally(counts, kind);
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `# ${attempts} random files in ${seconds.toFixed(1)} s (${(attempts / seconds).toFixed(0)} opens/s): ${JSON.stringify(Object.fromEntries(counts))}`,
  );
});
