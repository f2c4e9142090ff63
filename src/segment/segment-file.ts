/**
 * Creating and opening segment files. A segment is `wal-<first LSN, 20 digits>.seg`: a header
 * block, then records. Creation is crash-safe in this order (docs/design.md, "Creating a segment"):
 *
 *   1. write the header block to `<name>.tmp` and fdatasync it;
 *   2. rename `<name>.tmp` to `<name>`;
 *   3. fsync the directory, so the rename survives a crash.
 *
 * A crash before 3 leaves either no segment or a `.tmp` file, which open removes.
 */
import { join } from 'node:path';
import { WalCorruptionError, WalUnsupportedFormatError } from '../errors.js';
import { FORMAT_VERSION, SEGMENT_NAME_PATTERN, SEGMENT_TEMP_SUFFIX } from '../format/constants.js';
import { decodeSegmentHeader, encodeSegmentHeader, type SegmentHeader } from '../format/segment-header.js';
import type { DirectIoMode, Io, IoFile } from '../io/io.js';

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

/** Creates a segment durably (steps 1 to 3 above) and returns its path; it is not left open. */
export async function createSegment(
  io: Io,
  dir: string,
  fields: { logId: bigint; segmentId: number; firstLsn: number },
  direct: DirectIoMode,
): Promise<string> {
  const path = join(dir, segmentFileName(fields.firstLsn));
  const tempPath = path + SEGMENT_TEMP_SUFFIX;
  const file = await io.openFile(tempPath, { create: true, direct, readOnly: false });
  try {
    // A `.tmp` left by a crash may hold anything: start from an empty file.
    await file.truncate(0);
    const blockSizeBytes = file.alignmentBytes;
    const header: SegmentHeader = { formatVersion: FORMAT_VERSION, blockSizeBytes, flags: 0, ...fields };
    const block = io.allocAligned(blockSizeBytes, blockSizeBytes);
    encodeSegmentHeader(header, block.bytes);
    await file.write(block, 0, blockSizeBytes, 0, true);
  } finally {
    await file.close();
  }
  await io.rename(tempPath, path);
  await io.fsyncDir(dir);
  return path;
}

export async function openSegment(io: Io, path: string, firstLsnFromName: number, direct: DirectIoMode, readOnly: boolean): Promise<OpenSegment> {
  const file = await io.openFile(path, { create: false, direct, readOnly });
  try {
    const blockBytes = file.alignmentBytes;
    const block = io.allocAligned(blockBytes, blockBytes);
    const gotBytes = await file.read(block, 0, blockBytes, 0);
    const decoded = decodeSegmentHeader(block.bytes.subarray(0, gotBytes));
    if (!decoded.ok) {
      if (decoded.unsupported) throw new WalUnsupportedFormatError(path, decoded.reason);
      throw new WalCorruptionError(path, 0, `segment header: ${decoded.reason}`);
    }
    const header = decoded.header;
    if (header.firstLsn !== firstLsnFromName) {
      throw new WalCorruptionError(path, 0, `header says first LSN ${header.firstLsn}, the file name says ${firstLsnFromName}`);
    }
    if (header.blockSizeBytes % blockBytes !== 0) {
      throw new WalUnsupportedFormatError(path, `written with ${header.blockSizeBytes}-byte blocks; this file system needs ${blockBytes}`);
    }
    return { path, file, header, dataStartBytes: header.blockSizeBytes };
  } catch (err) {
    await file.close().catch(() => undefined);
    throw err;
  }
}
