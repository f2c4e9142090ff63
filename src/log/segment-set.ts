/**
 * The log directory as a whole: sealed segments, the active one, the next one prepared ahead,
 * continuity checks on open, rollover, and truncation at both ends.
 *
 * Rollover, in order (docs/design.md, "Rolling over", R1–R5):
 *   R1. the last batch of the active segment is durable (the writer waits for it), and the next
 *       segment is prepared (S1): without it nothing changes, and the appends that need it fail
 *       with WalNoSpaceError when the disk is full;
 *   R2. the active segment's header is rewritten sealed (last LSN, end, last record offset) and
 *       the prepared file's header is written (first LSN, new segment id), both durable;
 *   R3. the prepared file is renamed to its segment name and the directory fsynced;
 *   R4. the new segment takes appends; the sealed one is never written again; the next segment
 *       starts preparing in the background;
 *   R5. onSegmentSealed runs.
 * A crash between R2 and R3 leaves the sealed segment last; open then keeps it as the active
 * segment, sealed, and the first append rolls over to a new one.
 *
 * truncateBefore removes whole sealed segments oldest first, fsyncing the directory after each,
 * so a crash leaves a suffix of the log and a gap can only mean damage. truncateAfter writes an
 * intent file first, so a crash in the middle is finished by the next open (cut.ts).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { WalCorruptionError, WalInvalidArgumentError, WalIoError, WalNoSpaceError, isNoSpaceErrno } from '../errors.js';
import { RECORD_PAYLOAD_BYTES_LIMIT, SEGMENT_FLAG_ENCRYPTED, SEGMENT_FLAG_SEALED, SEGMENT_TEMP_SUFFIX } from '../format/constants.js';
import { checkRecordHeader, decodeRecordHeader, recordSpanBytes, type RecordCipher } from '../format/record.js';
import type { SegmentHeader, SegmentSeal } from '../format/segment-header.js';
import type { TruncateIntent } from '../format/truncate-intent.js';
import { readFull, type DirectIoMode, type Io } from '../io/io.js';
import { noCheckpointsSeen, recoverSegment, type CheckpointsSeen, type RecoveryReport } from '../recovery/recover.js';
import type { SegmentToRead } from '../read/log-reader.js';
import { recordCrcMatches } from '../read/segment-scanner.js';
import { crashPoint } from '../io/crash-point.js';
import { finishCut, readIntent, segmentEntries, TRUNCATE_INTENT_NAME, writeIntent, type SegmentEntry } from './cut.js';
import { DoubleWriteBuffer, removeDoubleWriteFile, restoreFromCopy, type DoubleWriteMode } from '../segment/double-write-buffer.js';
import {
  finalizeSegment,
  namePreparedSegment,
  openSegment,
  prepareSegment,
  inFlightBytesFor,
  PREPARED_SEGMENT_NAME,
  writePreparedHeader,
  writeSegmentHeader,
  type OpenSegment,
  type PreparedSegment,
  type WriteShape,
} from '../segment/segment-file.js';
import { ZeroFillPacer } from '../segment/zero-fill-pacer.js';
import type { SegmentKeys } from '../crypto/segment-keys.js';

export { TRUNCATE_INTENT_NAME } from './cut.js';

export interface SegmentSetOptions {
  dir: string;
  directIo: DirectIoMode;
  segmentSizeBytes: number;
  preallocate: boolean;
  doubleWriteBuffer: DoubleWriteMode;
  onSegmentSealed: ((info: SealedSegmentInfo) => void | Promise<void>) | undefined;
  /** How the writer writes: every segment it writes says in its header how many bytes can be in flight. */
  writeShape: WriteShape;
  /**
   * The log's keys, or null for a log opened without encryption. With keys, every segment this
   * process begins is encrypted, and it writes to no other (docs/encryption.md, rule 1).
   */
  keys: SegmentKeys | null;
}

