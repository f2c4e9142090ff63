/**
 * Segment files: `wal-<first LSN, 20 digits>-<segment id, 10 digits>.seg`, a header block, then
 * records.
 *
 * A new segment is made durable in this order (docs/design.md, "Creating a segment", S1–S4):
 *   S1. prepare `wal-prepared.seg.tmp` ahead of time: create it, and when preallocating, reserve
 *       and zero-fill it to the segment size, then fdatasync, so later syncs flush data only. The
 *       fill of the next segment runs beside the log in 1 MiB chunks, one at a time, each put in
 *       the device queue only when the writer's pace allows it (zero-fill-pacer.ts): when it is
 *       idle, or right after a batch completed, as often as the log's own progress asks;
 *   S2. write its header block (first LSN, segment id, bytes in flight) and fdatasync;
 *   S3. rename it to its segment name;
 *   S4. fsync the directory, so the rename survives a crash.
 * A crash before S4 leaves no new segment (or a `.tmp`, which open removes).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { WalCorruptionError, WalUnsupportedFormatError } from '../errors.js';
import { FORMAT_VERSION, SEGMENT_FLAG_ENCRYPTED, SEGMENT_NAME_PATTERN, SEGMENT_TEMP_SUFFIX } from '../format/constants.js';
import { decodeSegmentHeader, encodeSegmentHeader, type SegmentCrypto, type SegmentHeader } from '../format/segment-header.js';
import { readFull, type DirectIoMode, type Io, type IoFile } from '../io/io.js';
import { crashPoint } from '../io/crash-point.js';
import type { ZeroFillPace } from './zero-fill-pacer.js';
import { segmentCipher, type SegmentKeys } from '../crypto/segment-keys.js';
import type { RecordCipher } from '../format/record.js';

/** The one prepared-but-unnamed segment; its content is unused until it is renamed. */
export const PREPARED_SEGMENT_NAME = `wal-prepared.seg${SEGMENT_TEMP_SUFFIX}`;
/**
 * Zero-fill granularity. A batch submitted while a chunk is in the device queue waits for it, and
 * its cache flush persists the chunk too, so smaller chunks would seem kinder to the log; but
 * measured (bench/results/2026-12-02-zero-fill-chunk.md), 1 MiB chunks, paced one at a time,
 * gave both the lower open-loop p99 (4.4–4.7 ms against 5.3–6.3 with 256 KiB) and bulk 1.27×
 * faster (817–832 MB/s against 652–654): with 256 KiB the fill fell behind a bulk writer and its
 * rollovers waited for it (max latency 63–72 ms against 29 ms).
 */
export const ZERO_FILL_CHUNK_BYTES = 1024 * 1024;
const U32_MAX = 0xffff_ffff;

/** What a segment file name says: the segment's first LSN and its id. */
export interface SegmentName {
  firstLsn: number;
  segmentId: number;
}

export function segmentFileName(firstLsn: number, segmentId: number): string {
  return `wal-${String(firstLsn).padStart(20, '0')}-${String(segmentId).padStart(10, '0')}.seg`;
}

/** The first LSN and id encoded in a segment file name, or undefined when the name is not a segment's. */
export function parseSegmentFileName(name: string): SegmentName | undefined {
  const match = SEGMENT_NAME_PATTERN.exec(name);
  if (match === null) return undefined;
  const firstLsn = Number(match[1]);
  const segmentId = Number(match[2]);
  // A name of the pattern with numbers no segment has is still a segment's: open refuses it when
  // the header disagrees, rather than ignoring a file that looks like part of the log.
  if (!Number.isSafeInteger(firstLsn) || segmentId > U32_MAX) return undefined;
  return { firstLsn, segmentId };
}

export interface OpenSegment {
  path: string;
  file: IoFile;
  header: SegmentHeader;
  /** Records start at the block after the header. */
  dataStartBytes: number;
  /** The key of its records when it is encrypted, else null. */
  cipher: RecordCipher | null;
}

export interface PreparedSegment {
  path: string;
  file: IoFile;
}

/**
 * S1: an unnamed segment file, zero-filled to `sizeBytes` when `preallocate` is set. `tempName`
 * (a `.tmp` name, which open deletes) is the prepared segment's unless a truncation builds one.
 * With `pace`, the reservation, each chunk of the fill and its final datasync wait for a turn.
 */
