/**
 * truncateAfter's cut of the log's tail, from its durable intent. A live truncateAfter writes the
 * intent (T2) and runs finishCut; an open that finds an intent left by a crash runs finishCut
 * with it too, so both take exactly the same steps, and every step can be repeated
 * (docs/design.md, "truncateAfter (T)"):
 *
 *   T3. remove the segments that start above `lsn + 1`, newest first, a directory fsync after each;
 *   then, by the intent's mode, for the kept segment (the one holding `lsn + 1`):
 *   in-place (the unsealed active segment):
 *     T4. rewrite its header with the intent's new incarnation, durable;
 *     T5. zero the bytes after record `lsn` up to the end of what was written, fdatasync;
 *   replace (a sealed segment that keeps a prefix; a sealed file is never written again):
 *     T4. copy records up to `lsn` into `wal-cut.seg.tmp` under the new segment id, with their
 *         CRCs (an encrypted segment's re-encrypted under a new salt), header first, fdatasync;
 *         rename it to its segment name, directory fsync;
 *     T5. remove the old file, directory fsync;
 *   keep-sealed (a sealed segment that ends at `lsn`): nothing; the next append rolls over;
 *   T6. remove the double-write buffer file, directory fsync: its copies may hold cut records;
 *   T7. remove the intent, directory fsync.
 * A crash before T7 leaves the intent, and the next open repeats T3–T7 before it reads anything,
 * so the cut is all or nothing, and zeros that landed out of order are never read as a hole.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { WalCorruptionError } from '../errors.js';
import { RECORD_PAYLOAD_BYTES_LIMIT, RECORD_TAG_BYTES, SEGMENT_TEMP_SUFFIX } from '../format/constants.js';
import { CipherBatch, encodeRecord, recordSpanBytes, setRecordCrcRange, type RecordCipher } from '../format/record.js';
import { decodeTruncateIntent, encodeTruncateIntent, TRUNCATE_INTENT_SIZE_BYTES, type TruncateIntent } from '../format/truncate-intent.js';
import { readFull, type DirectIoMode, type Io, type IoFile } from '../io/io.js';
import { SegmentScanner } from '../read/segment-scanner.js';
import type { SegmentKeys } from '../crypto/segment-keys.js';
import { scanTo, zeroRange, type ScanEnd } from '../recovery/recover.js';
import { crashPoint } from '../io/crash-point.js';
import { removeDoubleWriteFile } from '../segment/double-write-buffer.js';
import {
  newSegmentHeader,
  openSegment,
  parseSegmentFileName,
  prepareSegment,
  segmentFileName,
  inFlightBytesFor,
  writeSegmentHeader,
  type OpenSegment,
  type SegmentName,
  type WriteShape,
} from '../segment/segment-file.js';

/** Records the cut a truncateAfter is making, until it is complete. */
export const TRUNCATE_INTENT_NAME = 'truncate-after.intent';
/** The replacement of a cut sealed segment while it is being built; open deletes it. */
const CUT_SEGMENT_TEMP_NAME = `wal-cut.seg${SEGMENT_TEMP_SUFFIX}`;
/** Bytes copied per write when a sealed segment's prefix is copied into its replacement. */
const COPY_CHUNK_BYTES = 1024 * 1024;

/** A segment file found in the directory. */
export interface SegmentEntry extends SegmentName {
  name: string;
  path: string;
}

/** The segment files among `names`, in LSN order (then id order, for a replacement and its original). */
export function segmentEntries(dir: string, names: readonly string[]): SegmentEntry[] {
  const entries: SegmentEntry[] = [];
  for (const name of names) {
    const parsed = parseSegmentFileName(name);
    if (parsed !== undefined) entries.push({ ...parsed, name, path: join(dir, name) });
  }
  return entries.sort((a, b) => a.firstLsn - b.firstLsn || a.segmentId - b.segmentId);
}

export interface CutOptions {
  direct: DirectIoMode;
  /** The log's keys (null: opened without encryption, and then no segment may be encrypted). */
  keys: SegmentKeys | null;
  /** How the writer writes: a kept segment's header records the bytes it may have in flight. */
  writeShape: WriteShape;
}

/** Where the log ends after a cut: the kept segment, now the last one. */
export interface CutOutcome extends ScanEnd {
  path: string;
  name: SegmentName;
  /** keep-sealed: the kept segment is sealed and takes no record. */
  sealed: boolean;
}