export interface SealedSegmentInfo {
  path: string;
  /** Unique for the life of the log: a file that replaces a cut segment has a new id and name. */
  segmentId: number;
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
  /** The segment is sealed: it takes no record, and the next append rolls over. */
  sealed: boolean;
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
  /** A segment was unlinked (B1) and the directory sync after it (B2) failed: it may reappear. */
  private removalUnsynced = false;
  /** Paces the zero-fill of the next segment by the writer's activity (wired by the Wal). */
  readonly zeroFill = new ZeroFillPacer();
  /** The closes of sealed segments' descriptors still running; close() waits for them. */
  private closingSealed: Promise<unknown> = Promise.resolve();

  private constructor(io: Io, options: SegmentSetOptions, sealed: SealedSegment[], active: OpenSegment, segmentIdFloor: number) {
    this.io = io;
    this.options = options;
    this.dir = options.dir;
    this.sealedSegments = sealed;
    this.activeSegment = active;
    this.segmentIdFloor = segmentIdFloor;
  }

  /**
   * Opens the directory (docs/design.md, "Opening a log", O2–O8): removes temporary files,
   * finishes an interrupted truncateAfter, removes a double-write buffer nobody maintains, checks
   * continuity of the sealed segments, and recovers the last one.
   */
  static async open(
    io: Io,
    options: SegmentSetOptions,
  ): Promise<{ set: SegmentSet; position: WriterPosition; recovery: RecoveryReport; checkpoints: CheckpointsSeen }> {
    const dir = options.dir;
    let names = await io.listDir(dir);
    for (const name of names) if (name.endsWith(SEGMENT_TEMP_SUFFIX)) await io.unlink(join(dir, name));
    if (names.includes(TRUNCATE_INTENT_NAME)) {
      // O3: the intent's name must be durable before the cut acts on it. A cut whose directory
      // sync failed left it visible but not durable; finished now and then lost in a crash, it
      // would leave a half-done cut with nothing to finish it (found by the simulator).
      await io.fsyncDir(dir);
      const intent = await readIntent(io, join(dir, TRUNCATE_INTENT_NAME));
      await finishCut(io, dir, intent, { direct: options.directIo, writeShape: options.writeShape, keys: options.keys });
      names = await io.listDir(dir);
    }
    // Copies that no running log maintained while it was off could describe bytes rewritten since.
    if (options.doubleWriteBuffer === 'off') await removeDoubleWriteFile(io, dir, names);
    const found = segmentEntries(dir, names);
    // A new log has no checkpoint, and nothing to scan for one.
    if (found.length === 0) return { ...(await SegmentSet.create(io, options)), checkpoints: { ...noCheckpointsSeen(), scanned: true } };

    const chain = await checkSealedChain(io, found, options.directIo, options.keys);
    const sealed = chain.sealed;
    const previous = sealed.at(-1);
    let segmentIdFloor = chain.segmentIdFloor;

    const lastEntry = found[found.length - 1]!;
    // O4: the last segment is fdatasynced before its header is trusted.
    let last = await openSegment(io, lastEntry.path, lastEntry, options.directIo, false, true, options.keys);
    let set: SegmentSet;
    let position: WriterPosition;
    let recovery: RecoveryReport;
    // What recovery's scan of the last segment saw of checkpoints (open needs no second scan).
    const checkpoints = noCheckpointsSeen();
    try {
      if (previous !== undefined) checkContinuity(previous, last);
      segmentIdFloor = Math.max(segmentIdFloor, last.header.segmentId, last.header.segmentIdFloor);
      await io.fsyncDir(dir);
      set = new SegmentSet(io, options, sealed, last, segmentIdFloor);
    } catch (err) {
      await last.file.close().catch(() => undefined);
      throw err;
    }
    try {
      const lastSeal = last.header.seal;
      if (lastSeal !== null) {
        // O6: a crash between sealing and naming the next segment. The sealed segment stays the
        // active one, read-only; the first append rolls over (and runs the hook for it).
        await checkSealedTail(io, last, lastSeal);
        await set.openDoubleWrite(last.header.logId, last, false);
        const recordCount = lastSeal.lastLsn - last.header.firstLsn + 1;
        recovery = {
          path: last.path,
          recordCount,
          nextLsn: lastSeal.lastLsn + 1,
          endBytes: lastSeal.endBytes,
          lastRecordBytes: lastSeal.lastRecordBytes,
          tornTail: null,
        };
        position = { segment: last, nextLsn: recovery.nextLsn, endBytes: lastSeal.endBytes, lastRecordBytes: lastSeal.lastRecordBytes, sealed: true };
      } else {
        // O7: a copy repairs a torn rewrite of the tail block; O8: recovery (V1–V6).
        const restored = await set.openDoubleWrite(last.header.logId, last, true);
        recovery = await recoverSegment(io, last, checkpoints);
        recovery.restoredFromDoubleWrite = restored;
        if (options.keys !== null) {
          // O8, encrypted: a writer encrypts only into a segment it begins (docs/design.md,
          // "Nonces never repeat under one key").
          position = await set.beginForEncryption(last, recovery);
        } else {
          last = await set.allowWrites(last);
          position = { segment: last, nextLsn: recovery.nextLsn, endBytes: recovery.endBytes, lastRecordBytes: recovery.lastRecordBytes, sealed: false };
        }
      }
    } catch (err) {
      await set.close().catch(() => undefined);
      throw err;
    }
    set.prepareNext(position.sealed ? 0 : options.segmentSizeBytes - position.endBytes);
    return { set, position, recovery, checkpoints };
  }

