/**
 * Recovery of the active segment on open: find the durable prefix, tell a torn tail from a hole,
 * keep a copy of a torn tail and erase it, so the writer continues on clean bytes.
 *
 * Steps, in order (docs/design.md, "Recovery", V1–V6):
 *   V1. fdatasync the segment, so what is read next is what a later crash would also find (the
 *       caller did it before reading the header), and drop a buffered file's cached pages;
 *   V2. scan records from the first data block, checking each header, LSN sequence, pending
 *       index and CRC, up to the first record that fails;
 *   V3. classify the bytes after that point, looking no further than the writes in flight at a
 *       crash can reach (the segment's bytes in flight, from the block the valid prefix ends in):
 *       - all zero: the clean end of the log;
 *       - a CRC-valid record of a batch submitted when the damaged record was already durable
 *         (`lsn − pendingIndex − 1 ≥` the expected LSN): acknowledged data is damaged: a hole,
 *         WalCorruptionError;
 *       - anything else, later batches that were in flight together with the damaged one
 *         included: the writes in flight were torn by a crash; none of them was acknowledged;
 *   V4. read the torn bytes a second time; the two reads must agree;
 *   V5. copy them to a quarantine file beside the segment (never deleted by ringwal), durably;
 *   V6. erase them by writing zeros, then fdatasync, so no stale byte can later be mistaken for a
 *       record. Zeros, not ftruncate, so a preallocated segment keeps its written extents.
 */
import assert from 'node:assert/strict';
import { basename, dirname, join } from 'node:path';
import { WalCorruptionError, isNoSpaceErrno } from '../errors.js';
import {
  RECORD_ALIGNMENT_BYTES,
  RECORD_HEADER_SIZE_BYTES,
  RECORD_PAYLOAD_BYTES_LIMIT,
  RECORD_TYPE_CHECKPOINT,
  RecordField,
  SEGMENT_TEMP_SUFFIX,
} from '../format/constants.js';
import { checkRecordHeader, decodeRecordHeader, recordSpanBytes, type RecordHeader } from '../format/record.js';
import { crashPoint } from '../io/crash-point.js';
import { readFull, type Io, type IoFile } from '../io/io.js';
import { SCAN_CHUNK_BYTES, SegmentScanner, recordCrcMatches, type ScanPosition } from '../read/segment-scanner.js';
import type { OpenSegment } from '../segment/segment-file.js';

export interface TornTail {
  /** Where the valid prefix ends and the torn bytes began. */
  offsetBytes: number;
  /** Bytes from there to the last non-zero byte, now zeroed. */
  discardedBytes: number;
  /** Why the record at `offsetBytes` was not valid. */
  reason: string;
  /**
   * The torn bytes begin inside a block that also holds valid records: the torn write rewrote a
   * block holding records of an earlier batch. On a device that can leave garbage in a torn
   * sector (outside ringwal's device assumption), acknowledged records of that batch may have
   * been among the torn bytes; the double-write buffer exists for such devices.
   */
  inSharedBlock: boolean;
  /** The copy of the erased bytes, or null when no space was left to keep one. */
  quarantinePath: string | null;
}

export interface RecoveryReport {
  path: string;
  recordCount: number;
  /** The LSN the next append receives: one above the last valid record. */
  nextLsn: number;
  /** File offset just past the last valid record. */
  endBytes: number;
  /** File offset of the last valid record; 0 when the segment holds none. */
  lastRecordBytes: number;
  tornTail: TornTail | null;
  /** The double-write buffer repaired a torn rewrite of the tail block before the scan. */
  restoredFromDoubleWrite?: boolean;
}

/** Where the records of a segment end when scanned from the start: the valid prefix. */
export interface ScanEnd {
  recordCount: number;
  nextLsn: number;
  endBytes: number;
  lastRecordBytes: number;
}

/** Times a read-only examination continues its scan behind a running writer before a hole it sees stands. */
export const LIVE_CATCH_UPS_MAX = 64;

/** Quarantine copies of one offset of one segment: more than this many means a crash loop. */
export const QUARANTINE_NAMES_MAX = 1000;