/** T2: writes the intent durably: tmp, sync, rename, directory fsync. */
export async function writeIntent(io: Io, dir: string, intent: TruncateIntent): Promise<void> {
  const path = join(dir, TRUNCATE_INTENT_NAME);
  const tempPath = path + SEGMENT_TEMP_SUFFIX;
  const file = await io.openFile(tempPath, { create: true, direct: 'off', readOnly: false });
  try {
    const block = io.allocAligned(file.alignmentBytes, file.alignmentBytes);
    encodeTruncateIntent(intent, block.bytes);
    await file.truncate(0);
    await file.write(block, 0, file.alignmentBytes, 0, true);
  } finally {
    await file.close();
  }
  await io.rename(tempPath, path);
  await io.fsyncDir(dir);
}

export async function readIntent(io: Io, path: string): Promise<TruncateIntent> {
  const file = await io.openFile(path, { create: false, direct: 'off', readOnly: true });
  try {
    await file.dropCache();
    const block = io.allocAligned(file.alignmentBytes, file.alignmentBytes);
    const gotBytes = await readFull(file, block, 0, file.alignmentBytes, 0);
    const intent = decodeTruncateIntent(block.bytes.subarray(0, Math.min(gotBytes, TRUNCATE_INTENT_SIZE_BYTES)));
    // The intent is renamed into place only once durable, so a damaged one is damage, not a crash.
    if (intent === null) throw new WalCorruptionError(path, 0, 'truncation intent file is damaged');
    return intent;
  } finally {
    await file.close();
  }
}

/** T3–T7 for `intent`, from what the directory holds now. */
export async function finishCut(io: Io, dir: string, intent: TruncateIntent, options: CutOptions): Promise<CutOutcome> {
  const entries = segmentEntries(dir, await io.listDir(dir));
  while (entries.length > 0 && entries[entries.length - 1]!.firstLsn > intent.lsn + 1) {
    await io.unlink(entries.pop()!.path);
    crashPoint('truncate-after.unlinked');
    await io.fsyncDir(dir);
  }
  const kept = entries.find((e) => e.firstLsn === intent.segmentFirstLsn && e.segmentId === intent.segmentId);
  let outcome: CutOutcome;
  if (intent.mode === 'replace') {
    outcome = await replaceKept(io, dir, intent, kept, entries, options);
  } else {
    if (kept === undefined || kept !== entries[entries.length - 1]) {
      throw new WalCorruptionError(
        join(dir, TRUNCATE_INTENT_NAME),
        0,
        `the segment a truncation keeps (first LSN ${intent.segmentFirstLsn}, id ${intent.segmentId}) is not the last one`,
      );
    }
    outcome = intent.mode === 'in-place' ? await cutInPlace(io, intent, kept, options) : await keepSealed(io, intent, kept, options);
  }
  await removeDoubleWriteFile(io, dir, await io.listDir(dir));
  crashPoint('truncate-after.cleared');
  await io.unlink(join(dir, TRUNCATE_INTENT_NAME));
  await io.fsyncDir(dir);
  return outcome;
}

/** in-place T4–T5. */
async function cutInPlace(io: Io, intent: TruncateIntent, kept: SegmentEntry, options: CutOptions): Promise<CutOutcome> {
  const segment = await openSegment(io, kept.path, kept, options.direct, false, true, options.keys);
  try {
    const header = segment.header;
    if (header.seal !== null) throw new WalCorruptionError(kept.path, 0, 'a truncation meant to cut this segment in place, but it is sealed');
    const inFlightBytesMax = Math.max(header.inFlightBytesMax, inFlightBytesFor(options.writeShape, header.blockSizeBytes));
    if (header.incarnation !== intent.incarnation || header.inFlightBytesMax !== inFlightBytesMax) {
      await writeSegmentHeader(io, segment.file, { ...header, incarnation: intent.incarnation, inFlightBytesMax });
      crashPoint('truncate-after.reincarnated');
    }
    const end = await scanTo(io, segment, intent.lsn);
    await zeroRange(io, segment.file, end.endBytes, intent.zeroEndBytes);
    await segment.file.datasync();
    crashPoint('truncate-after.zeroed');
    return { ...end, path: kept.path, name: kept, sealed: false };
  } finally {
    await segment.file.close();
  }
}

