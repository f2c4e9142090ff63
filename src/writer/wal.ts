/**
 * The public log: open (lock, recover), append with group commit, read, truncate, close.
 *
 * Open, in order (docs/design.md, "Opening a log", O1–O9):
 *   O1. create the directory and every missing parent, fsync every ancestor of it,
 *       and take an exclusive flock on `ringwal.lock` (a second open fails);
 *   O2–O8. open the segment set (segment-set.ts): remove `.tmp` files, finish an interrupted
 *       truncateAfter, check sealed segments' continuity, create the first segment of a new log,
 *       recover the last segment (recover.ts);
 *   O9. continue LSNs one above the last valid record.
 */
import { dirname, join, resolve } from 'node:path';
import { inspect, type InspectOptions } from 'node:util';
import {
  WalAbortError,
  WalClosedError,
  WalCorruptionError,
  WalDurabilityLostError,
  WalInvalidArgumentError,
  WalNoSpaceError,
  WalPayloadTooLargeError,
  WalReadInvalidatedError,
  isNoSpaceErrno,
} from '../errors.js';
import {
  LOCK_FILE_NAME,
  LSN_MAX,
  RECORD_TAG_BYTES,
  RECORD_TYPE_DEFAULT,
  RECORD_TYPE_CHECKPOINT,
  RECORD_TYPE_TEMPORAL_PURGE,
  RECORD_TYPE_TIME_ANCHOR,
  RECORD_TYPE_TOMBSTONE,
  U32_MAX,
} from '../format/constants.js';
import { TombstoneSet, checkTenant, collectionBytes, encodeTemporalPurge, encodeTombstone } from './tombstones.js';
import { recordSpanBytes, type RecordMeta } from '../format/record.js';
import type { Io, IoLock, SyncMethod } from '../io/io.js';
import { NativeIo } from '../io/native-io.js';
import { warnAboutPlacement } from './process-warnings.js';
import { KeyRing } from '../crypto/key-ring.js';
import { parseKeySpec } from '../crypto/key-spec.js';
import type { MasterKey } from '../crypto/master-key.js';
import { SegmentKeys } from '../crypto/segment-keys.js';
import { findLastCheckpoint } from './checkpoint-search.js';
import { ReadOnlyWal } from './read-only-wal.js';
import { followPlanOf, lsnOption, readPlanOf, splitSignal, userTypeError, type CollectionOf, type FollowOptions, type ReadOptions } from './read-options.js';
import { describe, resolveOptions, type KeySpec, type ReadOnlyOpenOptions, type ResolvedOptions, type WalOptions } from './options.js';
import { CUTS_REMEMBERED_MAX, DurableSignal, TailCache, follow, type CutRecord, type FollowedLog } from './follow.js';
import {
  ReaderFiles,
  readSegments,
  whereText,
  yieldEveryRecord,
  type ReadPlan,
  type RecordFilter,
  type TransactionSpan,
  type WalRecord,
  type WalRecordHeader,
} from '../read/log-reader.js';
import type { CheckpointsSeen, RecoveryReport } from '../recovery/recover.js';
import { checkTruncateLsn, SegmentSet, type WriterPosition } from '../log/segment-set.js';
import { GroupCommit, transactionSpanBytes, type BatchResult, type GroupCommitStats, type WriterTarget } from './group-commit.js';
import { LogEvents } from './channels.js';
import { SlowSyncWarning } from './slow-sync-warning.js';

export interface AppendOptions {
  /** Record type, u32; bit 15 marks it required. Bit 14 is reserved for encryption. Default 0x8001. */
  type?: number;
  tenant?: number;
  vshard?: number;
  database?: number;
}

/** One record of appendTransaction: its payload and the same options as append. */
export interface TransactionEntry extends AppendOptions {
  payload: Uint8Array;
}

