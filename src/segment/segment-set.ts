/**
 * The log directory as a whole: sealed segments, the active one, the next one prepared ahead,
 * continuity checks on open, rollover, and truncation at both ends.
 *
 * Rollover, in order (docs/design.md, "Rolling over"):
 *   1. the last batch of the active segment is durable (the writer waits for it);
 *   2. the active segment's header is rewritten sealed (last LSN, end, last record offset) and
 *      the prepared file's header is written (first LSN, new segment id), both durable;
 *   3. the prepared file is renamed to `wal-<first LSN>.seg` and the directory fsynced;
 *   4. the new segment takes appends; the sealed one is never written again; the hook runs;
 *      the next segment starts preparing in the background.
 * A crash before 3 leaves the sealed segment last; open then starts a new segment after it.
 *
 * truncateBefore removes whole sealed segments oldest first, fsyncing the directory after each,
 * so a crash leaves a suffix of the log and a gap can only mean damage. truncateAfter writes an
 * intent file first, so a crash in the middle is finished by the next open (see truncateAfter).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { WalCorruptionError, WalInvalidArgumentError } from '../errors.js';
import { LSN_MAX, RECORD_PAYLOAD_LIMIT_BYTES, SEGMENT_FLAG_SEALED, SEGMENT_TEMP_SUFFIX } from '../format/constants.js';
import { checkRecordHeader, decodeRecordHeader, recordSpanBytes } from '../format/record.js';
import type { SegmentHeader, SegmentSeal } from '../format/segment-header.js';
import type { DirectIoMode, Io } from '../io/io.js';
import { crc32c } from '../io/native-binding.js';
import { recoverSegment, type RecoveryReport } from '../recovery/recover.js';
import { recordCrcMatches } from '../read/segment-scanner.js';
import { DoubleWriteBuffer, restoreFromCopy, type DoubleWriteMode } from './double-write-buffer.js';
import { crashPoint } from '../testing/crash-point.js';
import {
  finalizeSegment,
  namePreparedSegment,
  openSegment,
  parseSegmentFileName,
  prepareSegment,
  writePreparedHeader,
  writeSegmentHeader,
  type OpenSegment,
  type PreparedSegment,
} from './segment-file.js';

/** Records the LSN a truncateAfter is cutting to, until the cut is complete. */
export const TRUNCATE_INTENT_NAME = 'truncate-after.intent';
const INTENT_MAGIC = 0x7472_7772; // "rwrt" little-endian
const INTENT_SIZE_BYTES = 24;

interface Intent {
  lsn: number;
  /** The highest segment id in use when the truncation began, kept above after it. */
  segmentIdFloor: number;
}

export interface SegmentSetOptions {
  dir: string;
  directIo: DirectIoMode;
  segmentSizeBytes: number;
  preallocate: boolean;
  doubleWriteBuffer: DoubleWriteMode;
  onSegmentSealed: ((info: SealedSegmentInfo) => void) | undefined;
}

export interface SealedSegmentInfo {
  path: string;
  firstLsn: number;
  lastLsn: number;
  sizeBytes: number;
}

export interface SealedSegment {
  path: string;
  header: SegmentHeader;
  seal: SegmentSeal;
  sizeBytes: number;
}

/** Where the writer continues after open, a rollover or a truncation. */
export interface WriterPosition {
  segment: OpenSegment;
  nextLsn: number;
  endBytes: number;
  lastRecordBytes: number;
}

export interface SegmentSnapshotEntry {
  path: string;
  header: SegmentHeader;
  dataStartBytes: number;
  lastLsn: number;
  endBytes: number;
}

export class SegmentSet {
  readonly dir: string;
  private readonly io: Io;
  private readonly options: SegmentSetOptions;
  private readonly sealedSegments: SealedSegment[];
  private activeSegment: OpenSegment;
  private prepared: Promise<PreparedSegment> | null = null;
  /** Ids of removed segments are never given again: the next id is above this floor. */
  private segmentIdFloor: number;
  private dwb: DoubleWriteBuffer | null = null;

  private constructor(io: Io, options: SegmentSetOptions, sealed: SealedSegment[], active: OpenSegment, segmentIdFloor: number) {
    this.io = io;
    this.options = options;
    this.dir = options.dir;
    this.sealedSegments = sealed;
    this.activeSegment = active;
    this.segmentIdFloor = segmentIdFloor;
  }