export async function prepareSegment(
  io: Io,
  dir: string,
  sizeBytes: number,
  preallocate: boolean,
  direct: DirectIoMode,
  tempName = PREPARED_SEGMENT_NAME,
  pace?: ZeroFillPace,
): Promise<PreparedSegment> {
  assert(tempName.endsWith(SEGMENT_TEMP_SUFFIX), `a segment in preparation must have a ${SEGMENT_TEMP_SUFFIX} name`);
  const path = join(dir, tempName);
  const file = await io.openFile(path, { create: true, direct, readOnly: false });
  try {
    // A `.tmp` left by a crash may hold anything: start from an empty file.
    await file.truncate(0);
    if (preallocate) {
      // fallocate alone leaves unwritten extents whose first write is a metadata change the next
      // fdatasync must journal; writing zeros makes them written extents (PostgreSQL's wal_init_zero).
      // The reservation is a synchronous call that holds the event loop for up to a millisecond:
      // it waits for a turn like a chunk, so that it does not land in a rollover's backlog.
      if (pace !== undefined) await pace.turn(0);
      await file.allocate(0, sizeBytes).catch(() => undefined);
      const chunkBytes = Math.min(ZERO_FILL_CHUNK_BYTES, sizeBytes);
      const zeros = io.allocAligned(chunkBytes, file.alignmentBytes);
      for (let offsetBytes = 0; offsetBytes < sizeBytes; offsetBytes += chunkBytes) {
        const lengthBytes = Math.min(chunkBytes, sizeBytes - offsetBytes);
        if (pace !== undefined) await pace.turn(lengthBytes);
        await file.write(zeros, 0, lengthBytes, offsetBytes, false);
      }
      // The datasync flushes the device's cache: it waits for a turn like a chunk.
      if (pace !== undefined) await pace.turn(0);
    } else {
      // The header block at least, so that writing the header later (S2, which a rollover does
      // while sealing the active segment) needs no new space and cannot fail for lack of it.
      const zeros = io.allocAligned(file.alignmentBytes, file.alignmentBytes);
      await file.write(zeros, 0, file.alignmentBytes, 0, false);
    }
    await file.datasync();
    return { path, file };
  } catch (err) {
    // A zero-fill that ran out of space must not keep the space it took (open deletes the file).
    await file.truncate(0).catch(() => undefined);
    await file.close().catch(() => undefined);
    throw err;
  }
}

/** Writes a header block durably at offset 0; the header is alone in its block. */
export async function writeSegmentHeader(io: Io, file: IoFile, header: SegmentHeader): Promise<void> {
  const blockBytes = file.alignmentBytes;
  assert(header.blockSizeBytes % blockBytes === 0, "the header block is a whole number of the file's blocks");
  const block = io.allocAligned(blockBytes, blockBytes);
  encodeSegmentHeader(header, block.bytes);
  await file.write(block, 0, blockBytes, 0, true);
}

/**
 * The largest write a writer with batches of `batchBytesMax` makes: its batch buffer, which holds
 * a batch plus the partly filled block of the previous one, in whole blocks.
 */
export function writeCapacityBytes(batchBytesMax: number, blockBytes: number): number {
  return Math.ceil((batchBytesMax + blockBytes) / blockBytes) * blockBytes;
}

/** How a writer writes: the size of its batches and how many it keeps in flight at once. */
export interface WriteShape {
  batchBytesMax: number;
  batchesInFlightMax: number;
}

/**
 * The most bytes a writer of this shape has in flight at once: its batches in flight, each at
 * most one batch buffer. Batches in flight together never share a block, so they lie one after
 * the other, and everything a crash can tear lies within this many bytes of the first of them.
 */
export function inFlightBytesFor(shape: WriteShape, blockBytes: number): number {
  return shape.batchesInFlightMax * writeCapacityBytes(shape.batchBytesMax, blockBytes);
}

export interface NewSegmentFields {
  logId: bigint;
  segmentId: number;
  firstLsn: number;
  /** The most bytes the writer has in flight at once in the record area (inFlightBytesFor). */
  inFlightBytesMax: number;
  /** The LSN of the last checkpoint before the segment (0: none). */
  checkpointLsn?: number;
  /** The crypto area of an encrypted segment (drawn by SegmentKeys.forWriting), or none. */
  crypto?: SegmentCrypto | null;
}

/** The header of a new, empty, unsealed segment. */
export function newSegmentHeader(blockSizeBytes: number, fields: NewSegmentFields): SegmentHeader {
  return {
    formatVersion: FORMAT_VERSION,
    blockSizeBytes,
    flags: fields.crypto != null ? SEGMENT_FLAG_ENCRYPTED : 0,
    segmentIdFloor: fields.segmentId,
    incarnation: 0,
    seal: null,
    logId: fields.logId,
    segmentId: fields.segmentId,
    firstLsn: fields.firstLsn,
    checkpointLsn: fields.checkpointLsn ?? 0,
    crypto: fields.crypto ?? null,
    inFlightBytesMax: Math.max(blockSizeBytes, Math.ceil(fields.inFlightBytesMax / blockSizeBytes) * blockSizeBytes),
  };
}

/**
 * S2: writes the prepared file's header durably; it is still unnamed, and stays open for S3. On
 * failure the file is closed.
 */