  /** O5: a new log: its first segment, with a random log id, segment id 1 and first LSN 1. */
  private static async create(io: Io, options: SegmentSetOptions): Promise<{ set: SegmentSet; position: WriterPosition; recovery: RecoveryReport }> {
    const dir = options.dir;
    const logId = randomBytes(8).readBigUInt64LE(0);
    const prepared = await prepareSegment(io, dir, options.segmentSizeBytes, options.preallocate, options.directIo);
    const inFlightBytesMax = inFlightBytesFor(options.writeShape, prepared.file.alignmentBytes);
    const sealer = options.keys?.begin(io, logId, 1) ?? null;
    const segment = await finalizeSegment(
      io,
      dir,
      prepared,
      { logId, segmentId: 1, firstLsn: 1, inFlightBytesMax, crypto: sealer?.crypto ?? null },
      options.directIo,
      sealer?.cipher ?? null,
    );
    const set = new SegmentSet(io, options, [], segment, 1);
    await set.openDoubleWrite(logId, segment, false).catch(async (err: unknown) => {
      await set.close().catch(() => undefined);
      throw err;
    });
    set.prepareNext(options.segmentSizeBytes - segment.dataStartBytes);
    const recovery: RecoveryReport = { path: segment.path, recordCount: 0, nextLsn: 1, endBytes: segment.dataStartBytes, lastRecordBytes: 0, tornTail: null };
    return { set, position: { segment, nextLsn: 1, endBytes: segment.dataStartBytes, lastRecordBytes: 0, sealed: false }, recovery };
  }

  get active(): OpenSegment {
    return this.activeSegment;
  }