  /**
   * Opens the directory: removes temporary files, finishes an interrupted truncateAfter, checks
   * continuity of the sealed segments, and recovers the last one.
   */
  static async open(io: Io, options: SegmentSetOptions): Promise<{ set: SegmentSet; position: WriterPosition; recovery: RecoveryReport }> {
    const dir = options.dir;
    const names = await io.listDir(dir);
    let intent: Intent | undefined;
    const found: Array<{ name: string; firstLsn: number }> = [];
    for (const name of names) {
      if (name.endsWith(SEGMENT_TEMP_SUFFIX)) {
        await io.unlink(join(dir, name));
        continue;
      }
      if (name === TRUNCATE_INTENT_NAME) {
        intent = await readIntent(io, join(dir, name));
        continue;
      }
      const firstLsn = parseSegmentFileName(name);
      if (firstLsn !== undefined) found.push({ name, firstLsn });
    }
    found.sort((a, b) => a.firstLsn - b.firstLsn);
    const intentLsn = intent?.lsn;

    if (intentLsn !== undefined) {
      // Step 2 of truncateAfter again: drop whole segments above the cut, newest first.
      while (found.length > 1 && found[found.length - 1]!.firstLsn > intentLsn + 1) {
        await io.unlink(join(dir, found.pop()!.name));
        await io.fsyncDir(dir);
      }
    }

    if (found.length === 0) {
      const firstLsn = intentLsn === undefined ? 1 : intentLsn + 1;
      const logId = randomBytes(8).readBigUInt64LE(0);
      const prepared = await prepareSegment(io, dir, options.segmentSizeBytes, options.preallocate, options.directIo);
      const segment = await finalizeSegment(io, dir, prepared, { logId, segmentId: 1, firstLsn }, options.directIo);
      if (intentLsn !== undefined) await removeIntent(io, dir);
      const set = new SegmentSet(io, options, [], segment, 1);
      await set.openDoubleWrite(logId, segment, false).catch(async (err: unknown) => {
        await set.close().catch(() => undefined);
        throw err;
      });
      set.prepareNext();
      const recovery: RecoveryReport = { path: segment.path, recordCount: 0, nextLsn: firstLsn, endBytes: segment.dataStartBytes, lastRecordBytes: 0, tornTail: null };
      return { set, position: { segment, nextLsn: firstLsn, endBytes: segment.dataStartBytes, lastRecordBytes: 0 }, recovery };
    }

    const sealed: SealedSegment[] = [];
    let previous: SealedSegment | undefined;
    let segmentIdFloor = intent?.segmentIdFloor ?? 0;
    for (let i = 0; i < found.length - 1; i++) {
      const entry = found[i]!;
      const segment = await openSegment(io, join(dir, entry.name), entry.firstLsn, options.directIo, true);
      try {
        const seal = segment.header.seal;
        if (seal === null) {
          throw new WalCorruptionError(segment.path, 0, `segment is not sealed but ${found[i + 1]!.name} follows it: its tail was torn or it was written after a later segment`);
        }
        if (previous !== undefined) checkContinuity(previous, segment);
        await checkSealedTail(io, segment, seal);
        const sizeBytes = await segment.file.sizeBytes();
        if (sizeBytes < seal.endBytes) throw new WalCorruptionError(segment.path, sizeBytes, `segment was cut short: sealed at ${seal.endBytes} bytes`);
        previous = { path: segment.path, header: segment.header, seal, sizeBytes };
        sealed.push(previous);
        segmentIdFloor = Math.max(segmentIdFloor, segment.header.segmentId, segment.header.segmentIdFloor);
      } finally {
        await segment.file.close();
      }
    }

    const lastEntry = found[found.length - 1]!;
    let last = await openSegment(io, join(dir, lastEntry.name), lastEntry.firstLsn, options.directIo, false, true);
    try {
      if (previous !== undefined) checkContinuity(previous, last);
      if (intentLsn !== undefined && last.header.seal !== null) {
        last = await unseal(io, last, Math.max(segmentIdFloor, last.header.segmentId, last.header.segmentIdFloor));
      }
    } catch (err) {
      await last.file.close().catch(() => undefined);
      throw err;
    }
    segmentIdFloor = Math.max(segmentIdFloor, last.header.segmentId, last.header.segmentIdFloor);
    await io.fsyncDir(dir).catch(async (err: unknown) => {
      await last.file.close().catch(() => undefined);
      throw err;
    });

    const lastSeal = last.header.seal;
    if (lastSeal !== null) {
      // A crash between sealing and naming the next segment: continue in a new one.
      await checkSealedTail(io, last, lastSeal).finally(() => last.file.close());
      const sizeBytes = await fileSize(io, last.path);
      sealed.push({ path: last.path, header: last.header, seal: lastSeal, sizeBytes });
      const prepared = await prepareSegment(io, dir, options.segmentSizeBytes, options.preallocate, options.directIo);
      const segmentId = segmentIdFloor + 1;
      const segment = await finalizeSegment(io, dir, prepared, { logId: last.header.logId, segmentId, firstLsn: lastSeal.lastLsn + 1 }, options.directIo);
      const set = new SegmentSet(io, options, sealed, segment, segmentId);
      await set.openDoubleWrite(last.header.logId, segment, false).catch(async (err: unknown) => {
        await set.close().catch(() => undefined);
        throw err;
      });
      set.prepareNext();
      const recovery: RecoveryReport = { path: segment.path, recordCount: 0, nextLsn: lastSeal.lastLsn + 1, endBytes: segment.dataStartBytes, lastRecordBytes: 0, tornTail: null };
      return { set, position: { segment, nextLsn: recovery.nextLsn, endBytes: recovery.endBytes, lastRecordBytes: 0 }, recovery };
    }

    const set = new SegmentSet(io, options, sealed, last, segmentIdFloor);
    let recovery: RecoveryReport;
    try {
      // A copy must never be applied over a truncation in progress: that would bring back
      // records being cut. The truncation clears the copies as one of its steps.
      const restored = await set.openDoubleWrite(last.header.logId, last, intentLsn !== undefined);
      recovery = await recoverSegment(io, last, intentLsn);
      recovery.restoredFromDoubleWrite = restored;
      if (intentLsn !== undefined) await removeIntent(io, dir);
    } catch (err) {
      await set.close().catch(() => undefined);
      throw err;
    }
    set.prepareNext();
    return { set, position: { segment: last, nextLsn: recovery.nextLsn, endBytes: recovery.endBytes, lastRecordBytes: recovery.lastRecordBytes }, recovery };
  }