async function keepSealed(io: Io, intent: TruncateIntent, kept: SegmentEntry, options: CutOptions): Promise<CutOutcome> {
  const segment = await openSegment(io, kept.path, kept, options.direct, true, false, options.keys);
  try {
    const seal = segment.header.seal;
    if (seal === null || seal.lastLsn !== intent.lsn)
      throw new WalCorruptionError(kept.path, 0, `a truncation meant to keep this segment sealed at LSN ${intent.lsn}`);
    const recordCount = seal.lastLsn - segment.header.firstLsn + 1;
    return { recordCount, nextLsn: intent.lsn + 1, endBytes: seal.endBytes, lastRecordBytes: seal.lastRecordBytes, path: kept.path, name: kept, sealed: true };
  } finally {
    await segment.file.close();
  }
}

/** replace T4–T5: the kept prefix goes into a new file under a new id; then the old file goes. */
async function replaceKept(
  io: Io,
  dir: string,
  intent: TruncateIntent,
  kept: SegmentEntry | undefined,
  entries: SegmentEntry[],
  options: CutOptions,
): Promise<CutOutcome> {
  const name: SegmentName = { firstLsn: intent.segmentFirstLsn, segmentId: intent.newSegmentId };
  const path = join(dir, segmentFileName(name.firstLsn, name.segmentId));
  const replacement = entries.find((e) => e.firstLsn === name.firstLsn && e.segmentId === name.segmentId);
  let end: ScanEnd;
  if (replacement === undefined) {
    if (kept === undefined) throw new WalCorruptionError(path, 0, `neither this segment nor the one it replaces (id ${intent.segmentId}) exists`);
    end = await buildReplacement(io, dir, intent, kept, path, options);
  } else {
    // A crash after the rename: the replacement is whole (it was synced before it was named).
    const segment = await openSegment(io, replacement.path, replacement, options.direct, true, true, options.keys);
    try {
      end = await scanTo(io, segment, intent.lsn);
    } finally {
      await segment.file.close();
    }
  }
  if (kept !== undefined) {
    await io.unlink(kept.path);
    crashPoint('truncate-after.replaced');
    await io.fsyncDir(dir);
  }
  return { ...end, path, name, sealed: false };
}

async function buildReplacement(io: Io, dir: string, intent: TruncateIntent, kept: SegmentEntry, path: string, options: CutOptions): Promise<ScanEnd> {
  const source = await openSegment(io, kept.path, kept, options.direct, true, true, options.keys);
  try {
    const seal = source.header.seal;
    if (seal === null || seal.lastLsn <= intent.lsn)
      throw new WalCorruptionError(kept.path, 0, `a truncation meant to replace this segment by its records up to LSN ${intent.lsn}`);
    // Not preallocated: the copy needs only the space of the kept records, so a cut can be
    // finished on a nearly full disk; the segment grows as the writer appends to it.
    const target = await prepareSegment(io, dir, 0, false, options.direct, CUT_SEGMENT_TEMP_NAME);
    let end: ScanEnd;
    try {
      const blockBytes = source.header.blockSizeBytes;
      // An encrypted segment's records are re-encrypted under a salt of their own (a new data
      // key: the segment id is part of it too), with the key they were written with.
      const sealer = source.header.crypto === null ? null : options.keys!.begin(io, source.header.logId, intent.newSegmentId, source.header.crypto.keyId);
      const header = newSegmentHeader(blockBytes, {
        logId: source.header.logId,
        segmentId: intent.newSegmentId,
        firstLsn: source.header.firstLsn,
        // The checkpoint before the segment is before the cut too: the replacement names it.
        checkpointLsn: source.header.checkpointLsn,
        inFlightBytesMax: Math.max(source.header.inFlightBytesMax, inFlightBytesFor(options.writeShape, blockBytes)),
        crypto: sealer?.crypto ?? null,
      });
      await writeSegmentHeader(io, target.file, { ...header, segmentIdFloor: intent.segmentIdFloor });
      end = await copyRecords(io, source, target.file, intent.lsn, intent.newSegmentId, sealer?.cipher ?? null);
      await target.file.datasync();
    } finally {
      await target.file.close();
    }
    await io.rename(target.path, path);
    crashPoint('truncate-after.copied');
    await io.fsyncDir(dir);
    return end;
  } finally {
    await source.file.close();
  }
}