/**
 * The last checkpoint record recovery's scan saw in the valid prefix of the last segment, so
 * that open need not read the segment again for it.
 */
export interface CheckpointsSeen {
  scanned: boolean;
  lastCheckpoint: { lsn: number; payload: Buffer } | null;
}

export function noCheckpointsSeen(): CheckpointsSeen {
  return { scanned: false, lastCheckpoint: null };
}

/** V2: scans `segment` from its first record up to `sizeBytes` (and `lsnLimit`), counting the valid records. */
async function scanRecords(
  io: Io,
  segment: OpenSegment,
  sizeBytes: number,
  lsnLimit?: number,
  seen?: CheckpointsSeen,
  resume?: ScanResume,
): Promise<{ scanner: SegmentScanner; recordCount: number }> {
  const scanner = new SegmentScanner(io, segment.file, {
    segmentId: segment.header.segmentId,
    dataStartBytes: segment.dataStartBytes,
    endBytes: sizeBytes,
    firstLsn: resume?.nextLsn ?? segment.header.firstLsn,
    resume: resume?.position,
    // Recovery accepts anything the format allows, whatever limit the writer used.
    payloadBytesLimit: RECORD_PAYLOAD_BYTES_LIMIT,
    lsnLimit,
    cipher: segment.cipher,
  });
  let recordCount = 0;
  for (;;) {
    const records = await scanner.next();
    if (records.length === 0) break;
    recordCount += records.length;
    if (seen !== undefined) {
      for (const r of records) {
        if (r.header.type === RECORD_TYPE_CHECKPOINT) seen.lastCheckpoint = { lsn: r.header.lsn, payload: scanner.copyPayload(r) };
      }
    }
  }
  if (seen !== undefined) seen.scanned = true;
  return { scanner, recordCount };
}

/**
 * Where the valid records of a segment end and what follows them, found by reading only (V2, V3):
 * what recovery acts on, and what a read-only open reports without acting.
 */
export interface SegmentExamination {
  report: RecoveryReport;
  /** Where the scan stopped: a later scan continues from there. */
  position: ScanPosition;
  /** The bytes after the valid prefix that a crash tore (not yet erased), or null when the prefix ends in zeros. */
  torn: { offsetBytes: number; lastNonZeroEndBytes: number; windowEndBytes: number; reason: string } | null;
}

/** Where an earlier scan of the segment stopped, and the LSN expected there. */
export interface ScanResume {
  position: ScanPosition;
  nextLsn: number;
}

/**
 * V2 and V3 without changing a byte. A hole (a CRC-valid record of a later batch after damaged
 * acknowledged records) throws WalCorruptionError. With `resume`, V2 only, from where an earlier
 * scan stopped (a read-only follower's next look at a segment another process writes: what
 * follows its valid records may be a write in flight, and says nothing yet).
 */
