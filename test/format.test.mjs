// The format's codecs on their own (src/format/ needs no addon): the double-write slot, the
// truncation intent and the segment header round-trip, and refuse what they must.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32c, crc32cRanges } from '../dist/format/crc32c.js';
import { decodeDwbSlot, encodeDwbSlot } from '../dist/format/dwb-slot.js';
import { decodeTruncateIntent, encodeTruncateIntent, TRUNCATE_INTENT_SIZE_BYTES } from '../dist/format/truncate-intent.js';
import { decodeSegmentHeader, encodeSegmentHeader } from '../dist/format/segment-header.js';
import { crc32c as independentCrc32c } from './helpers/format.mjs';

test('CRC-32C in TypeScript: the check value, and agreement with an independent table', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  for (let n = 0; n < 300; n++) {
    const bytes = Buffer.alloc(n, (n * 31) & 0xff);
    assert.equal(crc32c(bytes), independentCrc32c(bytes), `length ${n}`);
  }
  const out = new Uint32Array(2);
  crc32cRanges(Buffer.from('xx123456789'), Uint32Array.of(2, 9, 0, 0), 2, out);
  assert.deepEqual([...out], [0xe3069283, 0]);
  assert.throws(() => crc32cRanges(Buffer.alloc(4), Uint32Array.of(2, 9), 1, new Uint32Array(1)), { code: 'ERR_ASSERTION' });
});

test('a DWB slot copies a block on the segment grid, which may be finer than the slot block', () => {
  const geometry = { slotBlockBytes: 4096, copyBlockBytes: 512 };
  const slot = new Uint8Array(2 * 4096);
  const copy = { seq: 7, segmentId: 3, incarnation: 2, blockOffsetBytes: 3 * 512, bytes: Uint8Array.from({ length: 300 }, (_, i) => i & 0xff) };
  encodeDwbSlot(slot, geometry, 42n, copy);
  assert.deepEqual(decodeDwbSlot(slot, geometry, 42n), copy);
  assert.equal(decodeDwbSlot(slot, geometry, 43n), null, 'another log');
  slot[4096 + 10] ^= 1;
  assert.equal(decodeDwbSlot(slot, geometry, 42n), null, 'a damaged copy');
  assert.throws(() => encodeDwbSlot(slot, geometry, 42n, { ...copy, blockOffsetBytes: 100 }), { code: 'ERR_ASSERTION' });
  assert.throws(() => encodeDwbSlot(slot, geometry, 42n, { ...copy, bytes: new Uint8Array(512) }), { code: 'ERR_ASSERTION' });
});

test('a truncation intent round-trips in every mode and refuses damage', () => {
  const base = { lsn: 2 ** 40 + 5, segmentFirstLsn: 2 ** 40, segmentId: 9, segmentIdFloor: 12, newSegmentId: 0, incarnation: 0, zeroEndBytes: 0 };
  /** @type {import('../dist/format/truncate-intent.js').TruncateIntent[]} */
  const intents = [
    { ...base, mode: 'in-place', incarnation: 4, zeroEndBytes: 1 << 30 },
    { ...base, mode: 'replace', newSegmentId: 12 },
    { ...base, mode: 'keep-sealed' },
  ];
  for (const intent of intents) {
    const bytes = new Uint8Array(TRUNCATE_INTENT_SIZE_BYTES);
    encodeTruncateIntent(intent, bytes);
    assert.deepEqual(decodeTruncateIntent(bytes), intent);
    for (const at of [0, 6, 8, 40, 59]) {
      const damaged = bytes.slice();
      damaged[at] ^= 0x10;
      assert.equal(decodeTruncateIntent(damaged), null, `${intent.mode}: byte ${at} changed`);
    }
  }
  const bytes = new Uint8Array(TRUNCATE_INTENT_SIZE_BYTES);
  encodeTruncateIntent({ ...base, mode: 'replace', newSegmentId: 13 }, bytes);
  assert.equal(decodeTruncateIntent(bytes), null, 'a replacement id above the floor is not a valid plan');
});

test('a segment header round-trips with its incarnation and bytes in flight, and refuses other versions', () => {
  const header = {
    formatVersion: 6,
    blockSizeBytes: 4096,
    logId: 0x1234_5678_9abc_def0n,
    segmentId: 5,
    firstLsn: 1000,
    flags: 2,
    segmentIdFloor: 7,
    incarnation: 3,
    inFlightBytesMax: 4096 * 1025,
    checkpointLsn: 777,
    seal: { lastLsn: 1999, endBytes: 999_424, lastRecordBytes: 999_000 },
    crypto: null,
  };
  const bytes = new Uint8Array(128);
  encodeSegmentHeader(header, bytes);
  assert.deepEqual(decodeSegmentHeader(bytes), { ok: true, header });
  for (const version of [1, 2, 3, 4, 5, 7]) {
    const other = bytes.slice();
    new DataView(other.buffer).setUint16(8, version, true);
    new DataView(other.buffer).setUint32(124, crc32c(other.subarray(0, 124)), true);
    const decoded = decodeSegmentHeader(other);
    assert.equal(decoded.ok, false);
    assert.equal(decoded.unsupported, true, `version ${version} is unsupported, not damage`);
  }
});

test('an encrypted segment header round-trips its crypto area; a plaintext one must keep it zero; another cipher is unsupported', () => {
  const salt = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
  const keyCheck = Uint8Array.from({ length: 16 }, (_, i) => 200 + i);
  const header = {
    formatVersion: 6,
    blockSizeBytes: 4096,
    logId: 42n,
    segmentId: 9,
    firstLsn: 10,
    flags: 1,
    segmentIdFloor: 9,
    incarnation: 0,
    inFlightBytesMax: 4096,
    checkpointLsn: 0,
    seal: null,
    crypto: { keyId: 7, salt, keyCheck },
  };
  const bytes = new Uint8Array(128);
  encodeSegmentHeader(header, bytes);
  assert.deepEqual(decodeSegmentHeader(bytes), { ok: true, header });
  const view = new DataView(bytes.buffer);
  assert.equal(view.getUint16(64, true), 1, 'cipher 1 at offset 64');
  assert.equal(view.getUint32(68, true), 7, 'key id at offset 68');
  assert.deepEqual(bytes.subarray(72, 88), salt);
  assert.deepEqual(bytes.subarray(88, 104), keyCheck);
  /** @param {(b: Uint8Array, v: DataView) => void} change */
  const decodeChanged = (change) => {
    const other = bytes.slice();
    const v = new DataView(other.buffer);
    change(other, v);
    v.setUint32(124, crc32c(other.subarray(0, 124)), true);
    return decodeSegmentHeader(other);
  };
  const otherCipher = decodeChanged((_, v) => v.setUint16(64, 2, true));
  assert.equal(otherCipher.ok, false);
  assert.equal(otherCipher.ok === false && otherCipher.unsupported, true);
  const plainWithSalt = decodeChanged((_, v) => v.setUint32(28, 0, true));
  assert.equal(plainWithSalt.ok === false && plainWithSalt.unsupported, false, 'a plaintext header with a crypto area is damage');
  const keyIdZero = decodeChanged((_, v) => v.setUint32(68, 0, true));
  assert.equal(keyIdZero.ok, false);
});
