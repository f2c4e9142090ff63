/**
 * Recovery of the active segment on open: find the durable prefix, tell a torn tail from a hole,
 * and erase the torn tail so the writer continues on clean bytes.
 *
 * Steps, in order (docs/design.md, "Recovery"):
 *   1. fdatasync the segment, so what is read next is what a later crash would also find;
 *   2. scan records from the first data block, checking each header, LSN sequence, batch index
 *      and CRC, up to the first record that fails (or, when finishing an interrupted
 *      truncateAfter, up to the LSN it truncated to);
 *   3. classify the bytes after that point:
 *      - all zero: the clean end of the log;
 *      - a CRC-valid record of a *later* write batch: that batch was written only after the
 *        damaged one was durable, so acknowledged data is damaged: a hole, WalCorruptionError;
 *      - anything else: the last write was torn by a crash; none of it was acknowledged;
 *   4. erase what follows the valid prefix by writing zeros over it, then fdatasync, so no
 *      stale byte can later be mistaken for a record. Zeros, not ftruncate, so a preallocated
 *      segment keeps its written extents.
 */
import { WalCorruptionError } from '../errors.js';
import { RECORD_ALIGNMENT_BYTES, RECORD_HEADER_SIZE_BYTES, RECORD_PAYLOAD_LIMIT_BYTES, RecordField } from '../format/constants.js';
import { checkRecordHeader, decodeRecordHeader, recordSpanBytes, type RecordHeader } from '../format/record.js';
import type { Io, IoFile } from '../io/io.js';
import { SCAN_CHUNK_BYTES, SegmentScanner, recordCrcMatches } from '../read/segment-scanner.js';
import type { OpenSegment } from '../segment/segment-file.js';