export async function examineSegment(
  io: Io,
  segment: OpenSegment,
  seen?: CheckpointsSeen,
  resume?: ScanResume,
  liveWriter = false,
): Promise<SegmentExamination> {
  const { file, header } = segment;
  let from = resume;
  let recordCount = 0;
  // With a writer running (a read-only open), a batch may land between the scan's end and the
  // look past it: the look then finds a later batch after bytes the scan saw unwritten. The scan
  // continues from where it stopped; a real hole stops it at the same place again.
  for (let catchUps = 0; ; catchUps++) {
    const sizeBytes = await file.sizeBytes();
    const scanned = await scanRecords(io, segment, sizeBytes, undefined, seen, from);
    const scanner = scanned.scanner;
    recordCount += scanned.recordCount;
    const stop = scanner.stop!;
    const endBytes = scanner.validEndBytes;
    const report: RecoveryReport = {
      path: segment.path,
      recordCount,
      nextLsn: scanner.nextLsn,
      endBytes,
      lastRecordBytes: scanner.lastRecordBytes,
      tornTail: null,
    };
    const position = scanner.position;
    if (stop.kind === 'end' || resume !== undefined) return { report, position, torn: null };

    const block = file.alignmentBytes;
    // The writes in flight at a crash started in the block holding the last durable byte, lie one
    // after the other, and span at most the segment's bytes in flight; the valid prefix ends at or
    // after that byte. One block more covers the header of the first record of a later batch,
    // which starts within that span too.
    const windowEndBytes = Math.min(sizeBytes, Math.floor(endBytes / block) * block + header.inFlightBytesMax + block);
    const after = await inspectAfter(io, segment, endBytes, windowEndBytes, scanner.nextLsn);
    if (after.laterBatch !== null) {
      const advanced = from === undefined || endBytes > from.position.offsetBytes;
      if (liveWriter && catchUps < LIVE_CATCH_UPS_MAX && advanced) {
        from = { position, nextLsn: scanner.nextLsn };
        continue;
      }
      throw new WalCorruptionError(
        segment.path,
        endBytes,
        `${stop.reason}, but a record written after LSN ${scanner.nextLsn} was durable (LSN ${after.laterBatch.lsn} at offset ${after.laterBatch.offsetBytes}) follows: acknowledged records are damaged`,
        scanner.nextLsn,
      );
    }
    if (after.lastNonZeroEndBytes <= endBytes) return { report, position, torn: null };
    return { report, position, torn: { offsetBytes: endBytes, lastNonZeroEndBytes: after.lastNonZeroEndBytes, windowEndBytes, reason: stop.reason } };
  }
}

export async function recoverSegment(io: Io, segment: OpenSegment, seen?: CheckpointsSeen): Promise<RecoveryReport> {
  const { report, torn } = await examineSegment(io, segment, seen);
  if (torn === null) return report;
  const { file } = segment;
  const endBytes = torn.offsetBytes;
  const expectedLsn = report.nextLsn;
  // Read the damaged region once more before destroying it: a transient read error must not
  // turn into the erasure of good records.
  const again = await inspectAfter(io, segment, endBytes, torn.windowEndBytes, expectedLsn);
  if (again.laterBatch !== null || again.lastNonZeroEndBytes !== torn.lastNonZeroEndBytes) {
    throw new WalCorruptionError(segment.path, endBytes, 'two reads of the tail disagree: the device returns unstable data', expectedLsn);
  }
  const quarantinePath = await quarantine(io, file, endBytes, torn.lastNonZeroEndBytes);
  report.tornTail = {
    offsetBytes: endBytes,
    discardedBytes: torn.lastNonZeroEndBytes - endBytes,
    reason: torn.reason,
    inSharedBlock: endBytes % file.alignmentBytes !== 0,
    quarantinePath,
  };
  crashPoint('recover.torn-quarantined');
  await zeroRange(io, file, endBytes, torn.lastNonZeroEndBytes);
  await file.datasync();
  return report;
}

/**
 * Scans a segment from its first record up to and including `lsn` and says where record `lsn`
 * ends; a segment that does not hold every record up to `lsn` is damaged.
 */
export async function scanTo(io: Io, segment: OpenSegment, lsn: number): Promise<ScanEnd> {
  const { scanner, recordCount } = await scanRecords(io, segment, await segment.file.sizeBytes(), lsn);
  if (scanner.nextLsn !== lsn + 1) {
    const stop = scanner.stop!;
    throw new WalCorruptionError(
      segment.path,
      scanner.validEndBytes,
      `${stop.kind === 'invalid' ? stop.reason : 'the segment ends'} before LSN ${lsn}, which it must hold`,
      scanner.nextLsn,
    );
  }
  return { recordCount, nextLsn: scanner.nextLsn, endBytes: scanner.validEndBytes, lastRecordBytes: scanner.lastRecordBytes };
}

interface AfterEnd {
  /** One past the last non-zero byte at or after the inspected offset (the offset itself if none). */
  lastNonZeroEndBytes: number;
  laterBatch: { lsn: number; offsetBytes: number } | null;
}

/**
 * Looks in [fromBytes, toBytes) for a valid record whose batch was submitted once `expectedLsn`
 * was durable (its durable LSN at submission, `lsn − pendingIndex − 1`, is at least `expectedLsn`),
 * and for the last non-zero byte. Only non-zero words can belong to a header (its type word is
 * never zero), so zero-filled space is skipped a word at a time. Reads 1 MiB chunks that overlap
 * by one block, so a record header on a chunk boundary is seen whole. Every byte up to `toBytes`
 * (within the file) must be read: a read that ends early is an error, never taken for the end.
 */
