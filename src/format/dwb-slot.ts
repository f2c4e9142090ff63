/**
 * One slot of the double-write buffer file `ringwal.dwb`: a header block, then a block holding a
 * copy of the acknowledged prefix of one segment block. Drawn in docs/format.md.
 *
 *   block 0: 0 magic u32 "rwdb" | 4 version u16 | 6 zero u16 | 8 seq u64 | 16 logId u64 |
 *            24 segmentId u32 | 28 validBytes u32 | 32 blockOffset u64 | 40 dataCrc u32 |
 *            44 incarnation u32 | 48 headerCrc u32 of bytes [0, 48)
 *   block 1: the first `validBytes` of the segment block at `blockOffset`, then zeros
 *
 * A copy is bound to one incarnation of one segment (its id and its incarnation): a segment cut
 * in place gets a new incarnation, a segment replaced gets a new id, so a copy can never be
 * applied to bytes it does not describe.
 */
import assert from 'node:assert/strict';
import { crc32c } from './crc32c.js';
import { setU64, getU64 } from './u64.js';

export const DWB_SLOT_COUNT = 2;
const DWB_MAGIC = 0x6264_7772; // "rwdb" little-endian
const DWB_VERSION = 2;
export const DwbSlotField = {
  MAGIC: 0,
  VERSION: 4,
  SEQ: 8,
  LOG_ID: 16,
  SEGMENT_ID: 24,
  VALID: 28,
  BLOCK_OFFSET: 32,
  DATA_CRC: 40,
  INCARNATION: 44,
  HEADER_CRC: 48,
} as const;

export interface DwbCopy {
  /** Grows with every copy, across opens: the newest copy wins. */
  seq: number;
  segmentId: number;
  incarnation: number;
  blockOffsetBytes: number;
  bytes: Uint8Array;
}

/**
 * The two block sizes of a slot: its own (the DWB file's, at least the segment's), which lays out
 * the header and data blocks, and the block of the segment whose tail it copies (the writer's).
 */
export interface DwbGeometry {
  slotBlockBytes: number;
  copyBlockBytes: number;
}

/** Fills `slot` (2 × `slotBlockBytes`) with `copy` for log `logId`. */
export function encodeDwbSlot(slot: Uint8Array, geometry: DwbGeometry, logId: bigint, copy: DwbCopy): void {
  const blockBytes = geometry.slotBlockBytes;
  const valid = copy.bytes.byteLength;
  assert(blockBytes >= geometry.copyBlockBytes, 'a slot block holds a copied block');
  assert(slot.byteLength >= 2 * blockBytes, 'DWB slot buffer too small');
  assert(valid > 0, 'a DWB copy holds at least one byte');
  assert(valid < geometry.copyBlockBytes, `a DWB copy of ${valid} bytes: a tail is under one ${geometry.copyBlockBytes}-byte block`);
  assert(copy.blockOffsetBytes % geometry.copyBlockBytes === 0, 'a DWB copy is of a whole segment block');
  slot.fill(0, 0, 2 * blockBytes);
  const view = new DataView(slot.buffer, slot.byteOffset, blockBytes);
  view.setUint32(DwbSlotField.MAGIC, DWB_MAGIC, true);
  view.setUint16(DwbSlotField.VERSION, DWB_VERSION, true);
  setU64(view, DwbSlotField.SEQ, copy.seq);
  view.setBigUint64(DwbSlotField.LOG_ID, logId, true);
  view.setUint32(DwbSlotField.SEGMENT_ID, copy.segmentId, true);
  view.setUint32(DwbSlotField.VALID, valid, true);
  setU64(view, DwbSlotField.BLOCK_OFFSET, copy.blockOffsetBytes);
  slot.set(copy.bytes, blockBytes);
  view.setUint32(DwbSlotField.DATA_CRC, crc32c(copy.bytes), true);
  view.setUint32(DwbSlotField.INCARNATION, copy.incarnation, true);
  view.setUint32(DwbSlotField.HEADER_CRC, crc32c(slot.subarray(0, DwbSlotField.HEADER_CRC)), true);
}

/** The copy in `slot`, or null when the slot is empty, torn, of another log or damaged. */
export function decodeDwbSlot(slot: Uint8Array, geometry: DwbGeometry, logId: bigint): DwbCopy | null {
  const blockBytes = geometry.slotBlockBytes;
  if (slot.byteLength < 2 * blockBytes) return null;
  const view = new DataView(slot.buffer, slot.byteOffset, blockBytes);
  if (view.getUint32(DwbSlotField.MAGIC, true) !== DWB_MAGIC || view.getUint16(DwbSlotField.VERSION, true) !== DWB_VERSION) return null;
  if (view.getUint32(DwbSlotField.HEADER_CRC, true) !== crc32c(slot.subarray(0, DwbSlotField.HEADER_CRC))) return null;
  if (view.getBigUint64(DwbSlotField.LOG_ID, true) !== logId) return null;
  const valid = view.getUint32(DwbSlotField.VALID, true);
  if (valid === 0 || valid >= geometry.copyBlockBytes) return null;
  const data = slot.subarray(blockBytes, blockBytes + valid);
  if (view.getUint32(DwbSlotField.DATA_CRC, true) !== crc32c(data)) return null;
  const blockOffsetBytes = getU64(view, DwbSlotField.BLOCK_OFFSET);
  // The offset of a segment block, on the segment's grid (not the DWB file's, which may be coarser).
  if (blockOffsetBytes % geometry.copyBlockBytes !== 0) return null;
  return {
    seq: getU64(view, DwbSlotField.SEQ),
    segmentId: view.getUint32(DwbSlotField.SEGMENT_ID, true),
    incarnation: view.getUint32(DwbSlotField.INCARNATION, true),
    blockOffsetBytes,
    bytes: Uint8Array.from(data),
  };
}
