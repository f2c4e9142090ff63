/**
 * The double-write buffer (DWB): a copy of the acknowledged records in the tail block, made
 * durable before that block is rewritten in place by the next batch.
 *
 * Why: the format relies on sector-atomic writes (docs/format.md, "Device assumption"). On a
 * device that can leave a sector of an interrupted write full of garbage, rewriting the tail
 * block could destroy records that were already acknowledged. With the DWB on, a torn rewrite
 * is repaired at open from the copy.
 *
 * The file `ringwal.dwb` holds two slots used alternately, so a torn DWB write leaves the other
 * (older) copy intact. A slot is two blocks:
 *
 *   block 0: magic u32 | version u16 | 0 u16 | seq u64 | logId u64 | segmentId u32 |
 *            validBytes u32 | blockOffset u64 | dataCrc u32 | headerCrc u32 (CRC of bytes 0..44)
 *   block 1: the first `validBytes` of the segment block at `blockOffset`, then zeros
 *
 * Rules that keep it from doing harm:
 *   - a copy holds only bytes of batches already durable, so it can never bring back a record
 *     that was not acknowledged;
 *   - `seq` grows across opens (it resumes above the slots' maximum), so the newest copy wins;
 *   - at open, only the newest valid copy for the last segment is used, and only its bytes are
 *     written back, and only where the segment differs; the scan then decides what is valid;
 *   - truncateAfter clears both slots before it completes, so a copy can never resurrect
 *     records that were cut.
 */
import { join } from 'node:path';
import { crc32c } from '../io/native-binding.js';
import type { AlignedBuffer, DirectIoMode, Io, IoFile } from '../io/io.js';

export type DoubleWriteMode = 'off' | 'buffered' | 'direct';

export const DWB_FILE_NAME = 'ringwal.dwb';
const DWB_MAGIC = 0x6264_7772; // "rwdb" little-endian
const DWB_VERSION = 1;
const SLOT_COUNT = 2;
const HEADER_CRC_OFFSET = 44;

const Field = { MAGIC: 0, VERSION: 4, SEQ: 8, LOG_ID: 16, SEGMENT_ID: 24, VALID: 28, BLOCK_OFFSET: 32, DATA_CRC: 40, HEADER_CRC: 44 } as const;

const TWO_POW_32 = 0x1_0000_0000;

interface SlotCopy {
  seq: number;
  segmentId: number;
  blockOffsetBytes: number;
  bytes: Uint8Array;
}

export class DoubleWriteBuffer {
  private readonly slot: AlignedBuffer;
  private nextSeq: number;

  private constructor(
    private readonly io: Io,
    private readonly file: IoFile,
    private readonly logId: bigint,
    /** The segments' block: a slot holds a header block and a copy of one segment block. */
    private readonly blockBytes: number,
    nextSeq: number,
  ) {
    this.slot = io.allocAligned(2 * blockBytes, blockBytes);
    this.nextSeq = nextSeq;
  }

