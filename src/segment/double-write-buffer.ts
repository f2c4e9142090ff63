/**
 * The double-write buffer (DWB): a copy of the acknowledged records in the tail block, made
 * durable before that block is rewritten in place by the next batch.
 *
 * Why: the format relies on sector-atomic writes (docs/format.md, "Device assumption"). On a
 * device that can leave a sector of an interrupted write full of garbage (or unreadable),
 * rewriting the tail block could destroy records that were already acknowledged. With the DWB
 * on, a torn rewrite is repaired at open from the copy.
 *
 * The file `ringwal.dwb` holds two slots used alternately (layout in format/dwb-slot.ts), so a
 * torn DWB write leaves the other (older) copy intact.
 *
 * Rules that keep it from doing harm (docs/design.md, "The double-write buffer", D1–D5):
 *   - a copy holds only bytes of batches already durable, so it can never bring back a record
 *     that was not acknowledged;
 *   - a copy names the segment id and incarnation it was taken from; truncateAfter gives the
 *     segment it cuts a new incarnation (or a new id), so a copy is never applied to bytes
 *     written after a cut;
 *   - `seq` grows across opens (it resumes above the slots' maximum), so the newest copy wins;
 *   - at open only the newest copy for the last segment's incarnation is used, only its bytes are
 *     written back, and only where the segment differs (or cannot be read); the scan then decides
 *     what is valid;
 *   - truncateAfter, and every open with the DWB off, removes the file: copies that no running
 *     log maintains are never kept.
 */
import { join } from 'node:path';
import { WalError } from '../errors.js';
import { DWB_SLOT_COUNT, decodeDwbSlot, encodeDwbSlot, type DwbCopy, type DwbGeometry } from '../format/dwb-slot.js';
import { readFull, type AlignedBuffer, type DirectIoMode, type Io, type IoFile } from '../io/io.js';

export type DoubleWriteMode = 'off' | 'buffered' | 'direct';

export const DWB_FILE_NAME = 'ringwal.dwb';

export class DoubleWriteBuffer {
  private readonly slot: AlignedBuffer;
  private nextSeq: number;

  private constructor(
    io: Io,
    private readonly file: IoFile,
    private readonly logId: bigint,
    /** A slot is two slot blocks; a copy is of one block of the segment (the writer's block). */
    private readonly geometry: DwbGeometry,
    nextSeq: number,
  ) {
    this.slot = io.allocAligned(2 * geometry.slotBlockBytes, geometry.slotBlockBytes);
    this.nextSeq = nextSeq;
  }