async function inspectAfter(io: Io, segment: OpenSegment, fromBytes: number, toBytes: number, expectedLsn: number): Promise<AfterEnd> {
  const { file, header } = segment;
  const block = file.alignmentBytes;
  const chunk = io.allocAligned(SCAN_CHUNK_BYTES, block);
  const view = new DataView(chunk.arrayBuffer);
  const words = chunk.words;
  const scratch = { ranges: new Uint32Array(2), out: new Uint32Array(1) };
  const result: AfterEnd = { lastNonZeroEndBytes: fromBytes, laterBatch: null };
  let chunkStartBytes = Math.floor(fromBytes / block) * block;
  while (chunkStartBytes < toBytes) {
    const wantBytes = Math.min(SCAN_CHUNK_BYTES, toBytes - chunkStartBytes);
    const readBytes = Math.min(SCAN_CHUNK_BYTES, Math.ceil(wantBytes / block) * block);
    const gotBytes = Math.min(await readFull(file, chunk, 0, readBytes, chunkStartBytes), wantBytes);
    if (gotBytes < wantBytes) throw endedEarly(file, chunkStartBytes + gotBytes, toBytes);
    const firstBytes = Math.max(fromBytes, chunkStartBytes) - chunkStartBytes;
    // The range may end inside a word: clear the rest of that word so a stale byte of the previous
    // chunk is not read as data.
    const wordEnd = (gotBytes + 3) >>> 2;
    chunk.bytes.fill(0, gotBytes, wordEnd << 2);
    for (let w = firstBytes >>> 2; w < wordEnd; w++) {
      if (words[w] === 0) continue;
      const byteAt = w << 2;
      const nonZeroEnd = Math.min(chunkStartBytes + byteAt + 4, toBytes);
      if (nonZeroEnd > result.lastNonZeroEndBytes) result.lastNonZeroEndBytes = nonZeroEnd;
      const at = byteAt - RecordField.TYPE;
      if (at < firstBytes || at % RECORD_ALIGNMENT_BYTES !== 0 || at + RECORD_HEADER_SIZE_BYTES > gotBytes) continue;
      const candidate = decodeRecordHeader(view, at);
      if (checkRecordHeader(candidate, header.segmentId, RECORD_PAYLOAD_BYTES_LIMIT, header.crypto !== null) !== null) continue;
      // In flight together with the damaged record, or before it: says nothing of acknowledgement.
      if (candidate.lsn - candidate.pendingIndex - 1 < expectedLsn) continue;
      const offsetBytes = chunkStartBytes + at;
      if (await candidateIsValid(io, file, chunk.bytes, at, gotBytes, offsetBytes, candidate, scratch)) {
        result.laterBatch = { lsn: candidate.lsn, offsetBytes };
        return result;
      }
    }
    if (chunkStartBytes + gotBytes >= toBytes) break;
    chunkStartBytes += SCAN_CHUNK_BYTES - block;
  }
  return result;
}

function endedEarly(file: IoFile, atBytes: number, expectedBytes: number): WalCorruptionError {
  return new WalCorruptionError(file.path, atBytes, `reads end at offset ${atBytes}, before the ${expectedBytes} bytes the file holds`);
}

async function candidateIsValid(
  io: Io,
  file: IoFile,
  bytes: Uint8Array,
  at: number,
  gotBytes: number,
  offsetBytes: number,
  candidate: RecordHeader,
  scratch: { ranges: Uint32Array; out: Uint32Array },
): Promise<boolean> {
  const spanBytes = recordSpanBytes(candidate.payloadSizeBytes);
  if (at + spanBytes <= gotBytes) return recordCrcMatches(io, bytes, at, candidate, scratch);
  // The candidate runs past this chunk: read it on its own (its size is within the format limit).
  const sizeBytes = await file.sizeBytes();
  if (offsetBytes + spanBytes > sizeBytes) return false;
  const block = file.alignmentBytes;
  const startBytes = Math.floor(offsetBytes / block) * block;
  const lengthBytes = Math.ceil((offsetBytes + spanBytes - startBytes) / block) * block;
  const own = io.allocAligned(lengthBytes, block);
  const readBytes = await readFull(file, own, 0, lengthBytes, startBytes);
  if (readBytes < offsetBytes - startBytes + spanBytes) throw endedEarly(file, startBytes + readBytes, offsetBytes + spanBytes);
  return recordCrcMatches(io, own.bytes, offsetBytes - startBytes, candidate, scratch);
}