/** The index of the first of the ascending `values` that is at least `x` (their length when none is). */
function firstAtLeast(values: readonly number[], x: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A follower's scan buffer: a round near the durable end reads a few blocks; larger rounds grow their own. */
const FOLLOW_SCAN_BUFFER_BYTES = 64 * 1024;

export interface WalStats extends GroupCommitStats {
  backend: string;
  backendFallbackReason: string | null;
  directIo: boolean;
  syncMethod: SyncMethod;
  firstLsn: number;
  nextLsn: number;
  durableLsn: number;
  pendingAppends: number;
  segmentCount: number;
  /** Size of the segment files, preallocated space included. */
  bytesOnDisk: number;
  /**
   * Bytes of the durable records (headers, payloads, 8-byte padding) still in the log. The zeros
   * before pipelined batches are left out as far as this process wrote them (`gapBytes`); those
   * of earlier processes are not known and count as records.
   */
  recordBytes: number;
  /**
   * Bytes the log occupies up to its last record (segment header blocks and the rest of the last
   * block included) ÷ recordBytes: what the format costs beyond the records themselves.
   */
  spaceAmplification: number;
}

export interface TruncateBeforeResult {
  segmentsRemoved: number;
  bytesRemoved: number;
}

const DEFAULT_META: RecordMeta = Object.freeze({ type: RECORD_TYPE_DEFAULT, tenant: 0, vshard: 0, database: 0 });

const APPEND_OPTION_NAMES: ReadonlySet<string> = new Set(['type', 'tenant', 'vshard', 'database']);

/** `where`: how an unknown key is named in the error (`entries[2].` for a transaction's entry). */
function metaFrom(options: AppendOptions | undefined, where = ''): RecordMeta {
  if (options === undefined) return DEFAULT_META;
  if (typeof options !== 'object' || options === null) {
    throw new WalInvalidArgumentError('append options', `must be an object, got ${describe(options)}`);
  }
  // A misspelt option (`tennant`) would otherwise leave its field at the default, silently.
  for (const key in options) {
    if (!APPEND_OPTION_NAMES.has(key)) throw new WalInvalidArgumentError(`${where}${key}`, `is not an append option (${[...APPEND_OPTION_NAMES].join(', ')})`);
  }
  const type = options.type ?? RECORD_TYPE_DEFAULT;
  const typeError = userTypeError(type);
  if (typeError !== null) throw new WalInvalidArgumentError('type', typeError);
  const tenant = options.tenant ?? 0;
  if (!Number.isSafeInteger(tenant) || tenant < 0)
    throw new WalInvalidArgumentError('tenant', `must be a non-negative safe integer, got ${describe(options.tenant)}`);
  const vshard = options.vshard ?? 0;
  if (!Number.isInteger(vshard) || vshard < 0 || vshard > U32_MAX)
    throw new WalInvalidArgumentError('vshard', `must be an integer in [0, 2^32), got ${describe(options.vshard)}`);
  const database = options.database ?? 0;
  if (!Number.isSafeInteger(database) || database < 0)
    throw new WalInvalidArgumentError('database', `must be a non-negative safe integer, got ${describe(options.database)}`);
  return { type, tenant, vshard, database };
}

export type { TransactionSpan, WalRecord, WalRecordHeader } from '../read/log-reader.js';
export type { CollectionOf, FollowOptions, ReadOptions } from './read-options.js';

export class Wal {
  readonly dir: string;
  /** What recovery found when this log was opened. */
  readonly recovery: RecoveryReport;
  private readonly options: ResolvedOptions;
  private readonly io: Io;
  private readonly ownsIo: boolean;
  private readonly lock: IoLock;
  private readonly segments: SegmentSet;
  private readonly writer: GroupCommit;
  private closing: Promise<void> | null = null;
  /** truncateBefore/After run one at a time, in call order. */
  private truncation: Promise<unknown> = Promise.resolve();
  /** Counts truncations that started; a reader that sees it change stops (WAL_ERR_READ_INVALIDATED). */
  private truncationEpoch = 0;
  /** A truncateAfter failed after it began to change files: nothing but close is allowed. */
  private cutFailed = false;
  /** Files open by readers: close() waits for each one's scan step, then closes it. */
  private readonly readerFiles = new ReaderFiles();
  /** The last truncateAfter cuts, for followers that were behind them (follow.ts). */
  private readonly cuts: CutRecord[] = [];
  /** Cuts of epochs up to this one are forgotten. */
  private cutsForgottenThroughEpoch = 0;
  /** The last checkpoint (its LSN and a copy of its payload), or null. */
  private checkpointState: { lsn: number; payload: Buffer } | null = null;
  /** The keys of encrypted segments (null: the log is opened without encryption). */
  private readonly keys: SegmentKeys | null;
  /** The time anchors read so far (LSN order, times never falling), up to `upToLsn`, for the truncation epoch they were read in. */
  private anchors: { epoch: number; upToLsn: number; lsns: number[]; times: number[] } | null = null;

  private constructor(
    dir: string,
    options: ResolvedOptions,
    io: Io,
    ownsIo: boolean,
    lock: IoLock,
    segments: SegmentSet,
    writer: GroupCommit,
    recovery: RecoveryReport,
    private readonly durable: DurableSignal,
    private readonly tail: TailCache,
    keys: SegmentKeys | null,
  ) {
    this.keys = keys;
    this.dir = dir;
    this.options = options;
    this.io = io;
    this.ownsIo = ownsIo;
    this.lock = lock;
    this.segments = segments;
    this.writer = writer;
    this.recovery = recovery;
  }

  /**
   * Opens (or creates) the log in `dir` for writing, or with `readOnly: true` opens an existing
   * one for reading only (a ReadOnlyWal: no lock, no byte written).
   */
  static open(dir: string, options?: WalOptions): Promise<Wal>;
  static open(dir: string, options: ReadOnlyOpenOptions): Promise<ReadOnlyWal>;
  static async open(dir: string, options?: WalOptions | ReadOnlyOpenOptions): Promise<Wal | ReadOnlyWal> {
    if (typeof dir !== 'string' || dir.length === 0) throw new WalInvalidArgumentError('dir', `must be a non-empty string, got ${describe(dir)}`);
    const resolved = resolveOptions(options);
    if (resolved.readOnly) return ReadOnlyWal.open(dir, resolved);
    return Wal.openForWriting(dir, resolved);
  }

  private static async openForWriting(dir: string, resolved: ResolvedOptions): Promise<Wal> {
    const ownsIo = resolved.io === undefined;
    const io =
      resolved.io ??
      NativeIo.create({ backend: resolved.backend, syncMethod: resolved.syncMethod, queueDepth: resolved.queueDepth, nativeBinding: resolved.nativeBinding });
    let lock: IoLock | undefined;
    let segments: SegmentSet | undefined;
    let keys: SegmentKeys | null = null;
    try {
      // Key files are checked (and read into native memory) before anything else is touched.
      keys = resolved.encryption === undefined ? null : new SegmentKeys(KeyRing.fromOptions(resolved.encryption, 'encryption', resolved.nativeBinding));
      // The caller's key bytes are not kept: the ring holds its own copy in native memory.
      resolved.encryption = undefined;
      await io.mkdirp(dir);
      // O1. A directory just created is durable only once its parent is synced. An earlier open
      // may have created some levels and failed before syncing them, and this one cannot tell
      // which: so every ancestor is synced, innermost first, on every open (a few cheap fsyncs).
      for (const ancestor of ancestorsOf(dir)) await io.fsyncDir(ancestor);
      lock = await io.lock(join(dir, LOCK_FILE_NAME));
      const opened = await SegmentSet.open(io, {
        dir,
        directIo: resolved.directIo,
        segmentSizeBytes: resolved.segmentSizeBytes,
        preallocate: resolved.preallocate,
        doubleWriteBuffer: resolved.doubleWriteBuffer,
        onSegmentSealed: resolved.onSegmentSealed,
        writeShape: { batchBytesMax: resolved.batchBytesMax, batchesInFlightMax: resolved.batchesInFlightMax },
        keys,
      });
      segments = opened.set;
      const set = segments;
      const dataStartBytes = set.active.dataStartBytes;
      if (dataStartBytes + recordSpanBytes(resolved.recordPayloadBytesMax + (keys === null ? 0 : RECORD_TAG_BYTES)) > resolved.segmentSizeBytes) {
        throw new WalInvalidArgumentError(
          'recordPayloadBytesMax',
          `a record of ${resolved.recordPayloadBytesMax} bytes does not fit a ${resolved.segmentSizeBytes}-byte segment after its ${dataStartBytes}-byte header block`,
        );
      }
      const durable = new DurableSignal();
      const tail = new TailCache();
      const events = new LogEvents(dir);
      const writer = await GroupCommit.create({
        io,
        ...targetOf(opened.position),
        batchBytesMax: resolved.batchBytesMax,
        batchesInFlightMax: resolved.batchesInFlightMax,
        timeAnchorIntervalMs: resolved.timeAnchorIntervalMs,
        pendingAppendsMax: resolved.pendingAppendsMax,
        pendingBytesMax: resolved.pendingBytesMax,
        segmentSizeBytes: resolved.segmentSizeBytes,
        roll: async (seal, checkpointLsn) => {
          const sealedSegmentId = set.active.header.segmentId;
          const position = await set.roll(seal, checkpointLsn);
          events.rollover('segment-full', sealedSegmentId, seal.lastLsn, position.segment.header.segmentId);
          return targetOf(position);
        },
        doubleWrite: set.doubleWriteRecorder(),
        onBatchComplete: (advanceBytes, batchWaiting) => {
          set.zeroFill.batchComplete(advanceBytes, batchWaiting);
          durable.wake();
        },
        durableBytes: tail,
        encrypt: keys !== null,
        events,
        slowSyncWarning: resolved.slowSyncWarningMs === null ? null : new SlowSyncWarning(events, resolved.slowSyncWarningMs),
      });
      // The zero-fill of the next segment goes out when the writer has nothing to write.
      set.zeroFill.attach({
        get busy() {
          return writer.nextLsn - 1 > writer.durableLsn || writer.pendingCount > 0;
        },
      });
      const wal = new Wal(dir, resolved, io, ownsIo, lock, set, writer, opened.recovery, durable, tail, keys);
      try {
        await wal.loadCheckpoint(opened.checkpoints.scanned ? opened.checkpoints : null);
      } catch (err) {
        await wal.close().catch(() => undefined);
        throw err;
      }
      // Only a log on the real disk: an Io handed in (the simulated disk) has no placement to warn about.
      if (ownsIo) await warnAboutPlacement(dir, io.fallbackReason);
      events.recovered(opened.recovery);
      return wal;
    } catch (err) {
      await segments?.close().catch(() => undefined);
      await lock?.release().catch(() => undefined);
      if (ownsIo) await io.close().catch(() => undefined);
      // A failed open keeps no key (destroying twice is harmless).
      keys?.destroy();
      throw err;
    }
  }

  /** Which queue carries the I/O: `io_uring`, `threadpool`, or `sim`. */
  get backend(): string {
    return this.io.backend;
  }

  /** Why `backend: 'auto'` took the thread pool instead of io_uring, or null when it did not. */
  get backendFallbackReason(): string | null {
    return this.io.fallbackReason;
  }

  /** Whether the active segment is written with O_DIRECT. */
  get directIo(): boolean {
    return this.segments.active.file.direct;
  }

  /** The lowest LSN still in the log: records below it were removed by truncateBefore. */
  get firstLsn(): number {
    return this.segments.firstLsn;
  }

  /**
   * How durable writes reach stable storage: the method asked for, or `linked-fdatasync` where
   * the file system is not known to honour `rwf-dsync` (docs/design.md, "Choosing the sync method").
   */
  get syncMethod(): SyncMethod {
    return this.segments.active.file.syncMethod;
  }

  /** The highest LSN known durable; every record up to it survives a crash. */
  get durableLsn(): number {
    return this.writer.durableLsn;
  }

  /** The LSN the next append will receive. */
  get nextLsn(): number {
    return this.writer.nextLsn;
  }

  /**
   * `open`; `failed` once a write or sync failed (every call but close is refused, and
   * truncateBefore too unless the disk was full; `failure` says why); `closed` from the call of
   * close() on, while it is still closing too.
   */
  get state(): 'open' | 'failed' | 'closed' {
    if (this.closing !== null) return 'closed';
    return this.writer.failed === null ? 'open' : 'failed';
  }

  /** What failed the log (the error its first failed write or sync gave) while `state` is `failed`, else null. */
  get failure(): unknown {
    return this.state === 'failed' ? this.writer.failed : null;
  }

  /**
   * Why a call is refused now, or null. With `spaceFailureAllowed`, a log whose only failure is
   * a full disk is not refused: removing segments is how space is freed.
   */
  private refusal(spaceFailureAllowed = false): Error | null {
    if (this.closing !== null) return new WalClosedError();
    return this.failureRefusal(spaceFailureAllowed);
  }

  /** The refusal a failed log gives, or null; a call made before close() is still carried out. */
  private failureRefusal(spaceFailureAllowed: boolean): Error | null {
    const failure = this.writer.failed;
    // A cut that failed half-way left the directory in a state only a reopen sorts out.
    if (failure !== null && !(spaceFailureAllowed && !this.cutFailed && isNoSpaceErrno(failure))) return new WalDurabilityLostError(failure);
    return null;
  }

  private checkPayload(payload: unknown, argument: string): Error | null {
    if (!(payload instanceof Uint8Array)) return new WalInvalidArgumentError(argument, `must be a Buffer or Uint8Array, got ${describe(payload)}`);
    if (payload.byteLength > this.options.recordPayloadBytesMax) return new WalPayloadTooLargeError(payload.byteLength, this.options.recordPayloadBytesMax);
    return null;
  }

  /** Appends one record; resolves to its own LSN once it is durable. */
  append(payload: Uint8Array, options?: AppendOptions): Promise<number> {
    const refused = this.refusal() ?? this.checkPayload(payload, 'payload');
    if (refused !== null) return Promise.reject(refused);
    let meta: RecordMeta;
    try {
      meta = metaFrom(options);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.writer.append(payload, meta);
  }

  /**
   * Appends records with consecutive LSNs, all with the same options; resolves once all are
   * durable. The records are independent: a crash may keep a prefix of them.
   */
  appendBatch(payloads: readonly Uint8Array[], options?: AppendOptions): Promise<BatchResult> {
    const refused = this.refusal();
    if (refused !== null) return Promise.reject(refused);
    if (!Array.isArray(payloads)) return Promise.reject(new WalInvalidArgumentError('payloads', `must be an array, got ${describe(payloads)}`));
    if (payloads.length === 0) return Promise.reject(new WalInvalidArgumentError('payloads', 'must not be empty'));
    for (let i = 0; i < payloads.length; i++) {
      const bad = this.checkPayload(payloads[i], `payloads[${i}]`);
      if (bad !== null) return Promise.reject(bad);
    }
    let meta: RecordMeta;
    try {
      meta = metaFrom(options);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.writer.appendBatch(payloads, meta);
  }

  /**
   * Appends records as one transaction: consecutive LSNs, written in one batch after a
   * transaction record that announces them. Resolves to `{ firstLsn, lastLsn }` once all are
   * durable. Replay yields all of them or none, even when a crash tears the batch, each marked
   * `txn: { firstLsn, lastLsn }`. A transaction must fit one batch: its records' spans (48 bytes
   * each plus the payload, rounded up to 8) and the transaction record's 56 bytes, at most
   * `batchBytesMax` (and one segment); a larger one is refused before anything is written.
   */
  appendTransaction(entries: readonly TransactionEntry[]): Promise<BatchResult> {
    const refused = this.refusal();
    if (refused !== null) return Promise.reject(refused);
    if (!Array.isArray(entries)) return Promise.reject(new WalInvalidArgumentError('entries', `must be an array, got ${describe(entries)}`));
    if (entries.length === 0) return Promise.reject(new WalInvalidArgumentError('entries', 'must not be empty'));
    const payloads: Uint8Array[] = [];
    const metas: RecordMeta[] = [];
    try {
      for (let i = 0; i < entries.length; i++) {
        const entry: unknown = entries[i];
        if (typeof entry !== 'object' || entry === null)
          throw new WalInvalidArgumentError(`entries[${i}]`, `must be an object with a payload, got ${describe(entry)}`);
        const { payload, ...options } = entry as TransactionEntry;
        const bad = this.checkPayload(payload, `entries[${i}].payload`);
        if (bad !== null) throw bad;
        payloads.push(payload);
        metas.push(metaFrom(options, `entries[${i}].`));
      }
    } catch (err) {
      return Promise.reject(err);
    }
    const spanBytes = transactionSpanBytes(payloads, this.writer.tagBytes);
    const limitBytes = this.writer.transactionBytesMax;
    if (spanBytes > limitBytes) {
      return Promise.reject(
        new WalInvalidArgumentError(
          'entries',
          `a transaction of ${entries.length} records takes ${spanBytes} bytes of a batch, above the ${limitBytes} one batch holds (batchBytesMax ${this.options.batchBytesMax}): split it, or raise batchBytesMax`,
        ),
      );
    }
    return this.writer.appendTransaction(payloads, metas);
  }

  /** Resolves once every record appended before the call is durable. */
  sync(): Promise<void> {
    const refused = this.refusal();
    if (refused !== null) return Promise.reject(refused);
    return this.writer.sync();
  }

  async stats(): Promise<WalStats> {
    if (this.closing !== null) throw new WalClosedError();
    const sealed = this.segments.sealed;
    const active = this.segments.active;
    let bytesOnDisk = await this.segments.activeSizeBytes();
    let usedBytes = 0;
    let recordBytes = 0;
    for (const s of sealed) {
      bytesOnDisk += s.sizeBytes;
      usedBytes += roundUp(s.seal.endBytes, s.header.blockSizeBytes);
      recordBytes += s.seal.endBytes - s.header.blockSizeBytes;
    }
    const activeEndBytes = this.writer.durableEndBytes;
    usedBytes += roundUp(activeEndBytes, active.header.blockSizeBytes);
    recordBytes += activeEndBytes - active.dataStartBytes;
    const writerStats = this.writer.stats();
    // The zeros before pipelined batches are not records; those written before this open are
    // not known, and count as records.
    recordBytes = Math.max(0, recordBytes - writerStats.gapBytes);
    return {
      ...writerStats,
      backend: this.io.backend,
      backendFallbackReason: this.io.fallbackReason,
      directIo: this.directIo,
      syncMethod: this.syncMethod,
      firstLsn: this.segments.firstLsn,
      nextLsn: this.writer.nextLsn,
      durableLsn: this.writer.durableLsn,
      pendingAppends: this.writer.pendingCount,
      segmentCount: sealed.length + 1,
      bytesOnDisk,
      recordBytes,
      spaceAmplification: recordBytes === 0 ? 0 : usedBytes / recordBytes,
    };
  }

  /**
   * Removes whole segments whose records are all below `lsn` (a checkpoint: the caller no longer
   * needs them). The active segment is never removed, so records up to its first LSN remain.
   * Removal runs oldest first with a directory fsync after each, so a crash leaves a suffix.
   */
  truncateBefore(lsn: number): Promise<TruncateBeforeResult> {
    const refused = this.refusal(true);
    if (refused !== null) return Promise.reject(refused);
    try {
      checkTruncateLsn('lsn', lsn, 0, this.writer.nextCallLsn ?? LSN_MAX);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.serialize(() => {
      // Checked again at its turn: a truncation queued ahead may have failed the log.
      const refusedNow = this.failureRefusal(true);
      if (refusedNow !== null) return Promise.reject(refusedNow);
      this.truncationEpoch += 1;
      const firstLsnBefore = this.segments.firstLsn;
      return this.segments.truncateBefore(lsn).then((removed) => {
        const firstLsn = this.segments.firstLsn;
        this.writer.events.truncatedBefore(lsn, firstLsn, firstLsn - firstLsnBefore, removed.segmentsRemoved, removed.bytesRemoved);
        return removed;
      });
    });
  }

  /**
   * Durably removes every record above `lsn` (Raft-style conflict resolution); `lsn` may be
   * `firstLsn - 1` to empty the log. Records appended before the call are made durable first;
   * appends made after it wait, and the first of them gets `lsn + 1`: the removed records are
   * gone from disk before that LSN is given again (docs/design.md, "truncateAfter (T)", T1–T7).
   * Resolves once the cut is durable.
   */
  truncateAfter(lsn: number): Promise<void> {
    const refused = this.refusal();
    if (refused !== null) return Promise.reject(refused);
    try {
      // With another truncateAfter queued the next LSN is not known yet: checked again below.
      const nextCallLsn = this.writer.nextCallLsn;
      checkTruncateLsn('lsn', lsn, this.segments.firstLsn - 1, nextCallLsn === null ? LSN_MAX : nextCallLsn - 1);
    } catch (err) {
      return Promise.reject(err);
    }
    // T1, at the call: appends made from now on wait behind the fence, in call order.
    const fence = this.writer.fence();
    return this.serialize(async () => {
      this.truncationEpoch += 1;
      await fence.reached;
      if (this.writer.failed !== null) throw new WalDurabilityLostError(this.writer.failed);
      try {
        // Checked again now that everything appended before the call is durable (an earlier
        // truncation may also have moved the bounds).
        checkTruncateLsn('lsn', lsn, this.segments.firstLsn - 1, this.writer.durableLsn);
      } catch (err) {
        await this.writer.passFence(fence, null);
        throw err;
      }
      if (lsn === this.writer.durableLsn) {
        await this.writer.passFence(fence, null);
        this.writer.events.truncatedAfter(lsn, 0, 0);
        return;
      }
      const durableLsnBefore = this.writer.durableLsn;
      const segmentCountBefore = this.segments.sealed.length;
      let across: TransactionSpan | null;
      try {
        across = await this.transactionAt(lsn + 1);
      } catch (err) {
        // Nothing changed on disk, but the appends behind the cut must not land on the uncut
        // log: the writer fails, and a reopen continues the log as it is.
        this.writer.poison(err);
        throw err;
      }
      if (across !== null) {
        await this.writer.passFence(fence, null);
        throw new WalInvalidArgumentError(
          'lsn',
          `${lsn} is inside the transaction of LSNs ${across.firstLsn}..${across.lastLsn}, which survives whole or not at all: cut after ${across.firstLsn - 2} or after ${across.lastLsn}`,
        );
      }
      let position: WriterPosition;
      try {
        position = await this.segments.truncateAfter(lsn, this.writer.durableEndBytes);
      } catch (err) {
        // The log's state on disk is unknown now: refuse everything until a reopen finishes the cut.
        this.cutFailed = true;
        this.writer.poison(err);
        throw err;
      }
      this.rememberCut(lsn);
      const checkpointCut = this.writer.lastCheckpointLsn > lsn;
      // Cached bytes past the cut are not the log any more.
      this.tail.clear();
      // The last checkpoint was cut: the one before it (if the log still has it) is the last now,
      // found while the appends behind the cut still wait, so that a rollover names it.
      if (checkpointCut) {
        try {
          await this.loadCheckpoint(null, position.nextLsn - 1, position.endBytes, true);
        } catch (err) {
          // The cut is durable, but which checkpoint is the last is not known: the writer fails
          // (a reopen finds it), and nothing may report or name the one the cut removed.
          this.checkpointState = null;
          this.writer.lastCheckpointLsn = 0;
          this.writer.poison(err);
          throw err;
        }
      }
      // Reads the new tail block before it changes anything; a failed read fails the writer.
      await this.writer.passFence(fence, targetOf(position));
      if (this.writer.failed !== null) throw new WalDurabilityLostError(this.writer.failed);
      this.writer.events.truncatedAfter(lsn, durableLsnBefore - lsn, segmentCountBefore - this.segments.sealed.length);
    });
  }

  /**
   * Seals the active segment and begins the next one under a new master key, `{ keyId, key }`
   * or `{ keyId, keyFile }` (a new key id). Appends made before the call are made durable in the
   * old segment first; appends made after it wait and go to the new one. Segments written under
   * older keys stay readable while their keys are in the ring (this process) or in
   * `previousKeys` (a later open). Resolves once the new segment is durable.
   */
  rotateKey(spec: KeySpec): Promise<void> {
    const refused = this.refusal();
    if (refused !== null) return Promise.reject(refused);
    const keys = this.keys;
    if (keys === null) return Promise.reject(new WalInvalidArgumentError('rotateKey', 'the log is not encrypted: open it with the encryption option first'));
    let master: MasterKey;
    try {
      master = parseKeySpec(spec, 'key', this.options.nativeBinding);
    } catch (err) {
      return Promise.reject(err);
    }
    // A fence that leaves LSNs as they are: the next append's LSN is known while it waits.
    const fence = this.writer.fence(false);
    return this.serialize(async () => {
      await fence.reached;
      const previous = keys.current!;
      try {
        if (this.writer.failed !== null) throw new WalDurabilityLostError(this.writer.failed);
        keys.rotate(master);
      } catch (err) {
        master.destroy();
        await this.writer.passFence(fence, null);
        throw err;
      }
      let position: WriterPosition;
      const sealedSegmentId = this.segments.active.header.segmentId;
      try {
        const w = this.writer;
        position = await this.segments.rotate({ lastLsn: w.durableLsn, endBytes: w.durableEndBytes, lastRecordBytes: w.lastRecordBytes }, w.lastCheckpointLsn);
      } catch (err) {
        // A rollover that fails for lack of space changed nothing; any other failure fails the writer.
        keys.unrotate(master, previous);
        if (!(err instanceof WalNoSpaceError)) this.writer.poison(err);
        await this.writer.passFence(fence, null);
        throw err;
      }
      await this.writer.passFence(fence, targetOf(position));
      if (this.writer.failed !== null) throw new WalDurabilityLostError(this.writer.failed);
      const nextSegmentId = position.segment.header.segmentId;
      if (nextSegmentId !== sealedSegmentId) this.writer.events.rollover('key-rotation', sealedSegmentId, position.nextLsn - 1, nextSegmentId);
    });
  }

  /** The transaction the durable user record `lsn` belongs to, or null (none, or not a user record). */
  private async transactionAt(lsn: number): Promise<TransactionSpan | null> {
    const filter: RecordFilter = { ...yieldEveryRecord, toLsn: lsn, payloads: false };
    for await (const record of readSegments(this.planNow(lsn, filter, this.writer.durableLsn, this.writer.durableEndBytes, true))) {
      if (record.lsn === lsn) return record.txn;
    }
    return null;
  }

  private serialize<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.truncation.then(operation, operation);
    this.truncation = result.catch(() => undefined);
    // Followers check their position against what the truncation did, once it is done.
    void this.truncation.then(() => this.durable.wake());
    return result;
  }

  private rememberCut(keptLsn: number): void {
    this.cuts.push({ epoch: this.truncationEpoch, keptLsn });
    if (this.cuts.length > CUTS_REMEMBERED_MAX) this.cutsForgottenThroughEpoch = this.cuts.shift()!.epoch;
  }

  /**
   * Yields every record with LSN ≥ `fromLsn` as soon as it is durable, in LSN order, across
   * rollovers, while appends go on; the same filters as `read` apply. It reads the durable prefix
   * from disk in rounds and waits for the durable end to move between them, so a slow consumer
   * never makes the writer keep anything. It ends when `signal` aborts and when the log closes;
   * a truncateAfter below what it has passed, or a truncateBefore above what it has not reached,
   * stops it with WAL_ERR_READ_INVALIDATED.
   */
  follow(options?: FollowOptions & { payloads?: true }): AsyncGenerator<WalRecord, void, undefined>;
  follow(options: FollowOptions & { payloads: false }): AsyncGenerator<WalRecordHeader, void, undefined>;
  follow(options?: FollowOptions): AsyncGenerator<WalRecord | WalRecordHeader, void, undefined>;
  follow(options?: FollowOptions): AsyncGenerator<WalRecord | WalRecordHeader, void, undefined> {
    const { fromLsn: fromAsked, fromCheckpoint, filter, signal } = followPlanOf(options);
    const fromLsn = fromCheckpoint ? this.afterCheckpoint() : fromAsked;
    if (this.closing !== null) throw new WalClosedError();
    return follow(this.followedLog(), fromLsn, filter, signal ?? undefined);
  }

  private followedLog(): FollowedLog {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the view reads the log's live state
    const wal = this;
    return {
      get closed() {
        return wal.closing !== null;
      },
      get durableLsn() {
        return wal.writer.durableLsn;
      },
      get firstLsn() {
        return wal.segments.firstLsn;
      },
      get truncationEpoch() {
        return wal.truncationEpoch;
      },
      truncationsDone: () => wal.truncation.then(() => undefined),
      cutsAfter: (epoch) => (epoch < wal.cutsForgottenThroughEpoch ? null : wal.cuts.filter((cut) => cut.epoch > epoch)),
      snapshot: () => wal.segments.snapshot(wal.writer.durableLsn, wal.writer.durableEndBytes),
      durable: wal.durable,
      tail: wal.tail,
      scanBuffer: () => wal.io.allocAligned(FOLLOW_SCAN_BUFFER_BYTES, wal.segments.active.file.alignmentBytes),
      plan: (segments, fromLsn, filter, progress, check) => ({
        io: wal.io,
        segments,
        fromLsn,
        filter,
        direct: wal.directIo ? 'required' : 'off',
        files: wal.readerFiles,
        check,
        progress,
        keys: wal.keys,
      }),
    };
  }

  /**
   * Marks the records of `collection` of `tenant` below `purgeLsn` as purged: a record of ringwal's
   * own type, durable when the promise resolves (to its LSN). The highest purge LSN per tenant
   * and collection wins, whatever the order the tombstones arrive in.
   */
  tombstone(tombstone: { tenant: number; collection: string; purgeLsn: number }): Promise<number> {
    try {
      if (typeof tombstone !== 'object' || tombstone === null) throw new WalInvalidArgumentError('tombstone', `must be an object, got ${describe(tombstone)}`);
      const tenant = checkTenant(tombstone.tenant);
      const name = collectionBytes(tombstone.collection);
      const purgeLsn = lsnOption('purgeLsn', tombstone.purgeLsn, -1);
      if (purgeLsn < 0) throw new WalInvalidArgumentError('purgeLsn', 'is required');
      return this.appendOwn(encodeTombstone(name, purgeLsn), RECORD_TYPE_TOMBSTONE, tenant);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Marks the records of `collection` of `tenant` older than `cutoffMs` (ms since the epoch) as purged; resolves to its LSN. */
  temporalPurge(purge: { tenant: number; collection: string; cutoffMs: number }): Promise<number> {
    try {
      if (typeof purge !== 'object' || purge === null) throw new WalInvalidArgumentError('temporal purge', `must be an object, got ${describe(purge)}`);
      const tenant = checkTenant(purge.tenant);
      const name = collectionBytes(purge.collection);
      if (!Number.isSafeInteger(purge.cutoffMs))
        throw new WalInvalidArgumentError('cutoffMs', `must be a safe integer of ms since the epoch, got ${describe(purge.cutoffMs)}`);
      return this.appendOwn(encodeTemporalPurge(name, purge.cutoffMs), RECORD_TYPE_TEMPORAL_PURGE, tenant);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The tombstones and temporal purges of the durable log, read from it (their records only are copied). */
  async tombstones(): Promise<TombstoneSet> {
    const set = new TombstoneSet();
    const filter: RecordFilter = { ...yieldEveryRecord, systemTypes: new Set([RECORD_TYPE_TOMBSTONE, RECORD_TYPE_TEMPORAL_PURGE]) };
    if (this.closing !== null) throw new WalClosedError();
    for await (const record of readSegments(() => this.readPlan(1, filter, null))) {
      const payload = (record as WalRecord).payload;
      if (record.type === RECORD_TYPE_TOMBSTONE) set.addTombstone(record.tenant, payload, record.lsn);
      else set.addTemporalPurge(record.tenant, payload, record.lsn);
    }
    return set;
  }

  /**
   * The time anchors of the durable log (option `timeAnchorIntervalMs`), read from it the first
   * time and then only from where the last call stopped; a truncation makes the next call read
   * them again.
   */
  private async loadAnchors(): Promise<{ lsns: number[]; times: number[] }> {
    await this.truncation;
    if (this.closing !== null) throw new WalClosedError();
    const epoch = this.truncationEpoch;
    const upToLsn = this.writer.durableLsn;
    let known = this.anchors !== null && this.anchors.epoch === epoch ? this.anchors : { epoch, upToLsn: 0, lsns: [], times: [] };
    if (known.upToLsn < upToLsn) {
      const lsns = known.lsns.slice();
      const times = known.times.slice();
      const filter: RecordFilter = { ...yieldEveryRecord, toLsn: upToLsn, systemTypes: new Set([RECORD_TYPE_TIME_ANCHOR]) };
      for await (const record of readSegments(() => this.readPlan(known.upToLsn + 1, filter, null))) {
        const payload = (record as WalRecord).payload;
        if (payload.byteLength !== 8)
          throw new WalCorruptionError('(log)', 0, `the time anchor at LSN ${record.lsn} has ${payload.byteLength} bytes of payload, not 8`, record.lsn);
        const ms = payload.readDoubleLE(0);
        if (!Number.isFinite(ms)) throw new WalCorruptionError('(log)', 0, `the time anchor at LSN ${record.lsn} holds ${ms}`, record.lsn);
        // Times never fall from one anchor to the next (a clock set back between two runs).
        lsns.push(record.lsn);
        times.push(Math.max(ms, times.length === 0 ? -Infinity : times[times.length - 1]!));
      }
      known = { epoch, upToLsn, lsns, times };
      if (this.truncationEpoch === epoch) this.anchors = known;
    }
    return known;
  }

  /**
   * When the record at `lsn` was written, from the time anchors around it: at or after
   * `notBeforeMs` (the last anchor below it) and at or before `notAfterMs` (the first anchor
   * above it); null where no anchor bounds it. The resolution is the anchors' spacing, about
   * `timeAnchorIntervalMs` while the log is busy.
   */
  async timeAt(lsn: number): Promise<{ notBeforeMs: number | null; notAfterMs: number | null }> {
    const at = lsnOption('lsn', lsn, -1);
    if (at < 1) throw new WalInvalidArgumentError('lsn', `must be an LSN of at least 1, got ${describe(lsn)}`);
    const { lsns, times } = await this.loadAnchors();
    // The first anchor at or above lsn.
    const lo = firstAtLeast(lsns, at);
    return { notBeforeMs: lo > 0 ? times[lo - 1]! : null, notAfterMs: lo < lsns.length ? times[lo]! : null };
  }

  /**
   * The lowest LSN from which on every record was written at or after `date`: the first time
   * anchor at or after it (records above an anchor were written after it). null when no anchor
   * is that late. Records a little below it may be that late too, by up to the anchors' spacing.
   */
  async lsnAt(date: Date | number): Promise<number | null> {
    const ms = date instanceof Date ? date.getTime() : date;
    if (typeof ms !== 'number' || !Number.isFinite(ms))
      throw new WalInvalidArgumentError('date', `must be a Date or ms since the epoch, got ${describe(date)}`);
    const { lsns, times } = await this.loadAnchors();
    const lo = firstAtLeast(times, ms);
    return lo < lsns.length ? lsns[lo]! : null;
  }

  /**
   * Appends a checkpoint: `payload` says what state the log can be replayed from (the caller's
   * format). Resolves to its LSN once durable; `lastCheckpoint()` returns it from then on, across
   * reopen, and `read({ fromCheckpoint: true })` starts after it. The usual flow: checkpoint,
   * then `truncateBefore(lsn)` (which keeps the checkpoint's segment).
   */
  async checkpoint(payload: Uint8Array): Promise<number> {
    const refused = this.checkPayload(payload, 'payload');
    if (refused !== null) throw refused;
    const copy = Buffer.from(payload);
    const lsn = await this.appendOwn(copy, RECORD_TYPE_CHECKPOINT, 0);
    if (this.checkpointState === null || this.checkpointState.lsn < lsn) this.checkpointState = { lsn, payload: copy };
    return lsn;
  }

  /**
   * The last durable checkpoint, `{ lsn, payload }` (a copy), or null when there is none in the
   * log (never written, cut by truncateAfter, or removed by truncateBefore). Known at open from
   * the last segment alone: a segment begun after a checkpoint starts with a record that says
   * where the last one is.
   */
  lastCheckpoint(): { lsn: number; payload: Buffer } | null {
    const state = this.checkpointState;
    if (state === null || state.lsn < this.segments.firstLsn) return null;
    return { lsn: state.lsn, payload: Buffer.from(state.payload) };
  }

  /** The LSN right after the last checkpoint, or 1 without one. */
  private afterCheckpoint(): number {
    return (this.lastCheckpoint()?.lsn ?? 0) + 1;
  }

  /**
   * Finds the last checkpoint from the active segment alone: its own checkpoint records (which
   * recovery's scan saw, `seen`, or else a scan now), or else the one its header names, the last
   * before it (then read from its segment). Runs at open and after a truncateAfter that cut the
   * one known.
   */
  private async loadCheckpoint(
    seen: CheckpointsSeen | null,
    durableLsn = this.writer.durableLsn,
    durableEndBytes = this.writer.durableEndBytes,
    byTruncation = false,
  ): Promise<void> {
    const found = await findLastCheckpoint(seen, this.segments.active, this.segments.firstLsn, durableLsn, (fromLsn, filter) =>
      this.planNow(fromLsn, filter, durableLsn, durableEndBytes, byTruncation),
    );
    this.checkpointState = found;
    this.writer.lastCheckpointLsn = found?.lsn ?? 0;
  }

  /** Appends one of ringwal's own records (never a user's: append refuses these types). */
  private appendOwn(payload: Buffer, type: number, tenant: number): Promise<number> {
    const refused = this.refusal() ?? this.checkPayload(payload, 'payload');
    if (refused !== null) return Promise.reject(refused);
    return this.writer.append(payload, { type, tenant, vshard: 0, database: 0 });
  }

  /**
   * Yields the durable records with LSN ≥ `fromLsn` (and ≥ `firstLsn`), in LSN order, each
   * CRC-checked, as they were when the iteration started (after any truncation then running). A
   * truncation started later stops the reader with WAL_ERR_READ_INVALIDATED, and close() stops
   * it with WAL_ERR_CLOSED; an abort of `signal` stops it at its next record with an AbortError
   * (WAL_ERR_ABORTED; follow ends cleanly instead). Memory stays bounded: a 1 MiB scan buffer
   * and the records of one scan step (at most that much payload).
   * Damage inside the durable range throws WalCorruptionError; a damaged record is never yielded.
   */
  read(options?: ReadOptions & { payloads?: true }): AsyncGenerator<WalRecord, void, undefined>;
  read(options: ReadOptions & { payloads: false }): AsyncGenerator<WalRecordHeader, void, undefined>;
  read(options?: ReadOptions): AsyncGenerator<WalRecord | WalRecordHeader, void, undefined>;
  read(options?: ReadOptions): AsyncGenerator<WalRecord | WalRecordHeader, void, undefined> {
    const { signal, rest } = splitSignal(options);
    const { fromLsn, fromCheckpoint, filter, skipTombstoned } = readPlanOf(rest);
    if (this.closing !== null) throw new WalClosedError();
    return readSegments(async () => {
      const plan = await this.readPlan(fromCheckpoint ? this.afterCheckpoint() : fromLsn, filter, skipTombstoned);
      if (signal === null) return plan;
      // The reader asks check before each file and each record: an abort stops it there.
      const check = plan.check;
      return {
        ...plan,
        check: (where) => {
          if (signal.aborted) throw new WalAbortError(signal.reason);
          check(where);
        },
      };
    });
  }

  private async readPlan(fromLsn: number, filterAsked: RecordFilter, skipTombstoned: CollectionOf | null): Promise<ReadPlan> {
    // A reader that starts while a truncation runs reads the log as the truncation leaves it.
    await this.truncation;
    if (this.closing !== null) throw new WalClosedError();
    let filter = filterAsked;
    if (skipTombstoned !== null) {
      const set = await this.tombstones();
      filter = {
        ...filterAsked,
        skip: (record) => {
          const collection = skipTombstoned(record);
          return typeof collection === 'string' && set.isTombstoned(record.tenant, collection, record.lsn);
        },
      };
      await this.truncation;
      if (this.closing !== null) throw new WalClosedError();
    }
    return this.planNow(fromLsn, filter);
  }

  /**
   * A plan of the log as it is now (the caller knows no truncation is half-way), durable up to
   * the writer's durable end unless told where it is (a cut the writer has not moved to yet).
   */
  /**
   * A plan of the log as it is now. `byTruncation`: read by a truncation itself, which close()
   * waits for, so a closing log does not stop it.
   */
  private planNow(
    fromLsn: number,
    filter: RecordFilter,
    durableLsn = this.writer.durableLsn,
    durableEndBytes = this.writer.durableEndBytes,
    byTruncation = false,
  ): ReadPlan {
    const epoch = this.truncationEpoch;
    return {
      io: this.io,
      segments: this.segments.snapshot(durableLsn, durableEndBytes),
      fromLsn,
      filter,
      direct: this.directIo ? 'required' : 'off',
      files: this.readerFiles,
      keys: this.keys,
      check: (where) => {
        // A truncation started after the reader did, or the log closed under it.
        if (this.truncationEpoch !== epoch) throw new WalReadInvalidatedError(whereText(where));
        if (this.closing !== null && !byTruncation) throw new WalClosedError();
      },
    };
  }

  /**
   * Waits for every append made before the call to be durable, then releases the file, the lock
   * and the ring. Appends after close reject with WAL_ERR_CLOSED. Idempotent.
   */
  close(): Promise<void> {
    if (this.closing === null) this.closing = this.shutdown();
    return this.closing;
  }

  /** close(), for `await using wal = await Wal.open(dir)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** What console.log and util.inspect show: where the log is and how far it got, none of its internals. */
  [inspect.custom](depth: number, options: InspectOptions, show: typeof inspect): string {
    if (depth < 0) return `Wal <${this.state}>`;
    const shown = {
      dir: this.dir,
      state: this.state,
      backend: this.backend,
      directIo: this.directIo,
      firstLsn: this.firstLsn,
      durableLsn: this.durableLsn,
      nextLsn: this.nextLsn,
    };
    return `Wal ${show(shown, { ...options, depth: typeof options.depth === 'number' ? options.depth - 1 : options.depth })}`;
  }

  private async shutdown(): Promise<void> {
    // The next segment's fill is not needed any more (a rollover of an append made before the
    // call prepares its segment unpaced), and a paced one may wait for batches that never come.
    this.segments.zeroFill.close();
    // Followers waiting for the durable end see the log closing and end.
    this.durable.wake();
    await this.truncation;
    // The sync's failure, if it failed: thrown once everything is released.
    let syncFailure: { error: unknown } | null = null;
    if (this.writer.failed === null) {
      try {
        await this.writer.sync();
      } catch (err) {
        syncFailure = { error: err };
      }
    }
    // After a failure, batches still in flight complete on their own: never close under them.
    await this.writer.settled();
    // Readers still open stop at their next step with WAL_ERR_CLOSED.
    await this.readerFiles.closeAll();
    await this.segments.close();
    // Nothing reads or writes any more: every key is cleansed.
    this.keys?.destroy();
    await this.lock.release();
    if (this.ownsIo) await this.io.close();
    if (syncFailure !== null) throw syncFailure.error;
  }
}

function targetOf(position: WriterPosition): WriterTarget {
  const s = position.segment;
  return {
    file: s.file,
    segmentId: s.header.segmentId,
    incarnation: s.header.incarnation,
    sealed: position.sealed,
    nextLsn: position.nextLsn,
    endBytes: position.endBytes,
    lastRecordBytes: position.lastRecordBytes,
    cipher: s.cipher,
  };
}

/** The directories above `dir`, from its parent up to the root. */
function ancestorsOf(dir: string): string[] {
  const out: string[] = [];
  for (let d = resolve(dir); dirname(d) !== d; d = dirname(d)) out.push(dirname(d));
  return out;
}

function roundUp(valueBytes: number, blockBytes: number): number {
  return Math.ceil(valueBytes / blockBytes) * blockBytes;
}