  get active(): OpenSegment {
    return this.activeSegment;
  }

  /**
   * Opens the DWB when it is on. With `clear`, both copies are zeroed (a truncation is being
   * finished); otherwise the newest copy for `segment` repairs a torn tail-block rewrite.
   * Returns whether a repair was made.
   */
  private async openDoubleWrite(logId: bigint, segment: OpenSegment, clear: boolean): Promise<boolean> {
    const mode = this.options.doubleWriteBuffer;
    if (mode === 'off') return false;
    const { dwb, copies } = await DoubleWriteBuffer.open(this.io, this.dir, mode, logId, segment.header.blockSizeBytes);
    this.dwb = dwb;
    if (clear) {
      await dwb.clear();
      return false;
    }
    return restoreFromCopy(this.io, segment.file, segment.header.segmentId, copies);
  }

  /** The writer's hook into the DWB, or null when it is off. */
  doubleWriteRecorder(): ((segmentId: number, blockOffsetBytes: number, bytes: Uint8Array) => Promise<void>) | null {
    const dwb = this.dwb;
    return dwb === null ? null : (segmentId, blockOffsetBytes, bytes) => dwb.record(segmentId, blockOffsetBytes, bytes);
  }

  get sealed(): readonly SealedSegment[] {
    return this.sealedSegments;
  }

  /** The first LSN still in the log (records below it were removed by truncateBefore). */
  get firstLsn(): number {
    return this.sealedSegments.length > 0 ? this.sealedSegments[0]!.header.firstLsn : this.activeSegment.header.firstLsn;
  }

  /** Starts zero-filling the next segment in the background, once. */
  private prepareNext(): void {
    if (this.prepared !== null) return;
    const o = this.options;
    const prepared = prepareSegment(this.io, this.dir, o.segmentSizeBytes, o.preallocate, o.directIo);
    // A failure here surfaces when the rollover awaits it; until then nothing is lost.
    prepared.catch(() => undefined);
    this.prepared = prepared;
  }