  /** Opens (or creates, zero-filled) the DWB file and reads the newest copy for `segmentId`. */
  static async open(io: Io, dir: string, mode: Exclude<DoubleWriteMode, 'off'>, logId: bigint, segmentBlockBytes: number): Promise<{ dwb: DoubleWriteBuffer; copies: SlotCopy[] }> {
    const direct: DirectIoMode = mode === 'direct' ? 'required' : 'off';
    const file = await io.openFile(join(dir, DWB_FILE_NAME), { create: true, direct, readOnly: false });
    try {
      // Block sizes are powers of two, so the larger one is a multiple of the smaller.
      const block = Math.max(segmentBlockBytes, file.alignmentBytes);
      const sizeBytes = SLOT_COUNT * 2 * block;
      const buffer = io.allocAligned(sizeBytes, block);
      const gotBytes = await file.read(buffer, 0, sizeBytes, 0);
      if (gotBytes < sizeBytes) {
        buffer.bytes.fill(0, gotBytes);
        await file.write(buffer, 0, sizeBytes, 0, true);
      }
      const copies: SlotCopy[] = [];
      let maxSeq = 0;
      for (let i = 0; i < SLOT_COUNT; i++) {
        const copy = parseSlot(buffer.bytes.subarray(i * 2 * block, (i + 1) * 2 * block), block, logId);
        if (copy === null) continue;
        copies.push(copy);
        maxSeq = Math.max(maxSeq, copy.seq);
      }
      copies.sort((a, b) => b.seq - a.seq);
      return { dwb: new DoubleWriteBuffer(io, file, logId, block, maxSeq + 1), copies };
    } catch (err) {
      await file.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * Makes a copy of `bytes` (the acknowledged prefix of the segment block at `blockOffsetBytes`)
   * durable. The caller writes the block itself only after this resolves.
   */
  async record(segmentId: number, blockOffsetBytes: number, bytes: Uint8Array): Promise<void> {
    const block = this.blockBytes;
    if (bytes.byteLength === 0 || bytes.byteLength >= block) throw new Error(`DWB copy of ${bytes.byteLength} bytes: a tail is 1..${block - 1} bytes`);
    const seq = this.nextSeq++;
    const slot = this.slot;
    slot.bytes.fill(0);
    const view = new DataView(slot.arrayBuffer);
    view.setUint32(Field.MAGIC, DWB_MAGIC, true);
    view.setUint16(Field.VERSION, DWB_VERSION, true);
    view.setUint32(Field.SEQ, seq % TWO_POW_32, true);
    view.setUint32(Field.SEQ + 4, Math.floor(seq / TWO_POW_32), true);
    view.setBigUint64(Field.LOG_ID, this.logId, true);
    view.setUint32(Field.SEGMENT_ID, segmentId, true);
    view.setUint32(Field.VALID, bytes.byteLength, true);
    view.setUint32(Field.BLOCK_OFFSET, blockOffsetBytes % TWO_POW_32, true);
    view.setUint32(Field.BLOCK_OFFSET + 4, Math.floor(blockOffsetBytes / TWO_POW_32), true);
    slot.bytes.set(bytes, block);
    view.setUint32(Field.DATA_CRC, crc32c(bytes), true);
    view.setUint32(Field.HEADER_CRC, crc32c(slot.bytes.subarray(0, HEADER_CRC_OFFSET)), true);
    await this.file.write(slot, 0, 2 * block, (seq % SLOT_COUNT) * 2 * block, true);
  }

  /** Zeroes both slots durably: no copy from before this call can ever be applied. */
  async clear(): Promise<void> {
    const block = this.blockBytes;
    const zeros = this.io.allocAligned(SLOT_COUNT * 2 * block, block);
    await this.file.write(zeros, 0, SLOT_COUNT * 2 * block, 0, true);
  }

  async close(): Promise<void> {
    await this.file.close();
  }
}

function parseSlot(bytes: Uint8Array, block: number, logId: bigint): SlotCopy | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(Field.MAGIC, true) !== DWB_MAGIC || view.getUint16(Field.VERSION, true) !== DWB_VERSION) return null;
  if (view.getUint32(Field.HEADER_CRC, true) !== crc32c(bytes.subarray(0, HEADER_CRC_OFFSET))) return null;
  if (view.getBigUint64(Field.LOG_ID, true) !== logId) return null;
  const validBytes = view.getUint32(Field.VALID, true);
  if (validBytes === 0 || validBytes >= block) return null;
  const data = bytes.subarray(block, block + validBytes);
  if (view.getUint32(Field.DATA_CRC, true) !== crc32c(data)) return null;
  const blockOffsetBytes = view.getUint32(Field.BLOCK_OFFSET, true) + view.getUint32(Field.BLOCK_OFFSET + 4, true) * TWO_POW_32;
  if (blockOffsetBytes % block !== 0) return null;
  return {
    seq: view.getUint32(Field.SEQ, true) + view.getUint32(Field.SEQ + 4, true) * TWO_POW_32,
    segmentId: view.getUint32(Field.SEGMENT_ID, true),
    blockOffsetBytes,
    bytes: Uint8Array.from(data),
  };
}

/**
 * Writes the newest copy back into the segment where its bytes differ (a torn rewrite of the
 * tail block), keeping the rest of the block. Returns whether anything was repaired.
 */
export async function restoreFromCopy(io: Io, file: IoFile, segmentId: number, copies: readonly SlotCopy[]): Promise<boolean> {
  const newest = copies.find((c) => c.segmentId === segmentId);
  if (newest === undefined) return false;
  const block = file.alignmentBytes;
  const buffer = io.allocAligned(block, block);
  const gotBytes = await file.read(buffer, 0, block, newest.blockOffsetBytes);
  if (gotBytes === 0) return false;
  const current = buffer.bytes.subarray(0, newest.bytes.byteLength);
  if (gotBytes >= newest.bytes.byteLength && current.every((b, i) => b === newest.bytes[i])) return false;
  buffer.bytes.set(newest.bytes, 0);
  await file.write(buffer, 0, block, newest.blockOffsetBytes, true);
  return true;
}
