/**
 * An independent reading of on-disk format v4 (docs/format.md) for the damage and crash tests.
 *
 * It does not import ringwal's own decoder on purpose: expected offsets and CRCs computed by the
 * code under test could not catch a bug in that code.
 */
import fs from 'node:fs';

/** `wal-<first LSN, 20 digits>-<segment id, 10 digits>.seg`. */
export function segmentName(firstLsn, segmentId) {
  return `wal-${String(firstLsn).padStart(20, '0')}-${String(segmentId).padStart(10, '0')}.seg`;
}
export const SEGMENT_NAME_PATTERN = /^wal-(\d{20})-(\d{10})\.seg$/;
/** The first segment of a new log: first LSN 1, segment id 1. */
export const SEGMENT_NAME = segmentName(1, 1);
export const FORMAT_VERSION = 6;
/** Offset of the segment header's checkpoint LSN (u64). */
export const SEGMENT_HEADER_CHECKPOINT_LSN_AT = 104;
export const SEGMENT_HEADER_SIZE_BYTES = 128;
export const SEGMENT_HEADER_CRC_AT = 124;
export const RECORD_HEADER_SIZE_BYTES = 48;
/** The record CRC covers the header from the payload size field on, then the payload. */
const RECORD_CRC_START_BYTES = 4;
const RECORD_ALIGNMENT_BYTES = 8;
const MAGIC = 'ringwal\0';

/** Byte offsets of the record header fields. */
export const Field = { CRC: 0, SIZE: 4, LSN: 8, TENANT: 16, DATABASE: 24, VSHARD: 32, TYPE: 36, SEGMENT_ID: 40, PENDING_INDEX: 44 };

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    // 0x82f63b78 is the reflected Castagnoli polynomial.
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32c(bytes) {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = CRC32C_TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export function recordSpanBytes(payloadSizeBytes) {
  return Math.ceil((RECORD_HEADER_SIZE_BYTES + payloadSizeBytes) / RECORD_ALIGNMENT_BYTES) * RECORD_ALIGNMENT_BYTES;
}

function u64(buf, at) {
  return buf.readUInt32LE(at) + buf.readUInt32LE(at + 4) * 2 ** 32;
}

/** Rewrites the segment header's CRC after a test changed a field on purpose. */
export function resealSegmentHeader(buf) {
  buf.writeUInt32LE(crc32c(buf.subarray(0, SEGMENT_HEADER_CRC_AT)), SEGMENT_HEADER_CRC_AT);
}

/**
 * Walks a well-formed segment: every record, with its offset, span and pending index, up to the
 * first position that is not a CRC-valid record. Zeros from inside a block to its end, followed
 * by the next LSN at the block boundary, are stepped over (a batch pipelined behind another). Throws when the header is not a segment's,
 * since the tests only walk files they wrote themselves.
 */
export function walkSegment(buf) {
  if (buf.subarray(0, 8).toString('latin1') !== MAGIC) throw new Error('not a ringwal segment');
  if (crc32c(buf.subarray(0, SEGMENT_HEADER_CRC_AT)) !== buf.readUInt32LE(SEGMENT_HEADER_CRC_AT)) throw new Error('segment header CRC');
  if (buf.readUInt16LE(8) !== FORMAT_VERSION) throw new Error(`format version ${buf.readUInt16LE(8)}`);
  const blockSizeBytes = buf.readUInt32LE(12);
  const segmentId = buf.readUInt32LE(24);
  const incarnation = buf.readUInt32LE(116);
  const inFlightBytesMax = buf.readUInt32LE(120);
  const records = [];
  let at = blockSizeBytes;
  while (at + RECORD_HEADER_SIZE_BYTES <= buf.length) {
    const nextBlock = at - (at % blockSizeBytes) + blockSizeBytes;
    const expectedLsn = records.length === 0 ? u64(buf, 32) : records[records.length - 1].lsn + 1;
    if (
      at % blockSizeBytes !== 0 &&
      nextBlock + RECORD_HEADER_SIZE_BYTES <= buf.length &&
      buf.subarray(at, nextBlock).every((b) => b === 0) &&
      u64(buf, nextBlock + Field.LSN) === expectedLsn
    ) {
      at = nextBlock;
    }
    const type = buf.readUInt32LE(at + Field.TYPE);
    if (type === 0) break;
    const sizeBytes = buf.readUInt32LE(at + Field.SIZE);
    const spanBytes = recordSpanBytes(sizeBytes);
    if (at + spanBytes > buf.length) break;
    const end = at + RECORD_HEADER_SIZE_BYTES + sizeBytes;
    if (crc32c(buf.subarray(at + RECORD_CRC_START_BYTES, end)) !== buf.readUInt32LE(at + Field.CRC)) break;
    records.push({
      offsetBytes: at,
      sizeBytes,
      spanBytes,
      lsn: u64(buf, at + Field.LSN),
      tenant: u64(buf, at + Field.TENANT),
      database: u64(buf, at + Field.DATABASE),
      vshard: buf.readUInt32LE(at + Field.VSHARD),
      type,
      segmentId: buf.readUInt32LE(at + Field.SEGMENT_ID),
      pendingIndex: buf.readUInt32LE(at + Field.PENDING_INDEX),
      payload: Buffer.from(buf.subarray(at + RECORD_HEADER_SIZE_BYTES, end)),
    });
    at += spanBytes;
  }
  const encrypted = (buf.readUInt32LE(28) & 1) !== 0;
  const keyId = buf.readUInt32LE(68);
  const salt = Buffer.from(buf.subarray(72, 88));
  return { blockSizeBytes, segmentId, incarnation, inFlightBytesMax, records, endBytes: at, encrypted, keyId, salt, sealed: (buf.readUInt32LE(28) & 2) !== 0 };
}

/**
 * Changes `lengthBytes` bytes of a file at `offsetBytes` in place, each through `change`, and
 * fsyncs: damage made behind a log (a reader reads it back, with O_DIRECT or not, after the
 * kernel wrote this buffered write back).
 * @param {string} file
 * @param {number} offsetBytes
 * @param {(byte: number) => number} change
 */
export function changeFileBytes(file, offsetBytes, change, lengthBytes = 1) {
  const fd = fs.openSync(file, 'r+');
  try {
    const bytes = Buffer.alloc(lengthBytes);
    fs.readSync(fd, bytes, 0, lengthBytes, offsetBytes);
    for (let i = 0; i < lengthBytes; i++) bytes[i] = change(bytes[i]);
    fs.writeSync(fd, bytes, 0, lengthBytes, offsetBytes);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