  /**
   * Steps 2 to 4 of a rollover. The caller has made every record of the active segment durable
   * and tells where they end.
   */
  async roll(seal: SegmentSeal): Promise<WriterPosition> {
    const old = this.activeSegment;
    if (seal.lastLsn < old.header.firstLsn) throw new Error('rollover of a segment without records');
    const o = this.options;
    const again = (): Promise<PreparedSegment> => prepareSegment(this.io, this.dir, o.segmentSizeBytes, o.preallocate, o.directIo);
    // A background preparation that failed (ENOSPC, EIO) is tried once more, now, before the
    // rollover gives up: until this point it had cost nothing.
    const prepared = (this.prepared ?? again()).catch(again);
    this.prepared = null;
    const sealedHeader: SegmentHeader = { ...old.header, flags: old.header.flags | SEGMENT_FLAG_SEALED, seal, segmentIdFloor: Math.max(old.header.segmentIdFloor, this.segmentIdFloor) };
    const segmentId = this.segmentIdFloor + 1;
    const firstLsn = seal.lastLsn + 1;
    // The seal must be durable before the next segment has a name: a named successor of an
    // unsealed segment is what a damaged log looks like.
    const [sealed, named] = await Promise.allSettled([
      writeSegmentHeader(this.io, old.file, sealedHeader),
      prepared.then(async (p) => {
        await writePreparedHeader(this.io, p, { logId: old.header.logId, segmentId, firstLsn });
        return p;
      }),
    ]);
    // Both steps have finished (no file is left open by the one that did not fail).
    if (sealed.status === 'rejected') throw sealed.reason;
    if (named.status === 'rejected') throw named.reason;
    const preparedFile = named.value;
    crashPoint('roll.sealed');
    const next = await namePreparedSegment(this.io, this.dir, preparedFile, firstLsn, this.options.directIo);
    crashPoint('roll.named');
    this.segmentIdFloor = segmentId;
    const sizeBytes = await old.file.sizeBytes();
    await old.file.close();
    this.sealedSegments.push({ path: old.path, header: sealedHeader, seal, sizeBytes });
    this.activeSegment = next;
    this.prepareNext();
    const hook = this.options.onSegmentSealed;
    if (hook !== undefined) {
      const info: SealedSegmentInfo = { path: old.path, firstLsn: old.header.firstLsn, lastLsn: seal.lastLsn, sizeBytes };
      try {
        const returned: unknown = hook(info);
        if (returned instanceof Promise) returned.catch((err: unknown) => process.emitWarning(`ringwal onSegmentSealed hook failed: ${String(err)}`));
      } catch (err) {
        process.emitWarning(`ringwal onSegmentSealed hook failed: ${String(err)}`);
      }
    }
    return { segment: next, nextLsn: seal.lastLsn + 1, endBytes: next.dataStartBytes, lastRecordBytes: 0 };
  }

  /**
   * Removes sealed segments whose records are all below `lsn`, oldest first, fsyncing the
   * directory after each. The active segment is never removed.
   */
  async truncateBefore(lsn: number): Promise<{ segmentsRemoved: number; bytesRemoved: number }> {
    let segmentsRemoved = 0;
    let bytesRemoved = 0;
    while (this.sealedSegments.length > 0 && this.sealedSegments[0]!.seal.lastLsn < lsn) {
      const victim = this.sealedSegments[0]!;
      await this.io.unlink(victim.path);
      crashPoint('truncate-before.unlinked');
      await this.io.fsyncDir(this.dir);
      this.sealedSegments.shift();
      segmentsRemoved += 1;
      bytesRemoved += victim.sizeBytes;
    }
    return { segmentsRemoved, bytesRemoved };
  }