  /**
   * Makes `segment`, which this process did not begin (recovered at open, or cut in place by
   * truncateAfter, whose cut LSNs will be given again), one an encrypting writer may write to,
   * durably: a segment with records is sealed where they end (the first append rolls over); one
   * with none is given a fresh salt and incarnation in place (nothing in it was encrypted under
   * the new key, and no double-write copy of the old incarnation applies to it).
   */
  private async beginForEncryption(
    segment: OpenSegment,
    end: { recordCount: number; nextLsn: number; endBytes: number; lastRecordBytes: number },
  ): Promise<WriterPosition> {
    const h = segment.header;
    let header: SegmentHeader;
    let cipher: RecordCipher | null = null;
    if (end.recordCount > 0) {
      const seal: SegmentSeal = { lastLsn: end.nextLsn - 1, endBytes: end.endBytes, lastRecordBytes: end.lastRecordBytes };
      header = this.sealedHeader(h, seal);
    } else {
      const sealer = this.options.keys!.begin(this.io, h.logId, h.segmentId)!;
      cipher = sealer.cipher;
      header = {
        ...h,
        flags: h.flags | SEGMENT_FLAG_ENCRYPTED,
        crypto: sealer.crypto,
        incarnation: (h.incarnation + 1) >>> 0,
        inFlightBytesMax: Math.max(h.inFlightBytesMax, inFlightBytesFor(this.options.writeShape, h.blockSizeBytes)),
      };
    }
    await writeSegmentHeader(this.io, segment.file, header);
    crashPoint(end.recordCount > 0 ? 'encrypt.sealed' : 'encrypt.resalted');
    const updated: OpenSegment = { ...segment, header, cipher };
    this.activeSegment = updated;
    return { segment: updated, nextLsn: end.nextLsn, endBytes: end.endBytes, lastRecordBytes: end.lastRecordBytes, sealed: end.recordCount > 0 };
  }

  /** `header` sealed at `seal`, naming every segment id given out so far (R2, O8). */
  private sealedHeader(header: SegmentHeader, seal: SegmentSeal): SegmentHeader {
    return { ...header, flags: header.flags | SEGMENT_FLAG_SEALED, seal, segmentIdFloor: Math.max(header.segmentIdFloor, this.segmentIdFloor) };
  }

  /**
   * Raises the segment's recorded bytes in flight to this writer's, durably, before the writer
   * writes to it, so a later recovery looks far enough for the torn writes of this writer.
   */
  private async allowWrites(segment: OpenSegment): Promise<OpenSegment> {
    const inFlightBytesMax = inFlightBytesFor(this.options.writeShape, segment.header.blockSizeBytes);
    if (segment.header.inFlightBytesMax >= inFlightBytesMax) return segment;
    const header: SegmentHeader = { ...segment.header, inFlightBytesMax };
    await writeSegmentHeader(this.io, segment.file, header);
    crashPoint('open.write-max-raised');
    const updated = { ...segment, header };
    this.activeSegment = updated;
    return updated;
  }

  /**
   * Opens the DWB when it is on. With `restore`, the newest copy for this incarnation of
   * `segment` repairs a torn tail-block rewrite. Returns whether a repair was made.
   */
  private async openDoubleWrite(logId: bigint, segment: OpenSegment, restore: boolean): Promise<boolean> {
    const mode = this.options.doubleWriteBuffer;
    if (mode === 'off') return false;
    // Copies are of the blocks the writer rewrites: the segment file's block.
    const { dwb, copies } = await DoubleWriteBuffer.open(this.io, this.dir, mode, logId, segment.file.alignmentBytes);
    this.dwb = dwb;
    if (!restore) return false;
    return restoreFromCopy(this.io, segment.file, segment.header.segmentId, segment.header.incarnation, copies);
  }

  /** The writer's hook into the DWB, or null when it is off. */
  doubleWriteRecorder(): ((segmentId: number, incarnation: number, blockOffsetBytes: number, bytes: Uint8Array) => Promise<void>) | null {
    if (this.options.doubleWriteBuffer === 'off') return null;
    return (segmentId, incarnation, blockOffsetBytes, bytes) => {
      // A truncation replaces the DWB file while the writer is fenced, so look it up each time.
      if (this.dwb === null) return Promise.reject(new Error('double-write before the DWB is open'));
      return this.dwb.record(segmentId, incarnation, blockOffsetBytes, bytes);
    };
  }

  get sealed(): readonly SealedSegment[] {
    return this.sealedSegments;
  }