/**
 * V5: copies [fromBytes, toBytes) of `file` to `<segment>.torn-<offset>` beside it (tmp, sync,
 * rename, directory fsync). Returns its path, or null when the disk is full: the copy is for
 * forensics and must not keep a log on a full disk from opening.
 */
async function quarantine(io: Io, file: IoFile, fromBytes: number, toBytes: number): Promise<string | null> {
  const dir = dirname(file.path);
  const base = `${basename(file.path)}.torn-${fromBytes}`;
  const taken = new Set(await io.listDir(dir));
  let name = base;
  for (let n = 2; taken.has(name); n++) {
    if (n > QUARANTINE_NAMES_MAX) return null;
    name = `${base}-${n}`;
  }
  const block = file.alignmentBytes;
  const startBytes = Math.floor(fromBytes / block) * block;
  const lengthBytes = Math.ceil((toBytes - startBytes) / block) * block;
  const buffer = io.allocAligned(lengthBytes, block);
  const gotBytes = await readFull(file, buffer, 0, lengthBytes, startBytes);
  if (gotBytes < toBytes - startBytes) throw endedEarly(file, startBytes + gotBytes, toBytes);
  const tempPath = join(dir, name + SEGMENT_TEMP_SUFFIX);
  const path = join(dir, name);
  try {
    const copy = await io.openFile(tempPath, { create: true, direct: 'off', readOnly: false });
    try {
      await copy.truncate(0);
      // A buffered file: the copy starts at any offset of the buffer and has any length.
      await copy.write(buffer, fromBytes - startBytes, toBytes - fromBytes, 0, true);
    } finally {
      await copy.close();
    }
    crashPoint('recover.torn-copied');
    await io.rename(tempPath, path);
    await io.fsyncDir(dir);
  } catch (err) {
    if (isNoSpaceErrno(err)) return null;
    throw err;
  }
  return path;
}

/**
 * Writes zeros over [fromBytes, toBytes), keeping the bytes before `fromBytes` in its block.
 * Not durable until the caller's datasync.
 */
export async function zeroRange(io: Io, file: IoFile, fromBytes: number, toBytes: number): Promise<void> {
  if (toBytes <= fromBytes) return;
  const block = file.alignmentBytes;
  const firstBlockBytes = Math.floor(fromBytes / block) * block;
  const endBlockBytes = Math.ceil(toBytes / block) * block;
  const chunkBytes = Math.min(SCAN_CHUNK_BYTES, endBlockBytes - firstBlockBytes);
  const buffer = io.allocAligned(chunkBytes, block);
  for (let atBytes = firstBlockBytes; atBytes < endBlockBytes; atBytes += chunkBytes) {
    const lengthBytes = Math.min(chunkBytes, endBlockBytes - atBytes);
    buffer.bytes.fill(0);
    if (atBytes === firstBlockBytes && fromBytes > firstBlockBytes) {
      // Keep the valid records that share the first block with the erased bytes.
      const gotBytes = await readFull(file, buffer, 0, block, firstBlockBytes);
      if (gotBytes < fromBytes - firstBlockBytes) throw endedEarly(file, firstBlockBytes + gotBytes, fromBytes);
      buffer.bytes.fill(0, fromBytes - firstBlockBytes, block);
    }
    assert(atBytes % block === 0, 'zeros are written from a block boundary');
    assert(lengthBytes % block === 0, 'zeros are written in whole blocks');
    await file.write(buffer, 0, lengthBytes, atBytes, false);
  }
}