/**
 * Copies the records of `source` up to `lsn` into `target` (from the same data offset), each
 * re-encoded under `segmentId` with its CRC computed again; the other header fields, the batch
 * indexes among them, are kept. Not durable until the caller's datasync.
 */
async function copyRecords(io: Io, source: OpenSegment, target: IoFile, lsn: number, segmentId: number, cipher: RecordCipher | null): Promise<ScanEnd> {
  const seal = source.header.seal!;
  const scanner = new SegmentScanner(io, source.file, {
    segmentId: source.header.segmentId,
    dataStartBytes: source.dataStartBytes,
    endBytes: seal.endBytes,
    firstLsn: source.header.firstLsn,
    payloadBytesLimit: RECORD_PAYLOAD_BYTES_LIMIT,
    lsnLimit: lsn,
    cipher: source.cipher,
  });
  const tagBytes = cipher === null ? 0 : RECORD_TAG_BYTES;
  const single = new CipherBatch(1);
  const block = target.alignmentBytes;
  let out = io.allocAligned(COPY_CHUNK_BYTES + block, block);
  let outBytes = 0;
  let outFileOffsetBytes = source.dataStartBytes;
  const range = new Uint32Array(2);
  const crc = new Uint32Array(1);
  let recordCount = 0;
  let lastRecordBytes = 0;
  for (;;) {
    const records = await scanner.next();
    if (records.length === 0) break;
    scanner.openPayloads(records);
    for (const r of records) {
      const h = r.header;
      const spanBytes = recordSpanBytes(h.payloadSizeBytes + tagBytes);
      if (outBytes + spanBytes > out.bytes.byteLength) {
        // Write the whole blocks and keep the partly filled one for the next record.
        const wholeBytes = Math.floor(outBytes / block) * block;
        if (wholeBytes > 0) {
          assert(outFileOffsetBytes % block === 0, 'the copy writes from a block boundary');
          await target.write(out, 0, wholeBytes, outFileOffsetBytes, false);
          out.bytes.copyWithin(0, wholeBytes, outBytes);
          outBytes -= wholeBytes;
          outFileOffsetBytes += wholeBytes;
        }
        if (outBytes + spanBytes > out.bytes.byteLength) {
          // One record larger than the chunk (its size is within the format limit).
          const bigger = io.allocAligned(Math.ceil((outBytes + spanBytes + block) / block) * block, block);
          bigger.bytes.set(out.bytes.subarray(0, outBytes));
          out = bigger;
        }
      }
      encodeRecord(
        out.words,
        out.bytes,
        outBytes,
        scanner.payloadOf(r),
        h.lsn,
        { type: h.type, tenant: h.tenant, vshard: h.vshard, database: h.database },
        segmentId,
        h.pendingIndex,
        tagBytes,
      );
      if (cipher !== null) {
        single.set(0, outBytes, h.payloadSizeBytes + tagBytes, h.lsn);
        cipher.seal(out.bytes, single.ranges, single.nonces, 1);
      }
      setRecordCrcRange(range, 0, outBytes, h.payloadSizeBytes + tagBytes);
      io.crc32cRanges(out.bytes, range, 1, crc);
      out.words[outBytes >>> 2] = crc[0]!;
      lastRecordBytes = outFileOffsetBytes + outBytes;
      outBytes += spanBytes;
      recordCount += 1;
    }
  }
  if (scanner.nextLsn !== lsn + 1)
    throw new WalCorruptionError(
      source.path,
      scanner.validEndBytes,
      `the segment ends at LSN ${scanner.nextLsn - 1}, before LSN ${lsn}, which it must hold`,
      scanner.nextLsn,
    );
  const writeBytes = Math.ceil(outBytes / block) * block;
  assert.equal(recordCount, lsn + 1 - source.header.firstLsn, 'the copy holds every record up to the cut');
  if (writeBytes > 0) {
    assert(outFileOffsetBytes % block === 0, 'the copy writes from a block boundary');
    out.bytes.fill(0, outBytes, writeBytes);
    await target.write(out, 0, writeBytes, outFileOffsetBytes, false);
  }
  return { recordCount, nextLsn: lsn + 1, endBytes: outFileOffsetBytes + outBytes, lastRecordBytes };
}
