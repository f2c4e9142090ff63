/**
 * The segment header: 128 bytes at offset 0 of every segment, alone in the segment's first block
 * (records start at the next block, so rewriting the tail block never rewrites the header).
 * It identifies a file without trusting its name, and once the segment is sealed it records
 * where the segment ends, so open can check continuity without scanning sealed segments.
 * Drawn in docs/format.md.
 */
import assert from 'node:assert/strict';
import { crc32c } from './crc32c.js';
import {
  CIPHER_AES_256_GCM,
  SEGMENT_FLAG_ENCRYPTED,
  SEGMENT_KEY_CHECK_BYTES,
  SEGMENT_SALT_BYTES,
  BLOCK_SIZE_BYTES_MAX,
  BLOCK_SIZE_BYTES_MIN,
  FORMAT_VERSION,
  LSN_MAX,
  SEGMENT_FLAG_SEALED,
  SEGMENT_HEADER_SIZE_BYTES,
  SEGMENT_MAGIC,
  SegmentField,
} from './constants.js';
import { setU64, getU64 } from './u64.js';

export interface SegmentSeal {
  lastLsn: number;
  endBytes: number;
  /** Offset of the last record; 0 when the segment holds none. */
  lastRecordBytes: number;
}

/** The crypto area of an encrypted segment (docs/format.md, "Encryption"). */
export interface SegmentCrypto {
  /** The master key's id, as the user named it. */
  keyId: number;
  /** Random, drawn when the segment was begun: the segment's data key derives from it. */
  salt: Uint8Array;
  /** The first 16 bytes of HMAC-SHA256(data key, "ringwal/v6/key-check"): a wrong key is told at open. */
  keyCheck: Uint8Array;
}

export interface SegmentHeader {
  formatVersion: number;
  blockSizeBytes: number;
  /** Random at log creation, the same in every segment of one log. */
  logId: bigint;
  /** Unique for the life of the log; every record of the segment carries it. */
  segmentId: number;
  firstLsn: number;
  flags: number;
  /** Ids up to here were given out before (some segments may have been removed since). */
  segmentIdFloor: number;
  /** Bumped by every in-place cut (truncateAfter); double-write copies name the incarnation they copy. */
  incarnation: number;
  /** The most bytes in flight at once in the record area, so recovery knows how far a crash can tear. */
  inFlightBytesMax: number;
  /** The LSN of the last checkpoint when the segment was begun, below its first LSN; 0 for none. */
  checkpointLsn: number;
  /** Present once the segment is sealed. */
  seal: SegmentSeal | null;
  /** Present when the segment's records are encrypted (flag bit 0). */
  crypto: SegmentCrypto | null;
}

export function encodeSegmentHeader(header: SegmentHeader, out: Uint8Array): void {
  assert(out.byteLength >= SEGMENT_HEADER_SIZE_BYTES, 'segment header buffer too small');
  assert.equal(header.seal !== null, (header.flags & SEGMENT_FLAG_SEALED) !== 0, 'seal fields and sealed flag disagree');
  assert(header.inFlightBytesMax % header.blockSizeBytes === 0, 'the bytes in flight are a whole number of blocks');
  assert(header.checkpointLsn >= 0 && header.checkpointLsn < header.firstLsn, 'a segment names a checkpoint before it');
  assert.equal(header.crypto !== null, (header.flags & SEGMENT_FLAG_ENCRYPTED) !== 0, 'crypto fields and encrypted flag disagree');
  out.fill(0, 0, SEGMENT_HEADER_SIZE_BYTES);
  const view = new DataView(out.buffer, out.byteOffset, SEGMENT_HEADER_SIZE_BYTES);
  out.set(SEGMENT_MAGIC, SegmentField.MAGIC);
  view.setUint16(SegmentField.FORMAT_VERSION, header.formatVersion, true);
  view.setUint16(SegmentField.HEADER_SIZE, SEGMENT_HEADER_SIZE_BYTES, true);
  view.setUint32(SegmentField.BLOCK_SIZE, header.blockSizeBytes, true);
  view.setBigUint64(SegmentField.LOG_ID, header.logId, true);
  view.setUint32(SegmentField.SEGMENT_ID, header.segmentId, true);
  view.setUint32(SegmentField.FLAGS, header.flags, true);
  view.setUint32(SegmentField.SEGMENT_ID_FLOOR, header.segmentIdFloor, true);
  view.setUint32(SegmentField.INCARNATION, header.incarnation, true);
  view.setUint32(SegmentField.IN_FLIGHT_BYTES_MAX, header.inFlightBytesMax, true);
  setU64(view, SegmentField.FIRST_LSN, header.firstLsn);
  setU64(view, SegmentField.CHECKPOINT_LSN, header.checkpointLsn);
  const crypto = header.crypto;
  if (crypto !== null) {
    assert(crypto.salt.byteLength === SEGMENT_SALT_BYTES && crypto.keyCheck.byteLength === SEGMENT_KEY_CHECK_BYTES, 'salt and key check sizes');
    assert(Number.isInteger(crypto.keyId) && crypto.keyId >= 1 && crypto.keyId <= 0xffff_ffff, 'a key id is a u32 above 0');
    view.setUint16(SegmentField.CIPHER, CIPHER_AES_256_GCM, true);
    view.setUint32(SegmentField.KEY_ID, crypto.keyId, true);
    out.set(crypto.salt, SegmentField.SALT);
    out.set(crypto.keyCheck, SegmentField.KEY_CHECK);
  }
  if (header.seal !== null) {
    setU64(view, SegmentField.SEALED_LAST_LSN, header.seal.lastLsn);
    setU64(view, SegmentField.SEALED_END, header.seal.endBytes);
    setU64(view, SegmentField.SEALED_LAST_RECORD, header.seal.lastRecordBytes);
  }
  view.setUint32(SegmentField.CRC32C, crc32c(out.subarray(0, SegmentField.CRC32C)), true);
}

