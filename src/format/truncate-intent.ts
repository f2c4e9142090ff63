/**
 * The truncation intent, `truncate-after.intent`: written durably before truncateAfter changes
 * anything, removed once the cut is durable, so an open that finds it finishes the cut with
 * exactly the same plan (docs/design.md, "truncateAfter (T)", T2–T7). Drawn in docs/format.md.
 *
 *   0 magic u32 "rwti" | 4 version u16 | 6 mode u16 | 8 lsn u64 | 16 segmentFirstLsn u64 |
 *   24 zeroEndBytes u64 | 32 segmentIdFloor u32 | 36 segmentId u32 | 40 newSegmentId u32 |
 *   44 incarnation u32 | 48 reserved, zero | 60 crc32c u32 of bytes [0, 60)
 */
import assert from 'node:assert/strict';
import { crc32c } from './crc32c.js';
import { LSN_MAX } from './constants.js';
import { setU64, getU64 } from './u64.js';

export const TRUNCATE_INTENT_SIZE_BYTES = 64;
const INTENT_MAGIC = 0x6974_7772; // "rwti" little-endian
const INTENT_VERSION = 2;
export const IntentField = {
  MAGIC: 0,
  VERSION: 4,
  MODE: 6,
  LSN: 8,
  SEGMENT_FIRST_LSN: 16,
  ZERO_END: 24,
  SEGMENT_ID_FLOOR: 32,
  SEGMENT_ID: 36,
  NEW_SEGMENT_ID: 40,
  INCARNATION: 44,
  CRC32C: 60,
} as const;

/**
 * How the segment holding `lsn + 1` (the "kept" segment) is cut:
 *   in-place     it is the unsealed active segment: its header gets a new incarnation, the bytes
 *                after record `lsn` up to `zeroEndBytes` are zeroed;
 *   replace      it is sealed and keeps a prefix: that prefix is copied into a new file with a
 *                new segment id (a sealed file is never written again), then the old one goes;
 *   keep-sealed  it is sealed and ends exactly at `lsn`: it stays as it is, the next append rolls.
 */
export type CutMode = 'in-place' | 'replace' | 'keep-sealed';
const MODE_CODES: Record<CutMode, number> = { 'in-place': 1, replace: 2, 'keep-sealed': 3 };

export interface TruncateIntent {
  /** Every record above this LSN is removed. */
  lsn: number;
  mode: CutMode;
  /** The first LSN and id of the kept segment. */
  segmentFirstLsn: number;
  segmentId: number;
  /** The highest segment id in use, the replacement's included: later ids go above it. */
  segmentIdFloor: number;
  /** replace: the id of the file that replaces the kept segment; 0 otherwise. */
  newSegmentId: number;
  /** in-place: the kept segment's incarnation after the cut; 0 otherwise. */
  incarnation: number;
  /** in-place: the bytes from the end of record `lsn` up to here are zeroed; 0 otherwise. */
  zeroEndBytes: number;
}

/** Writes the intent into the first TRUNCATE_INTENT_SIZE_BYTES of `out`. */
export function encodeTruncateIntent(intent: TruncateIntent, out: Uint8Array): void {
  assert(out.byteLength >= TRUNCATE_INTENT_SIZE_BYTES, 'truncation intent buffer too small');
  out.fill(0, 0, TRUNCATE_INTENT_SIZE_BYTES);
  const view = new DataView(out.buffer, out.byteOffset, TRUNCATE_INTENT_SIZE_BYTES);
  view.setUint32(IntentField.MAGIC, INTENT_MAGIC, true);
  view.setUint16(IntentField.VERSION, INTENT_VERSION, true);
  view.setUint16(IntentField.MODE, MODE_CODES[intent.mode], true);
  setU64(view, IntentField.LSN, intent.lsn);
  setU64(view, IntentField.SEGMENT_FIRST_LSN, intent.segmentFirstLsn);
  setU64(view, IntentField.ZERO_END, intent.zeroEndBytes);
  view.setUint32(IntentField.SEGMENT_ID_FLOOR, intent.segmentIdFloor, true);
  view.setUint32(IntentField.SEGMENT_ID, intent.segmentId, true);
  view.setUint32(IntentField.NEW_SEGMENT_ID, intent.newSegmentId, true);
  view.setUint32(IntentField.INCARNATION, intent.incarnation, true);
  view.setUint32(IntentField.CRC32C, crc32c(out.subarray(0, IntentField.CRC32C)), true);
}

/**
 * Parses an intent; null when it is not a whole, valid one. The intent is renamed into place
 * only once durable, so the caller treats null as damage, never as a crash.
 */
export function decodeTruncateIntent(bytes: Uint8Array): TruncateIntent | null {
  if (bytes.byteLength < TRUNCATE_INTENT_SIZE_BYTES) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, TRUNCATE_INTENT_SIZE_BYTES);
  if (view.getUint32(IntentField.MAGIC, true) !== INTENT_MAGIC || view.getUint16(IntentField.VERSION, true) !== INTENT_VERSION) return null;
  if (view.getUint32(IntentField.CRC32C, true) !== crc32c(bytes.subarray(0, IntentField.CRC32C))) return null;
  const modeCode = view.getUint16(IntentField.MODE, true);
  const mode = (Object.keys(MODE_CODES) as CutMode[]).find((m) => MODE_CODES[m] === modeCode);
  if (mode === undefined) return null;
  const intent: TruncateIntent = {
    lsn: getU64(view, IntentField.LSN),
    mode,
    segmentFirstLsn: getU64(view, IntentField.SEGMENT_FIRST_LSN),
    segmentId: view.getUint32(IntentField.SEGMENT_ID, true),
    segmentIdFloor: view.getUint32(IntentField.SEGMENT_ID_FLOOR, true),
    newSegmentId: view.getUint32(IntentField.NEW_SEGMENT_ID, true),
    incarnation: view.getUint32(IntentField.INCARNATION, true),
    zeroEndBytes: getU64(view, IntentField.ZERO_END),
  };
  if (intent.lsn > LSN_MAX || intent.segmentFirstLsn < 1 || intent.segmentFirstLsn > intent.lsn + 1 || intent.segmentId === 0) return null;
  if (intent.segmentIdFloor < intent.segmentId) return null;
  if (mode === 'replace' && (intent.newSegmentId <= intent.segmentId || intent.newSegmentId > intent.segmentIdFloor)) return null;
  return intent;
}