  /** The first LSN still in the log (records below it were removed by truncateBefore). */
  get firstLsn(): number {
    return this.sealedSegments.length > 0 ? this.sealedSegments[0]!.header.firstLsn : this.activeSegment.header.firstLsn;
  }

  /**
   * Starts zero-filling the next segment in the background, once, paced so that it is done
   * before the writer has used half of the `roomBytes` left in the active segment.
   */
  private prepareNext(roomBytes: number): void {
    if (this.prepared !== null) return;
    const o = this.options;
    const pace = this.zeroFill.begin(o.segmentSizeBytes, roomBytes);
    const prepared = prepareSegment(this.io, this.dir, o.segmentSizeBytes, o.preallocate, o.directIo, PREPARED_SEGMENT_NAME, pace).finally(() => pace.end());
    // A failure here surfaces when the rollover awaits it; until then nothing is lost.
    prepared.catch(() => undefined);
    this.prepared = prepared;
  }

  /** A preparation that nothing runs beside: the rollover waits for it. */
  private prepareNow(): Promise<PreparedSegment> {
    const o = this.options;
    return prepareSegment(this.io, this.dir, o.segmentSizeBytes, o.preallocate, o.directIo);
  }

  /**
   * R1 to R5. The caller has made every record of the active segment durable and tells where
   * they end, and the LSN of the last checkpoint (0: none), which the next header names. Rejects with WalNoSpaceError, having changed nothing, when the next segment cannot
   * be prepared for lack of space.
   */
  async roll(seal: SegmentSeal, checkpointLsn: number): Promise<WriterPosition> {
    const old = this.activeSegment;
    // An unsealed segment rolls over only once a record did not fit it, or for a key rotation
    // (rotate): it holds records.
    if (old.header.seal === null) assert(seal.lastLsn >= old.header.firstLsn, 'rollover of a segment without records');
    // The next segment's salt and key first: a failure (of the random generator) changes nothing.
    const sealer = this.options.keys?.begin(this.io, old.header.logId, this.segmentIdFloor + 1) ?? null;
    // R1. A background preparation that failed (ENOSPC, EIO) is tried once more, now: until
    // this point it had cost nothing. One still running is needed now: it goes unpaced.
    this.zeroFill.hurry();
    const pending = this.prepared ?? this.prepareNow();
    this.prepared = null;
    let preparedFile: PreparedSegment;
    try {
      preparedFile = await pending.catch(() => this.prepareNow());
    } catch (err) {
      throw asNoSpace(err);
    }
    const alreadySealed = old.header.seal !== null;
    const sealedHeader: SegmentHeader = alreadySealed ? old.header : this.sealedHeader(old.header, seal);
    const finalSeal = sealedHeader.seal!;
    const segmentId = this.segmentIdFloor + 1;
    const firstLsn = finalSeal.lastLsn + 1;
    const inFlightBytesMax = inFlightBytesFor(this.options.writeShape, preparedFile.file.alignmentBytes);
    // R2. The seal must be durable before the next segment has a name: a named successor of an
    // unsealed segment is what a damaged log looks like. The sealed file's size is read meanwhile.
    const [sealed, named, sized] = await Promise.allSettled([
      alreadySealed ? Promise.resolve() : writeSegmentHeader(this.io, old.file, sealedHeader),
      writePreparedHeader(this.io, preparedFile, {
        logId: old.header.logId,
        segmentId,
        firstLsn,
        inFlightBytesMax,
        checkpointLsn,
        crypto: sealer?.crypto ?? null,
      }),
      old.file.sizeBytes(),
    ]);
    // Every step has finished; the prepared file is open only if its header was written.
    const failed = [sealed, named, sized].find((outcome) => outcome.status === 'rejected');
    if (failed !== undefined) {
      if (named.status === 'fulfilled') await preparedFile.file.close().catch(() => undefined);
      throw failed.reason;
    }
    assert(named.status === 'fulfilled' && sized.status === 'fulfilled');
    crashPoint('roll.sealed');
    const next = await namePreparedSegment(this.io, this.dir, preparedFile, named.value, this.options.directIo, sealer?.cipher ?? null);
    crashPoint('roll.named');
    this.segmentIdFloor = segmentId;
    const sizeBytes = sized.value;
    // R4: the sealed file is never written again; closing it need not hold up the writer.
    this.closingSealed = Promise.all([this.closingSealed, old.file.close().catch(() => undefined)]);
    this.sealedSegments.push({ path: old.path, header: sealedHeader, seal: finalSeal, sizeBytes });
    this.activeSegment = next;
    this.prepareNext(this.options.segmentSizeBytes - next.dataStartBytes);
    this.runHook({ path: old.path, segmentId: old.header.segmentId, firstLsn: old.header.firstLsn, lastLsn: finalSeal.lastLsn, sizeBytes });
    return { segment: next, nextLsn: firstLsn, endBytes: next.dataStartBytes, lastRecordBytes: 0, sealed: false };
  }