  /**
   * Opens (or creates, zero-filled, its directory entry made durable) the DWB file and returns
   * its valid copies, newest first.
   */
  static async open(
    io: Io,
    dir: string,
    mode: Exclude<DoubleWriteMode, 'off'>,
    logId: bigint,
    segmentBlockBytes: number,
  ): Promise<{ dwb: DoubleWriteBuffer; copies: DwbCopy[] }> {
    // segmentBlockBytes: the block the writer rewrites, which a copy is of.
    const direct: DirectIoMode = mode === 'direct' ? 'required' : 'off';
    const file = await io.openFile(join(dir, DWB_FILE_NAME), { create: true, direct, readOnly: false });
    try {
      await file.dropCache();
      // Block sizes are powers of two, so the larger one is a multiple of the smaller.
      const block = Math.max(segmentBlockBytes, file.alignmentBytes);
      const geometry: DwbGeometry = { slotBlockBytes: block, copyBlockBytes: segmentBlockBytes };
      const sizeBytes = DWB_SLOT_COUNT * 2 * block;
      const buffer = io.allocAligned(sizeBytes, block);
      const gotBytes = await readFull(file, buffer, 0, sizeBytes, 0);
      if (gotBytes < sizeBytes) {
        // A new (or short) file: zero it durably, then make its name durable (D1).
        buffer.bytes.fill(0, gotBytes);
        await file.write(buffer, 0, sizeBytes, 0, true);
        await io.fsyncDir(dir);
      }
      const copies: DwbCopy[] = [];
      let maxSeq = 0;
      for (let i = 0; i < DWB_SLOT_COUNT; i++) {
        const copy = decodeDwbSlot(buffer.bytes.subarray(i * 2 * block, (i + 1) * 2 * block), geometry, logId);
        if (copy === null) continue;
        copies.push(copy);
        maxSeq = Math.max(maxSeq, copy.seq);
      }
      copies.sort((a, b) => b.seq - a.seq);
      return { dwb: new DoubleWriteBuffer(io, file, logId, geometry, maxSeq + 1), copies };
    } catch (err) {
      await file.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * Makes a copy of `bytes` (the acknowledged prefix of the block at `blockOffsetBytes` of one
   * incarnation of one segment) durable (D2). The caller writes the block only after this resolves.
   */
  async record(segmentId: number, incarnation: number, blockOffsetBytes: number, bytes: Uint8Array): Promise<void> {
    const block = this.geometry.slotBlockBytes;
    const seq = this.nextSeq++;
    encodeDwbSlot(this.slot.bytes, this.geometry, this.logId, { seq, segmentId, incarnation, blockOffsetBytes, bytes });
    await this.file.write(this.slot, 0, 2 * block, (seq % DWB_SLOT_COUNT) * 2 * block, true);
  }

  async close(): Promise<void> {
    await this.file.close();
  }
}

/** Removes `ringwal.dwb` if `names` (the directory's entries) hold it, and makes that durable. */
export async function removeDoubleWriteFile(io: Io, dir: string, names: readonly string[]): Promise<void> {
  if (!names.includes(DWB_FILE_NAME)) return;
  await io.unlink(join(dir, DWB_FILE_NAME));
  await io.fsyncDir(dir);
}

/**
 * Reads of the copied block made before it is taken as unreadable. A torn sector that reads back
 * as a medium error does so every time; a transient error (a bus reset) does not repeat this
 * often, and taking one for an unreadable block would overwrite readable, acknowledged records.
 */
export const RESTORE_READ_ATTEMPTS = 4;

/**
 * D4: writes the newest copy of this incarnation of the segment back where its bytes differ (a
 * torn rewrite of the tail block), keeping the rest of the block. When the block cannot be read
 * at all, RESTORE_READ_ATTEMPTS times in a row (a torn sector often reads back as a medium
 * error), the copy is written with zeros after it: the unreadable rest could only hold the torn
 * batch (no other write touched that block since the copy), and the scan after the repair stops
 * there. Returns whether anything was written.
 */
export async function restoreFromCopy(io: Io, file: IoFile, segmentId: number, incarnation: number, copies: readonly DwbCopy[]): Promise<boolean> {
  const newest = copies.find((c) => c.segmentId === segmentId && c.incarnation === incarnation);
  if (newest === undefined) return false;
  const block = file.alignmentBytes;
  const buffer = io.allocAligned(block, block);
  let gotBytes = -1;
  for (let attempt = 1; gotBytes < 0; attempt++) {
    try {
      gotBytes = await readFull(file, buffer, 0, block, newest.blockOffsetBytes);
    } catch (err) {
      if (!(err instanceof WalError) || err.code !== 'WAL_ERR_IO') throw err;
      if (attempt === RESTORE_READ_ATTEMPTS) {
        buffer.bytes.fill(0);
        break;
      }
    }
  }
  if (gotBytes === 0) return false;
  const current = buffer.bytes.subarray(0, newest.bytes.byteLength);
  if (gotBytes >= newest.bytes.byteLength && current.every((b, i) => b === newest.bytes[i])) return false;
  buffer.bytes.set(newest.bytes, 0);
  await file.write(buffer, 0, block, newest.blockOffsetBytes, true);
  return true;
}