  /**
   * Removes every record above `lsn`. The writer has made everything durable and is paused.
   * Steps, each durable before the next:
   *   1. write the intent file holding `lsn` (tmp, rename, directory fsync);
   *   2. remove the segments that start above `lsn + 1`, newest first, fsyncing the directory
   *      after each, so a crash leaves a prefix of the log;
   *   3. in the segment holding `lsn + 1`: zero everything after record `lsn`, fdatasync, and
   *      rewrite its header unsealed if it was sealed;
   *   4. clear the double-write buffer, whose copies may hold records that were cut;
   *   5. remove the intent file and fsync the directory.
   * A crash after 1 is finished by the next open, which repeats 2 and 3 (they are idempotent),
   * so zeroes that landed out of order can never be mistaken for a hole.
   */
  async truncateAfter(lsn: number): Promise<WriterPosition> {
    await writeIntent(this.io, this.dir, { lsn, segmentIdFloor: this.segmentIdFloor });
    crashPoint('truncate-after.intent');
    if (this.activeSegment.header.firstLsn > lsn + 1) {
      await this.activeSegment.file.close();
      await this.io.unlink(this.activeSegment.path);
      crashPoint('truncate-after.unlinked');
      await this.io.fsyncDir(this.dir);
      while (this.sealedSegments.length > 1 && this.sealedSegments[this.sealedSegments.length - 1]!.header.firstLsn > lsn + 1) {
        await this.io.unlink(this.sealedSegments.pop()!.path);
        crashPoint('truncate-after.unlinked');
        await this.io.fsyncDir(this.dir);
      }
      const keep = this.sealedSegments.pop()!;
      const reopened = await openSegment(this.io, keep.path, keep.header.firstLsn, this.options.directIo, false);
      // From here the reopened file is the active one, so close() releases it whatever fails next.
      this.activeSegment = reopened;
      this.activeSegment = await unseal(this.io, reopened, this.segmentIdFloor);
    }
    const recovery = await recoverSegment(this.io, this.activeSegment, lsn);
    crashPoint('truncate-after.zeroed');
    if (this.dwb !== null) await this.dwb.clear();
    crashPoint('truncate-after.cleared');
    await removeIntent(this.io, this.dir);
    return { segment: this.activeSegment, nextLsn: lsn + 1, endBytes: recovery.endBytes, lastRecordBytes: recovery.lastRecordBytes };
  }

  /** Every segment in LSN order with where its durable records end, for a reader. */
  snapshot(activeLastLsn: number, activeEndBytes: number): SegmentSnapshotEntry[] {
    const entries: SegmentSnapshotEntry[] = this.sealedSegments.map((s) => ({
      path: s.path,
      header: s.header,
      dataStartBytes: s.header.blockSizeBytes,
      lastLsn: s.seal.lastLsn,
      endBytes: s.seal.endBytes,
    }));
    const a = this.activeSegment;
    entries.push({ path: a.path, header: a.header, dataStartBytes: a.dataStartBytes, lastLsn: activeLastLsn, endBytes: activeEndBytes });
    return entries;
  }

  async activeSizeBytes(): Promise<number> {
    return this.activeSegment.file.sizeBytes();
  }

  /** Closes the active file and removes nothing; the prepared file is left for the next open to delete. */
  async close(): Promise<void> {
    await this.activeSegment.file.close();
    if (this.dwb !== null) await this.dwb.close();
    const prepared = this.prepared;
    this.prepared = null;
    if (prepared !== null) {
      const p = await prepared.catch(() => null);
      if (p !== null) await p.file.close();
    }
  }
}

function checkContinuity(previous: SealedSegment, next: OpenSegment): void {
  const expected = previous.seal.lastLsn + 1;
  if (next.header.firstLsn > expected) {
    throw new WalCorruptionError(next.path, 0, `LSNs ${expected}..${next.header.firstLsn - 1} are missing between ${previous.path} and this segment: a segment was removed from the middle`);
  }
  if (next.header.firstLsn < expected) {
    throw new WalCorruptionError(next.path, 0, `first LSN ${next.header.firstLsn} overlaps ${previous.path}, which ends at LSN ${previous.seal.lastLsn}`);
  }
  if (next.header.logId !== previous.header.logId) {
    throw new WalCorruptionError(next.path, 0, `belongs to another log than ${previous.path}`);
  }
  if (next.header.segmentId <= previous.header.segmentId) {
    throw new WalCorruptionError(next.path, 0, `segment id ${next.header.segmentId} is not above ${previous.path}'s ${previous.header.segmentId}`);
  }
}

/** The sealed last record must be where the seal says, whole and with its CRC intact. */
async function checkSealedTail(io: Io, segment: OpenSegment, seal: SegmentSeal): Promise<void> {
  if (seal.lastLsn < segment.header.firstLsn) return;
  const file = segment.file;
  const block = file.alignmentBytes;
  const startBytes = Math.floor(seal.lastRecordBytes / block) * block;
  const lengthBytes = Math.ceil((seal.endBytes - startBytes) / block) * block;
  if (lengthBytes > RECORD_PAYLOAD_LIMIT_BYTES + 2 * block) throw new WalCorruptionError(segment.path, 0, 'sealed last record larger than the format allows');
  const buffer = io.allocAligned(lengthBytes, block);
  const gotBytes = await file.read(buffer, 0, lengthBytes, startBytes);
  const at = seal.lastRecordBytes - startBytes;
  const fail = (why: string): never => {
    throw new WalCorruptionError(segment.path, seal.lastRecordBytes, `sealed segment's last record ${why}: the segment was torn or damaged after it was sealed`, seal.lastLsn);
  };
  if (gotBytes < seal.endBytes - startBytes) fail('is cut off');
  const header = decodeRecordHeader(new DataView(buffer.arrayBuffer), at);
  if (checkRecordHeader(header, segment.header.segmentId, RECORD_PAYLOAD_LIMIT_BYTES) !== null || header.lsn !== seal.lastLsn) fail('is not a valid header');
  if (seal.lastRecordBytes + recordSpanBytes(header.payloadSizeBytes) !== seal.endBytes) fail('does not end where the seal says');
  if (!recordCrcMatches(io, buffer.bytes, at, header, { ranges: new Uint32Array(2), out: new Uint32Array(1) })) fail('fails its CRC');
}