  /**
   * rotateKey, once the writer is fenced with everything durable (ending at `seal`): the next
   * segment is begun under the ring's current key (just made the new one). An active segment
   * that holds no record takes the new key in place instead (a new salt and incarnation), so a
   * rotation never leaves an empty segment behind.
   */
  async rotate(seal: SegmentSeal, checkpointLsn: number): Promise<WriterPosition> {
    const active = this.activeSegment;
    if (active.header.seal === null && seal.lastLsn < active.header.firstLsn) {
      return this.beginForEncryption(active, { recordCount: 0, nextLsn: active.header.firstLsn, endBytes: seal.endBytes, lastRecordBytes: 0 });
    }
    return this.roll(seal, checkpointLsn);
  }

  /** R5: the hook's errors become warnings; a returned promise is not awaited. */
  private runHook(info: SealedSegmentInfo): void {
    const hook = this.options.onSegmentSealed;
    if (hook === undefined) return;
    try {
      const returned: unknown = hook(info);
      if (returned instanceof Promise) returned.catch((err: unknown) => process.emitWarning(`ringwal onSegmentSealed hook failed: ${String(err)}`));
    } catch (err) {
      process.emitWarning(`ringwal onSegmentSealed hook failed: ${String(err)}`);
    }
  }

  /**
   * Removes sealed segments whose records are all below `lsn`, oldest first, fsyncing the
   * directory after each (B1–B2). The active segment is never removed. A segment leaves the
   * list as soon as its file is unlinked, so a failed directory fsync cannot leave a removed
   * file in the log.
   */
  async truncateBefore(lsn: number): Promise<{ segmentsRemoved: number; bytesRemoved: number }> {
    let segmentsRemoved = 0;
    let bytesRemoved = 0;
    // B2 of an earlier call that failed: its unlink is not durable until the directory is synced.
    if (this.removalUnsynced) {
      await this.io.fsyncDir(this.dir);
      this.removalUnsynced = false;
    }
    while (this.sealedSegments.length > 0 && this.sealedSegments[0]!.seal.lastLsn < lsn) {
      const victim = this.sealedSegments[0]!;
      await this.io.unlink(victim.path);
      this.sealedSegments.shift();
      this.removalUnsynced = true;
      segmentsRemoved += 1;
      bytesRemoved += victim.sizeBytes;
      crashPoint('truncate-before.unlinked');
      await this.io.fsyncDir(this.dir);
      this.removalUnsynced = false;
    }
    return { segmentsRemoved, bytesRemoved };
  }