export async function writePreparedHeader(io: Io, prepared: PreparedSegment, fields: NewSegmentFields): Promise<SegmentHeader> {
  const header = newSegmentHeader(prepared.file.alignmentBytes, fields);
  try {
    await writeSegmentHeader(io, prepared.file, header);
  } catch (err) {
    await prepared.file.close().catch(() => undefined);
    throw err;
  }
  return header;
}

/**
 * S3 and S4: names the prepared file, whose header S2 wrote, as its segment and opens it under
 * that name. The new name is opened while the directory syncs, and the prepared file's own
 * descriptor is closed meanwhile: nothing is written through either before the sync is done (the
 * writer gets the segment only then), so neither waits on the critical path of a rollover. The
 * header is the one S2 wrote; it is not read back. The prepared file is closed in any case.
 */
export async function namePreparedSegment(
  io: Io,
  dir: string,
  prepared: PreparedSegment,
  header: SegmentHeader,
  direct: DirectIoMode,
  cipher: RecordCipher | null,
): Promise<OpenSegment> {
  assert.equal(cipher !== null, header.crypto !== null, 'an encrypted segment is named with its key');
  const path = join(dir, segmentFileName(header.firstLsn, header.segmentId));
  try {
    await io.rename(prepared.path, path);
  } catch (err) {
    await prepared.file.close().catch(() => undefined);
    throw err;
  }
  crashPoint('roll.renamed');
  const [synced, opened, closed] = await Promise.allSettled([
    io.fsyncDir(dir),
    io.openFile(path, { create: false, direct, readOnly: false }),
    prepared.file.close(),
  ]);
  const failure = [synced, opened, closed].find((outcome) => outcome.status === 'rejected');
  if (failure !== undefined) {
    if (opened.status === 'fulfilled') await opened.value.close().catch(() => undefined);
    throw failure.reason;
  }
  assert(opened.status === 'fulfilled');
  const file = opened.value;
  // The same file as the prepared one: its header was written on this file's block grid.
  assert.equal(header.blockSizeBytes % file.alignmentBytes, 0, "the header block is a whole number of the file's blocks");
  return { path, file, header, dataStartBytes: header.blockSizeBytes, cipher };
}

/** S2 to S4 for a segment no other step has to wait for (the first segment of a log). */
export async function finalizeSegment(
  io: Io,
  dir: string,
  prepared: PreparedSegment,
  fields: NewSegmentFields,
  direct: DirectIoMode,
  cipher: RecordCipher | null,
): Promise<OpenSegment> {
  const header = await writePreparedHeader(io, prepared, fields);
  return namePreparedSegment(io, dir, prepared, header, direct, cipher);
}

/**
 * Opens a segment and checks its header against its name. With `syncFirst`, the file is
 * fdatasynced before the header is read: a header rewritten by a process whose sync failed may
 * be visible in the page cache without being durable, and must not be trusted until it is. A
 * buffered file's clean cached pages are then dropped, since Linux keeps the pages of a failed
 * write in the cache marked clean: reads must come from the disk. An encrypted segment's key comes
 * from `keys` (WAL_ERR_KEY_MISSING without them or without its key id; WAL_ERR_AUTH for a key
 * that is not the one it was written with).
 */
export async function openSegment(
  io: Io,
  path: string,
  name: SegmentName,
  direct: DirectIoMode,
  readOnly: boolean,
  syncFirst: boolean,
  keys: SegmentKeys | null,
): Promise<OpenSegment> {
  const file = await io.openFile(path, { create: false, direct, readOnly });
  try {
    if (syncFirst) await file.datasync();
    await file.dropCache();
    const header = await readSegmentHeader(io, file);
    if (header.firstLsn !== name.firstLsn || header.segmentId !== name.segmentId) {
      throw new WalCorruptionError(
        path,
        0,
        `header says first LSN ${header.firstLsn} and segment id ${header.segmentId}, the file name says ${name.firstLsn} and ${name.segmentId}`,
      );
    }
    if (header.blockSizeBytes % file.alignmentBytes !== 0) {
      throw new WalUnsupportedFormatError(path, `written with ${header.blockSizeBytes}-byte blocks; this file system needs ${file.alignmentBytes}`);
    }
    return { path, file, header, dataStartBytes: header.blockSizeBytes, cipher: segmentCipher(keys, path, header) };
  } catch (err) {
    await file.close().catch(() => undefined);
    throw err;
  }
}

async function readSegmentHeader(io: Io, file: IoFile): Promise<SegmentHeader> {
  const blockBytes = file.alignmentBytes;
  const block = io.allocAligned(blockBytes, blockBytes);
  const gotBytes = await readFull(file, block, 0, blockBytes, 0);
  const decoded = decodeSegmentHeader(block.bytes.subarray(0, gotBytes));
  if (!decoded.ok) {
    if (decoded.unsupported) throw new WalUnsupportedFormatError(file.path, decoded.reason);
    throw new WalCorruptionError(file.path, 0, `segment header: ${decoded.reason}`);
  }
  return decoded.header;
}
