/**
 * Recovery of the active segment on open: find the durable prefix, tell a torn tail from a hole,
 * and cut the torn tail so the writer continues on clean bytes.
 *
 * Steps, in order (docs/design.md, "Recovery"):
 *   1. fdatasync the segment, so what is read next is what a later crash would also find;
 *   2. scan records from the first data block, checking each header, LSN sequence, batch index
 *      and CRC, up to the first record that fails;
 *   3. classify the bytes after that point:
 *      - all zero: the clean end of the log;
 *      - a CRC-valid record of a *later* write batch: that batch was written only after the
 *        damaged one was durable, so acknowledged data is damaged: a hole, WalCorruptionError;
 *      - anything else: the last write was torn by a crash; none of it was acknowledged;
 *   4. for a torn tail: truncate the file at the end of the valid prefix and fdatasync it, so no
 *      stale byte of the torn write can later be mistaken for a record.
 */
import { WalCorruptionError } from '../errors.js';
import { RECORD_ALIGNMENT_BYTES, RECORD_HEADER_SIZE_BYTES, RECORD_PAYLOAD_LIMIT_BYTES } from '../format/constants.js';
import { checkRecordHeader, decodeRecordHeader, recordSpanBytes } from '../format/record.js';
import type { Io } from '../io/io.js';
import { SCAN_CHUNK_BYTES, SegmentScanner, recordCrcMatches } from '../read/segment-scanner.js';
import type { OpenSegment } from '../segment/segment-file.js';

export interface TornTail {
  /** Where the valid prefix ends and the torn bytes began. */
  offsetBytes: number;
  /** How many bytes after that point were discarded. */
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
  tornTail: TornTail | null;
}

export async function recoverSegment(io: Io, segment: OpenSegment): Promise<RecoveryReport> {
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
  });
  let recordCount = 0;
  for (;;) {
    const records = await scanner.next();
    if (records.length === 0) break;
    recordCount += records.length;
  }
  const stop = scanner.stop!;
  const endBytes = scanner.validEndBytes;
  const report: RecoveryReport = { path: segment.path, recordCount, nextLsn: scanner.nextLsn, endBytes, tornTail: null };
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
  if (!after.nonZero) return report;
  report.tornTail = { offsetBytes: endBytes, discardedBytes: sizeBytes - endBytes, reason: stop.reason };
  await file.truncate(endBytes);
  await file.datasync();
  return report;
}

interface AfterEnd {
  nonZero: boolean;
  laterBatch: { lsn: number; offsetBytes: number } | null;
}

/**
 * Looks at every 8-byte-aligned position after `fromBytes` for a valid record whose write batch
 * began after `expectedLsn`, and notes whether any byte there is non-zero. Reads in 1 MiB chunks
 * that overlap by one block, so a header on a chunk boundary is seen whole.
 */
async function inspectAfter(io: Io, segment: OpenSegment, fromBytes: number, sizeBytes: number, expectedLsn: number): Promise<AfterEnd> {
  const { file, header } = segment;
  const block = file.alignmentBytes;
  const chunk = io.allocAligned(SCAN_CHUNK_BYTES, block);
  const view = new DataView(chunk.arrayBuffer);
  const scratch = { ranges: new Uint32Array(2), out: new Uint32Array(1) };
  const result: AfterEnd = { nonZero: false, laterBatch: null };
  let chunkStartBytes = Math.floor(fromBytes / block) * block;
  while (chunkStartBytes < sizeBytes) {
    const gotBytes = await file.read(chunk, 0, SCAN_CHUNK_BYTES, chunkStartBytes);
    if (gotBytes <= 0) break;
    const firstBytes = Math.max(fromBytes, chunkStartBytes);
    for (let i = firstBytes - chunkStartBytes; i < gotBytes; i++) {
      if (chunk.bytes[i] !== 0) {
        result.nonZero = true;
        break;
      }
    }
    const lastHeaderBytes = gotBytes - RECORD_HEADER_SIZE_BYTES;
    for (let at = firstBytes - chunkStartBytes; at <= lastHeaderBytes; at += RECORD_ALIGNMENT_BYTES) {
      const candidate = decodeRecordHeader(view, at);
      if (checkRecordHeader(candidate, header.segmentId, RECORD_PAYLOAD_LIMIT_BYTES) !== null) continue;
      if (candidate.lsn - candidate.batchIndex <= expectedLsn) continue;
      const offsetBytes = chunkStartBytes + at;
      if (await candidateIsValid(io, segment, chunk.bytes, at, gotBytes, offsetBytes, candidate, scratch)) {
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
  segment: OpenSegment,
  bytes: Uint8Array,
  at: number,
  gotBytes: number,
  offsetBytes: number,
  candidate: ReturnType<typeof decodeRecordHeader>,
  scratch: { ranges: Uint32Array; out: Uint32Array },
): Promise<boolean> {
  const spanBytes = recordSpanBytes(candidate.payloadSizeBytes);
  if (at + spanBytes <= gotBytes) return recordCrcMatches(io, bytes, at, candidate, scratch);
  // The candidate runs past this chunk: read it on its own (its size is within the format limit).
  const block = segment.file.alignmentBytes;
  const startBytes = Math.floor(offsetBytes / block) * block;
  const lengthBytes = Math.ceil((offsetBytes + spanBytes - startBytes) / block) * block;
  const own = io.allocAligned(lengthBytes, block);
  const readBytes = await segment.file.read(own, 0, lengthBytes, startBytes);
  if (readBytes < offsetBytes - startBytes + spanBytes) return false;
  return recordCrcMatches(io, own.bytes, offsetBytes - startBytes, candidate, scratch);
}