  /**
   * Removes every record above `lsn`. The writer is fenced with everything before the call
   * durable, up to `activeEndBytes` in the active segment. Writes the intent (T2) and runs the
   * cut from it (cut.ts, T3–T7); then the kept segment is the active one.
   */
  async truncateAfter(lsn: number, activeEndBytes: number): Promise<WriterPosition> {
    const active = this.activeSegment;
    const chain: Array<{ path: string; header: SegmentHeader }> = [...this.sealedSegments, active];
    let keptIndex = chain.length - 1;
    while (keptIndex > 0 && chain[keptIndex]!.header.firstLsn > lsn + 1) keptIndex -= 1;
    const kept = chain[keptIndex]!;
    const intent = this.planCut(lsn, kept.header, kept === active ? activeEndBytes : 0);
    // The cut reopens what it keeps: no descriptor of this process may still write those files.
    await active.file.close();
    await this.dwb?.close();
    this.dwb = null;
    await writeIntent(this.io, this.dir, intent);
    crashPoint('truncate-after.intent');
    const outcome = await finishCut(this.io, this.dir, intent, { direct: this.options.directIo, writeShape: this.options.writeShape, keys: this.options.keys });
    this.segmentIdFloor = intent.segmentIdFloor;
    this.sealedSegments.splice(Math.min(keptIndex, this.sealedSegments.length));
    this.activeSegment = await openSegment(this.io, outcome.path, outcome.name, this.options.directIo, outcome.sealed, false, this.options.keys);
    let position: WriterPosition = {
      segment: this.activeSegment,
      nextLsn: lsn + 1,
      endBytes: outcome.endBytes,
      lastRecordBytes: outcome.lastRecordBytes,
      sealed: outcome.sealed,
    };
    // An encrypted log's writer continues only a segment whose key it drew for LSNs above the
    // cut: a replacement built now under a new salt (it holds LSNs up to the cut only). A
    // segment cut in place held the cut LSNs under its key, and a plaintext one has no key.
    const fresh = intent.mode === 'replace' && this.activeSegment.cipher !== null;
    if (this.options.keys !== null && !outcome.sealed && !fresh) position = await this.beginForEncryption(this.activeSegment, outcome);
    await this.openDoubleWrite(this.activeSegment.header.logId, this.activeSegment, false);
    return position;
  }

  /** T2's content: how the segment holding `lsn + 1` is cut. */
  private planCut(lsn: number, kept: SegmentHeader, activeEndBytes: number): TruncateIntent {
    const base = {
      lsn,
      segmentFirstLsn: kept.firstLsn,
      segmentId: kept.segmentId,
      segmentIdFloor: this.segmentIdFloor,
      newSegmentId: 0,
      incarnation: 0,
      zeroEndBytes: 0,
    };
    if (kept.seal === null) {
      const block = kept.blockSizeBytes;
      // Incarnations wrap after 2^32 cuts of one segment; the DWB file is removed by every cut as well.
      return { ...base, mode: 'in-place', incarnation: (kept.incarnation + 1) >>> 0, zeroEndBytes: Math.ceil(activeEndBytes / block) * block };
    }
    if (kept.seal.lastLsn === lsn) return { ...base, mode: 'keep-sealed' };
    const newSegmentId = this.segmentIdFloor + 1;
    return { ...base, mode: 'replace', newSegmentId, segmentIdFloor: newSegmentId };
  }