export type SegmentHeaderResult = { ok: true; header: SegmentHeader } | { ok: false; unsupported: boolean; reason: string };

function damaged(reason: string): SegmentHeaderResult {
  return { ok: false, unsupported: false, reason };
}

/**
 * Parses and checks a header. A header whose CRC holds but whose version this build does not
 * read is `unsupported` (a newer ringwal wrote it), not damage.
 */
export function decodeSegmentHeader(bytes: Uint8Array): SegmentHeaderResult {
  if (bytes.byteLength < SEGMENT_HEADER_SIZE_BYTES) return damaged(`header is ${bytes.byteLength} bytes, expected ${SEGMENT_HEADER_SIZE_BYTES}`);
  for (let i = 0; i < SEGMENT_MAGIC.length; i++) {
    if (bytes[SegmentField.MAGIC + i] !== SEGMENT_MAGIC[i]) return damaged('bad magic: not a ringwal segment');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, SEGMENT_HEADER_SIZE_BYTES);
  const storedCrc = view.getUint32(SegmentField.CRC32C, true);
  if (crc32c(bytes.subarray(0, SegmentField.CRC32C)) !== storedCrc) return damaged('segment header CRC mismatch');
  const flags = view.getUint32(SegmentField.FLAGS, true);
  const header: SegmentHeader = {
    formatVersion: view.getUint16(SegmentField.FORMAT_VERSION, true),
    blockSizeBytes: view.getUint32(SegmentField.BLOCK_SIZE, true),
    logId: view.getBigUint64(SegmentField.LOG_ID, true),
    segmentId: view.getUint32(SegmentField.SEGMENT_ID, true),
    firstLsn: getU64(view, SegmentField.FIRST_LSN),
    flags,
    segmentIdFloor: view.getUint32(SegmentField.SEGMENT_ID_FLOOR, true),
    incarnation: view.getUint32(SegmentField.INCARNATION, true),
    inFlightBytesMax: view.getUint32(SegmentField.IN_FLIGHT_BYTES_MAX, true),
    checkpointLsn: getU64(view, SegmentField.CHECKPOINT_LSN),
    seal:
      (flags & SEGMENT_FLAG_SEALED) === 0
        ? null
        : {
            lastLsn: getU64(view, SegmentField.SEALED_LAST_LSN),
            endBytes: getU64(view, SegmentField.SEALED_END),
            lastRecordBytes: getU64(view, SegmentField.SEALED_LAST_RECORD),
          },
    crypto:
      (flags & SEGMENT_FLAG_ENCRYPTED) === 0
        ? null
        : {
            keyId: view.getUint32(SegmentField.KEY_ID, true),
            salt: bytes.slice(SegmentField.SALT, SegmentField.SALT + SEGMENT_SALT_BYTES),
            keyCheck: bytes.slice(SegmentField.KEY_CHECK, SegmentField.KEY_CHECK + SEGMENT_KEY_CHECK_BYTES),
          },
  };
  if (header.formatVersion !== FORMAT_VERSION) {
    return { ok: false, unsupported: true, reason: `format version ${header.formatVersion}, this build reads ${FORMAT_VERSION}` };
  }
  if (view.getUint16(SegmentField.HEADER_SIZE, true) !== SEGMENT_HEADER_SIZE_BYTES) return damaged('unexpected header size');
  const block = header.blockSizeBytes;
  if (block < BLOCK_SIZE_BYTES_MIN || block > BLOCK_SIZE_BYTES_MAX || (block & (block - 1)) !== 0) {
    return damaged(`block size ${block} is not a power of two in [${BLOCK_SIZE_BYTES_MIN}, ${BLOCK_SIZE_BYTES_MAX}]`);
  }
  if (header.segmentId === 0) return damaged('segment id 0 is never written');
  if (header.firstLsn < 1 || header.firstLsn > LSN_MAX) return damaged(`first LSN ${header.firstLsn} out of range`);
  if (header.inFlightBytesMax < block || header.inFlightBytesMax % block !== 0)
    return damaged(`bytes in flight ${header.inFlightBytesMax} is not a positive multiple of the block`);
  if (header.checkpointLsn >= header.firstLsn) return damaged(`checkpoint LSN ${header.checkpointLsn} not below the first LSN ${header.firstLsn}`);
  if (header.crypto === null) {
    for (let i = SegmentField.CRYPTO; i < SegmentField.CRYPTO + SegmentField.CRYPTO_SIZE; i++) {
      if (bytes[i] !== 0) return damaged('a plaintext segment with a crypto area that is not zero');
    }
  } else {
    const cipher = view.getUint16(SegmentField.CIPHER, true);
    if (cipher !== CIPHER_AES_256_GCM) return { ok: false, unsupported: true, reason: `cipher ${cipher}, this build knows only 1 (AES-256-GCM)` };
    if (view.getUint16(SegmentField.CRYPTO_RESERVED, true) !== 0) return damaged('the crypto area has a reserved field that is not zero');
    if (header.crypto.keyId === 0) return damaged('an encrypted segment names key id 0');
  }
  const seal = header.seal;
  if (seal !== null) {
    if (seal.lastLsn < header.firstLsn - 1 || seal.lastLsn > LSN_MAX) return damaged(`sealed last LSN ${seal.lastLsn} before the first LSN`);
    if (seal.endBytes < block || seal.lastRecordBytes > seal.endBytes) return damaged('sealed end offsets out of order');
  }
  return { ok: true, header };
}