export interface TornTail {
  /** Where the valid prefix ends and the torn bytes began. */
  offsetBytes: number;
  /** Bytes from there to the last non-zero byte, now zeroed. */
  discardedBytes: number;
  /** Why the record at `offsetBytes` was not valid. */
  reason: string;
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

export async function recoverSegment(io: Io, segment: OpenSegment, lsnLimit?: number): Promise<RecoveryReport> {
  const { file, header } = segment;
  await file.datasync();
  const sizeBytes = await file.sizeBytes();
  const scanner = new SegmentScanner(io, file, {
    segmentId: header.segmentId,
    dataStartBytes: segment.dataStartBytes,
    endBytes: sizeBytes,
    firstLsn: header.firstLsn,
    // Recovery accepts anything the format allows, whatever limit the writer used.
    payloadLimitBytes: RECORD_PAYLOAD_LIMIT_BYTES,
    lsnLimit,
  });
  let recordCount = 0;
  for (;;) {
    const records = await scanner.next();
    if (records.length === 0) break;
    recordCount += records.length;
  }
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
  if (lsnLimit !== undefined) {
    // Finishing a truncateAfter: everything past the limit goes, whatever it looks like.
    if (scanner.nextLsn !== lsnLimit + 1) {
      throw new WalCorruptionError(segment.path, endBytes, `${stop.kind === 'invalid' ? stop.reason : 'the segment ends'} before LSN ${lsnLimit}, the truncation point`, scanner.nextLsn);
    }
    const after = await inspectAfter(io, segment, endBytes, sizeBytes, Number.MAX_SAFE_INTEGER);
    await zeroRange(io, file, endBytes, after.lastNonZeroEndBytes);
    await file.datasync();
    return report;
  }
  if (stop.kind === 'end') return report;

  const after = await inspectAfter(io, segment, endBytes, sizeBytes, scanner.nextLsn);
  if (after.laterBatch !== null) {
    throw new WalCorruptionError(
      segment.path,
      endBytes,
      `${stop.reason}, but a record of a later write batch (LSN ${after.laterBatch.lsn} at offset ${after.laterBatch.offsetBytes}) follows: acknowledged records are damaged`,
      scanner.nextLsn,
    );
  }
  if (after.lastNonZeroEndBytes <= endBytes) return report;
  // Read the damaged region once more before destroying it: a transient read error must not
  // turn into the erasure of good records.
  const again = await inspectAfter(io, segment, endBytes, sizeBytes, scanner.nextLsn);
  if (again.laterBatch !== null || again.lastNonZeroEndBytes !== after.lastNonZeroEndBytes) {
    throw new WalCorruptionError(segment.path, endBytes, 'two reads of the tail disagree: the device returns unstable data', scanner.nextLsn);
  }
  report.tornTail = { offsetBytes: endBytes, discardedBytes: after.lastNonZeroEndBytes - endBytes, reason: stop.reason };
  await zeroRange(io, file, endBytes, after.lastNonZeroEndBytes);
  await file.datasync();
  return report;
}

interface AfterEnd {
  /** One past the last non-zero byte at or after the inspected offset (the offset itself if none). */
  lastNonZeroEndBytes: number;
  laterBatch: { lsn: number; offsetBytes: number } | null;
}

/**
 * Looks after `fromBytes` for a valid record whose write batch began after `expectedLsn`, and
 * for the last non-zero byte. Only non-zero words can belong to a header (its type word is never
 * zero), so zero-filled space is skipped a word at a time. Reads 1 MiB chunks that overlap by one
 * block, so a record header on a chunk boundary is seen whole.
 */
async function inspectAfter(io: Io, segment: OpenSegment, fromBytes: number, sizeBytes: number, expectedLsn: number): Promise<AfterEnd> {
  const { file, header } = segment;
  const block = file.alignmentBytes;
  const chunk = io.allocAligned(SCAN_CHUNK_BYTES, block);
  const view = new DataView(chunk.arrayBuffer);
  const words = chunk.words;
  const scratch = { ranges: new Uint32Array(2), out: new Uint32Array(1) };
  const result: AfterEnd = { lastNonZeroEndBytes: fromBytes, laterBatch: null };
  const typeWordOffsetBytes = RecordField.TYPE;
  let chunkStartBytes = Math.floor(fromBytes / block) * block;
  while (chunkStartBytes < sizeBytes) {
    const gotBytes = await file.read(chunk, 0, SCAN_CHUNK_BYTES, chunkStartBytes);
    if (gotBytes <= 0) break;
    const firstBytes = Math.max(fromBytes, chunkStartBytes) - chunkStartBytes;
    // A file may end inside a word: clear the rest of that word so a stale byte of the previous
    // chunk is not read as data.
    const wordEnd = (gotBytes + 3) >>> 2;
    chunk.bytes.fill(0, gotBytes, wordEnd << 2);
    for (let w = firstBytes >>> 2; w < wordEnd; w++) {
      if (words[w] === 0) continue;
      const byteAt = w << 2;
      const nonZeroEnd = Math.min(chunkStartBytes + byteAt + 4, sizeBytes);
      if (nonZeroEnd > result.lastNonZeroEndBytes) result.lastNonZeroEndBytes = nonZeroEnd;
      if (expectedLsn === Number.MAX_SAFE_INTEGER) continue;
      const at = byteAt - typeWordOffsetBytes;
      if (at < firstBytes || at % RECORD_ALIGNMENT_BYTES !== 0 || at + RECORD_HEADER_SIZE_BYTES > gotBytes) continue;
      const candidate = decodeRecordHeader(view, at);
      if (checkRecordHeader(candidate, header.segmentId, RECORD_PAYLOAD_LIMIT_BYTES) !== null) continue;
      if (candidate.lsn - candidate.batchIndex <= expectedLsn) continue;
      const offsetBytes = chunkStartBytes + at;
      if (await candidateIsValid(io, file, chunk.bytes, at, gotBytes, offsetBytes, candidate, scratch)) {
        result.laterBatch = { lsn: candidate.lsn, offsetBytes };
        return result;
      }
    }
    if (gotBytes < SCAN_CHUNK_BYTES) break;
    chunkStartBytes += SCAN_CHUNK_BYTES - block;
  }
  return result;
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
  const block = file.alignmentBytes;
  const startBytes = Math.floor(offsetBytes / block) * block;
  const lengthBytes = Math.ceil((offsetBytes + spanBytes - startBytes) / block) * block;
  const own = io.allocAligned(lengthBytes, block);
  const readBytes = await file.read(own, 0, lengthBytes, startBytes);
  if (readBytes < offsetBytes - startBytes + spanBytes) return false;
  return recordCrcMatches(io, own.bytes, offsetBytes - startBytes, candidate, scratch);
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
      const gotBytes = await file.read(buffer, 0, block, firstBlockBytes);
      if (gotBytes < fromBytes - firstBlockBytes) throw new Error(`${file.path}: block at ${firstBlockBytes} shorter than the data it holds`);
      buffer.bytes.fill(0, fromBytes - firstBlockBytes, block);
    }
    await file.write(buffer, 0, lengthBytes, atBytes, false);
  }
}
