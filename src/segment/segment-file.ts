/**
 * Segment files: `wal-<first LSN, 20 digits>.seg`, a header block, then records.
 *
 * A new segment is made durable in this order (docs/design.md, "Creating a segment"):
 *   1. prepare `wal-prepared.seg.tmp` ahead of time: create it, and when preallocating, reserve
 *      and zero-fill it to the segment size, then fdatasync, so later syncs flush data only;
 *   2. write its header block (first LSN, segment id) and fdatasync;
 *   3. rename it to `wal-<first LSN>.seg`;
 *   4. fsync the directory, so the rename survives a crash.
 * A crash before 4 leaves no new segment (or a `.tmp`, which open removes).
 */
import { join } from 'node:path';
import { WalCorruptionError, WalUnsupportedFormatError } from '../errors.js';
import { FORMAT_VERSION, SEGMENT_NAME_PATTERN, SEGMENT_TEMP_SUFFIX } from '../format/constants.js';
import { decodeSegmentHeader, encodeSegmentHeader, type SegmentHeader } from '../format/segment-header.js';
import type { DirectIoMode, Io, IoFile } from '../io/io.js';
import { crashPoint } from '../testing/crash-point.js';

/** The one prepared-but-unnamed segment; its content is unused until it is renamed. */
export const PREPARED_SEGMENT_NAME = `wal-prepared.seg${SEGMENT_TEMP_SUFFIX}`;
/** Zero-fill granularity: 1 MiB writes keep the preparation from monopolising the disk queue. */
const ZERO_FILL_CHUNK_BYTES = 1024 * 1024;

export function segmentFileName(firstLsn: number): string {
  return `wal-${String(firstLsn).padStart(20, '0')}.seg`;
}

/** The first LSN encoded in a segment file name, or undefined when the name is not a segment's. */
export function parseSegmentFileName(name: string): number | undefined {
  const match = SEGMENT_NAME_PATTERN.exec(name);
  if (match === null) return undefined;
  const firstLsn = Number(match[1]);
  return Number.isSafeInteger(firstLsn) ? firstLsn : undefined;
}

export interface OpenSegment {
  path: string;
  file: IoFile;
  header: SegmentHeader;
  /** Records start at the block after the header. */
  dataStartBytes: number;
}

export interface PreparedSegment {
  path: string;
  file: IoFile;
}

/** Step 1: an unnamed segment file, zero-filled to `sizeBytes` when `preallocate` is set. */
export async function prepareSegment(io: Io, dir: string, sizeBytes: number, preallocate: boolean, direct: DirectIoMode): Promise<PreparedSegment> {
  const path = join(dir, PREPARED_SEGMENT_NAME);
  const file = await io.openFile(path, { create: true, direct, readOnly: false });
  try {
    // A `.tmp` left by a crash may hold anything: start from an empty file.
    await file.truncate(0);
    if (preallocate) {
      // fallocate alone leaves unwritten extents whose first write is a metadata change the next
      // fdatasync must journal; writing zeros makes them written extents (PostgreSQL's wal_init_zero).
      await file.allocate(0, sizeBytes).catch(() => undefined);
      const chunkBytes = Math.min(ZERO_FILL_CHUNK_BYTES, sizeBytes);
      const zeros = io.allocAligned(chunkBytes, file.alignmentBytes);
      for (let offsetBytes = 0; offsetBytes < sizeBytes; offsetBytes += chunkBytes) {
        await file.write(zeros, 0, Math.min(chunkBytes, sizeBytes - offsetBytes), offsetBytes, false);
      }
    }
    await file.datasync();
    return { path, file };
  } catch (err) {
    await file.close().catch(() => undefined);
    throw err;
  }
}

/** Writes a header block durably at offset 0; the header is alone in its block. */
export async function writeSegmentHeader(io: Io, file: IoFile, header: SegmentHeader): Promise<void> {
  const blockBytes = file.alignmentBytes;
  const block = io.allocAligned(blockBytes, blockBytes);
  encodeSegmentHeader(header, block.bytes);
  await file.write(block, 0, blockBytes, 0, true);
}

/** Step 2: writes the prepared file's header durably and closes it; it is still unnamed. */
export async function writePreparedHeader(
  io: Io,
  prepared: PreparedSegment,
  fields: { logId: bigint; segmentId: number; firstLsn: number },
): Promise<void> {
  try {
    const header: SegmentHeader = { formatVersion: FORMAT_VERSION, blockSizeBytes: prepared.file.alignmentBytes, flags: 0, segmentIdFloor: fields.segmentId, seal: null, ...fields };
    await writeSegmentHeader(io, prepared.file, header);
  } finally {
    await prepared.file.close();
  }
}

/** Steps 3 and 4: names the prepared file as the segment starting at `firstLsn` and opens it. */
export async function namePreparedSegment(io: Io, dir: string, prepared: PreparedSegment, firstLsn: number, direct: DirectIoMode): Promise<OpenSegment> {
  const path = join(dir, segmentFileName(firstLsn));
  await io.rename(prepared.path, path);
  crashPoint('roll.renamed');
  await io.fsyncDir(dir);
  return openSegment(io, path, firstLsn, direct, false);
}

/** Steps 2 to 4 for a segment no other step has to wait for (the first segment of a log). */
export async function finalizeSegment(
  io: Io,
  dir: string,
  prepared: PreparedSegment,
  fields: { logId: bigint; segmentId: number; firstLsn: number },
  direct: DirectIoMode,
): Promise<OpenSegment> {
  await writePreparedHeader(io, prepared, fields);
  return namePreparedSegment(io, dir, prepared, fields.firstLsn, direct);
}

/**
 * Opens a segment and checks its header against its name. With `syncFirst`, the file is
 * fdatasynced before the header is read: a header rewritten by a process whose sync failed may
 * be visible in the page cache without being durable, and must not be trusted until it is.
 */
export async function openSegment(io: Io, path: string, firstLsnFromName: number, direct: DirectIoMode, readOnly: boolean, syncFirst = false): Promise<OpenSegment> {
  const file = await io.openFile(path, { create: false, direct, readOnly });
  try {
    if (syncFirst) await file.datasync();
    const header = await readSegmentHeader(io, file);
    if (header.firstLsn !== firstLsnFromName) {
      throw new WalCorruptionError(path, 0, `header says first LSN ${header.firstLsn}, the file name says ${firstLsnFromName}`);
    }
    if (header.blockSizeBytes % file.alignmentBytes !== 0) {
      throw new WalUnsupportedFormatError(path, `written with ${header.blockSizeBytes}-byte blocks; this file system needs ${file.alignmentBytes}`);
    }
    return { path, file, header, dataStartBytes: header.blockSizeBytes };
  } catch (err) {
    await file.close().catch(() => undefined);
    throw err;
  }
}

async function readSegmentHeader(io: Io, file: IoFile): Promise<SegmentHeader> {
  const blockBytes = file.alignmentBytes;
  const block = io.allocAligned(blockBytes, blockBytes);
  const gotBytes = await file.read(block, 0, blockBytes, 0);
  const decoded = decodeSegmentHeader(block.bytes.subarray(0, gotBytes));
  if (!decoded.ok) {
    if (decoded.unsupported) throw new WalUnsupportedFormatError(file.path, decoded.reason);
    throw new WalCorruptionError(file.path, 0, `segment header: ${decoded.reason}`);
  }
  return decoded.header;
}