/**
 * Rewrites a sealed segment's header without the seal, recording the highest segment id used so
 * far, so ids of the segments removed after it are never given again.
 */
async function unseal(io: Io, segment: OpenSegment, segmentIdFloor: number): Promise<OpenSegment> {
  if (segmentIdFloor < segment.header.segmentId) throw new Error('segment id floor below the segment');
  const header: SegmentHeader = { ...segment.header, flags: segment.header.flags & ~SEGMENT_FLAG_SEALED, seal: null, segmentIdFloor };
  await writeSegmentHeader(io, segment.file, header);
  return { ...segment, header };
}

async function fileSize(io: Io, path: string): Promise<number> {
  const file = await io.openFile(path, { create: false, direct: 'off', readOnly: true });
  try {
    return await file.sizeBytes();
  } finally {
    await file.close();
  }
}

async function writeIntent(io: Io, dir: string, intent: Intent): Promise<void> {
  const lsn = intent.lsn;
  const path = join(dir, TRUNCATE_INTENT_NAME);
  const tempPath = path + SEGMENT_TEMP_SUFFIX;
  const file = await io.openFile(tempPath, { create: true, direct: 'off', readOnly: false });
  try {
    const block = io.allocAligned(file.alignmentBytes, file.alignmentBytes);
    const view = new DataView(block.arrayBuffer);
    view.setUint32(0, INTENT_MAGIC, true);
    view.setUint32(8, lsn % 0x1_0000_0000, true);
    view.setUint32(12, Math.floor(lsn / 0x1_0000_0000), true);
    view.setUint32(16, intent.segmentIdFloor, true);
    view.setUint32(INTENT_SIZE_BYTES - 4, crc32c(block.bytes.subarray(0, INTENT_SIZE_BYTES - 4)), true);
    await file.truncate(0);
    await file.write(block, 0, file.alignmentBytes, 0, true);
  } finally {
    await file.close();
  }
  await io.rename(tempPath, path);
  await io.fsyncDir(dir);
}

async function readIntent(io: Io, path: string): Promise<Intent> {
  const file = await io.openFile(path, { create: false, direct: 'off', readOnly: true });
  try {
    const block = io.allocAligned(file.alignmentBytes, file.alignmentBytes);
    const gotBytes = await file.read(block, 0, file.alignmentBytes, 0);
    const view = new DataView(block.arrayBuffer);
    const lsn = view.getUint32(8, true) + view.getUint32(12, true) * 0x1_0000_0000;
    const valid = gotBytes >= INTENT_SIZE_BYTES
      && view.getUint32(0, true) === INTENT_MAGIC
      && view.getUint32(INTENT_SIZE_BYTES - 4, true) === crc32c(block.bytes.subarray(0, INTENT_SIZE_BYTES - 4))
      && lsn <= LSN_MAX;
    // The intent is renamed into place only once durable, so a damaged one is damage, not a crash.
    if (!valid) throw new WalCorruptionError(path, 0, 'truncation intent file is damaged');
    return { lsn, segmentIdFloor: view.getUint32(16, true) };
  } finally {
    await file.close();
  }
}

async function removeIntent(io: Io, dir: string): Promise<void> {
  await io.unlink(join(dir, TRUNCATE_INTENT_NAME));
  await io.fsyncDir(dir);
}

export function checkTruncateLsn(argument: string, lsn: unknown, min: number, max: number): number {
  if (typeof lsn !== 'number' || !Number.isSafeInteger(lsn)) throw new WalInvalidArgumentError(argument, `must be a safe integer LSN, got ${String(lsn)}`);
  if (lsn < min || lsn > max) throw new WalInvalidArgumentError(argument, `LSN ${lsn} is outside [${min}, ${max}] for this log`);
  return lsn;
}