  /** Every segment in LSN order with where its durable records end, for a reader. */
  snapshot(activeLastLsn: number, activeEndBytes: number): SegmentToRead[] {
    const entries: SegmentToRead[] = this.sealedSegments.map((s) => ({
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
    await this.closingSealed;
    // A fill waiting for its turn would wait for batches that no longer come.
    this.zeroFill.close();
    const prepared = this.prepared;
    this.prepared = null;
    if (prepared !== null) {
      const p = await prepared.catch(() => null);
      if (p !== null) await p.file.close();
    }
  }
}

/**
 * Checks every segment of `entries` but the last (each must be sealed, continue the
 * one before it, and end in its sealed last record, whole) and reads each one's seal. Reads
 * only: a read-only open runs the same checks as a writer's.
 */
export async function checkSealedChain(
  io: Io,
  entries: readonly SegmentEntry[],
  direct: DirectIoMode,
  keys: SegmentKeys | null,
): Promise<{ sealed: SealedSegment[]; segmentIdFloor: number }> {
  const sealed: SealedSegment[] = [];
  let previous: SealedSegment | undefined;
  let segmentIdFloor = 0;
  for (let i = 0; i < entries.length - 1; i++) {
    const entry = entries[i]!;
    // With its key: a key id the ring lacks, or a wrong key, is found now, before anything changes.
    const segment = await openSegment(io, entry.path, entry, direct, true, false, keys);
    try {
      const seal = segment.header.seal;
      if (seal === null) {
        throw new WalCorruptionError(
          segment.path,
          0,
          `segment is not sealed but ${entries[i + 1]!.name} follows it: its tail was torn or it was written after a later segment`,
        );
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
  return { sealed, segmentIdFloor };
}

/** A failed preparation for lack of space is WalNoSpaceError; anything else stays as it is. */
function asNoSpace(err: unknown): unknown {
  if (err instanceof WalIoError && isNoSpaceErrno(err)) return new WalNoSpaceError(err, null, { cause: err });
  return err;
}

export function checkContinuity(previous: SealedSegment, next: OpenSegment): void {
  const expected = previous.seal.lastLsn + 1;
  if (next.header.firstLsn > expected) {
    throw new WalCorruptionError(
      next.path,
      0,
      `LSNs ${expected}..${next.header.firstLsn - 1} are missing between ${previous.path} and this segment: a segment was removed from the middle`,
    );
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
export async function checkSealedTail(io: Io, segment: OpenSegment, seal: SegmentSeal): Promise<void> {
  if (seal.lastLsn < segment.header.firstLsn) return;
  const file = segment.file;
  const block = file.alignmentBytes;
  const startBytes = Math.floor(seal.lastRecordBytes / block) * block;
  const lengthBytes = Math.ceil((seal.endBytes - startBytes) / block) * block;
  if (lengthBytes > RECORD_PAYLOAD_BYTES_LIMIT + 2 * block) throw new WalCorruptionError(segment.path, 0, 'sealed last record larger than the format allows');
  const buffer = io.allocAligned(lengthBytes, block);
  const gotBytes = await readFull(file, buffer, 0, lengthBytes, startBytes);
  const at = seal.lastRecordBytes - startBytes;
  const fail = (why: string): never => {
    throw new WalCorruptionError(
      segment.path,
      seal.lastRecordBytes,
      `sealed segment's last record ${why}: the segment was torn or damaged after it was sealed`,
      seal.lastLsn,
    );
  };
  if (gotBytes < seal.endBytes - startBytes) fail('is cut off');
  const header = decodeRecordHeader(new DataView(buffer.arrayBuffer), at);
  if (checkRecordHeader(header, segment.header.segmentId, RECORD_PAYLOAD_BYTES_LIMIT, segment.header.crypto !== null) !== null || header.lsn !== seal.lastLsn)
    fail('is not a valid header');
  if (seal.lastRecordBytes + recordSpanBytes(header.payloadSizeBytes) !== seal.endBytes) fail('does not end where the seal says');
  if (!recordCrcMatches(io, buffer.bytes, at, header, { ranges: new Uint32Array(2), out: new Uint32Array(1) })) fail('fails its CRC');
}

export function checkTruncateLsn(argument: string, lsn: unknown, min: number, max: number): number {
  if (typeof lsn !== 'number' || !Number.isSafeInteger(lsn)) throw new WalInvalidArgumentError(argument, `must be a safe integer LSN, got ${String(lsn)}`);
  if (lsn < min || lsn > max) throw new WalInvalidArgumentError(argument, `LSN ${lsn} is outside [${min}, ${max}] for this log`);
  return lsn;
}
