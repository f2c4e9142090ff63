/**
 * A read-only open: `Wal.open(dir, { readOnly: true })`, beside a writer in another process or
 * with none (docs/design.md, "Read-only opens").
 *
 * It takes no lock and writes no byte: no tail repair, no double-write restore, no segment
 * preparation, no temporary file removed, no cut finished. It sees the valid prefix of the log
 * as the files hold it, checked exactly as a writer's open checks it (log-survey.ts). That prefix
 * may include records a writer has written and not yet made durable (their appends have not
 * resolved; a crash may still take them); it never includes a damaged record. A read re-surveys
 * the directory when it starts; a follower polls it.
 */
import { inspect } from 'node:util';
import { WalAbortError, WalClosedError, WalInvalidArgumentError } from '../errors.js';
import { BLOCK_SIZE_BYTES_DEFAULT } from '../format/constants.js';
import { KeyRing } from '../crypto/key-ring.js';
import { SegmentKeys } from '../crypto/segment-keys.js';
import type { Io } from '../io/io.js';
import { NativeIo } from '../io/native-io.js';
import { rescanTail, surveyLog, type LogSurvey, type SurveyedTail } from '../log/log-survey.js';
import { ReaderFiles, readSegments, type ReadPlan, type RecordFilter, type WalRecord, type WalRecordHeader } from '../read/log-reader.js';
import { findLastCheckpoint, type CheckpointFound } from './checkpoint-search.js';
import { CUTS_REMEMBERED_MAX, DurableSignal, TailCache, follow, type CutRecord, type FollowedLog } from './follow.js';
import type { ResolvedOptions } from './options.js';
import { followPlanOf, readPlanOf, splitSignal, type FollowOptions, type ReadOptions } from './read-options.js';

/** How often a follower of a read-only open looks for new records: a tail a tenth of a second behind. */
export const READ_ONLY_POLL_MS = 100;
/** Every this many polls a follower surveys the whole directory (rollovers, truncations), not just the last segment. */
export const READ_ONLY_SURVEY_EVERY_POLLS = 10;
/** A follower's scan buffer, as the writer's followers use. */
const FOLLOW_SCAN_BUFFER_BYTES = 64 * 1024;

/** One segment as a read-only open sees it (`segments()`). */
export interface SegmentInfo {
  path: string;
  segmentId: number;
  formatVersion: number;
  firstLsn: number;
  /** firstLsn − 1 when the segment holds no record. */
  lastLsn: number;
  sealed: boolean;
  sizeBytes: number;
  /** File offset just past the last valid record. */
  endBytes: number;
  /** null for a plaintext segment. */
  encryption: { cipher: 'aes-256-gcm'; keyId: number } | null;
  /** The checkpoint the header names (carried over from earlier segments), or 0. */
  checkpointLsn: number;
}

export interface ReadOnlyStats {
  readOnly: true;
  backend: string;
  directIo: boolean;
  firstLsn: number;
  /** The last valid LSN found (which a writer may not have made durable yet). */
  lastLsn: number;
  segmentCount: number;
  /** Size of the segment files, preallocated space included. */
  bytesOnDisk: number;
  /** Bytes of the last segment's valid records' region (headers, payloads, padding) across segments. */
  recordBytes: number;
}

export class ReadOnlyWal {
  readonly dir: string;
  readonly readOnly = true;
  private readonly io: Io;
  private readonly ownsIo: boolean;
  private readonly keys: SegmentKeys | null;
  private readonly direct: ResolvedOptions['directIo'];
  private survey: LogSurvey;
  private checkpoint: CheckpointFound | null = null;
  private closing: Promise<void> | null = null;
  private readonly readerFiles = new ReaderFiles();
  /** Grows when a poll finds the log truncated (at either end): followers then check their position. */
  private epoch = 0;
  private readonly cuts: CutRecord[] = [];
  private cutsForgottenThroughEpoch = 0;
  private readonly durable = new DurableSignal();
  private readonly tailCache = new TailCache();
  private followers = 0;
  private pollTimer: NodeJS.Timeout | null = null;
  private polls = 0;
  /** A poll that failed: followers end with it. */
  private pollFailure: { error: unknown } | null = null;
  private readonly pollFailed = new AbortController();

  private constructor(dir: string, io: Io, ownsIo: boolean, keys: SegmentKeys | null, direct: ResolvedOptions['directIo'], survey: LogSurvey) {
    this.dir = dir;
    this.io = io;
    this.ownsIo = ownsIo;
    this.keys = keys;
    this.direct = direct;
    this.survey = survey;
  }

  static async open(dir: string, resolved: ResolvedOptions): Promise<ReadOnlyWal> {
    const ownsIo = resolved.io === undefined;
    const io =
      resolved.io ??
      NativeIo.create({ backend: resolved.backend, syncMethod: resolved.syncMethod, queueDepth: resolved.queueDepth, nativeBinding: resolved.nativeBinding });
    let keys: SegmentKeys | null = null;
    try {
      keys = resolved.encryption === undefined ? null : new SegmentKeys(KeyRing.fromOptions(resolved.encryption, 'encryption', resolved.nativeBinding));
      resolved.encryption = undefined;
      const survey = await surveyLog(io, dir, { direct: resolved.directIo, keys });
      const wal = new ReadOnlyWal(dir, io, ownsIo, keys, resolved.directIo, survey);
      try {
        await wal.loadCheckpoint();
      } catch (err) {
        await wal.close().catch(() => undefined);
        throw err;
      }
      return wal;
    } catch (err) {
      keys?.destroy();
      if (ownsIo) await io.close().catch(() => undefined);
      throw err;
    }
  }

  get backend(): string {
    return this.io.backend;
  }

  /** `open`, or `closed` from the call of close() on. A read-only handle has no writer to fail. */
  get state(): 'open' | 'closed' {
    return this.closing === null ? 'open' : 'closed';
  }

  /** Whether the last segment was opened with O_DIRECT (reads bypass the page cache). */
  get directIo(): boolean {
    return this.survey.direct;
  }

  get firstLsn(): number {
    return this.survey.firstLsn;
  }

  /** The last valid LSN found when the log was last surveyed. */
  get lastLsn(): number {
    return this.survey.lastLsn;
  }

  /** Non-zero bytes after the last valid record: a torn write a writer's open would cut, or a write still in flight. */
  get tail(): SurveyedTail | null {
    return this.survey.tail;
  }

  /** The segments as last surveyed, in LSN order. */
  segments(): SegmentInfo[] {
    return this.survey.segments.map((s) => ({
      path: s.path,
      segmentId: s.header.segmentId,
      formatVersion: s.header.formatVersion,
      firstLsn: s.header.firstLsn,
      lastLsn: s.lastLsn,
      sealed: s.sealed,
      sizeBytes: s.sizeBytes,
      endBytes: s.endBytes,
      encryption: s.header.crypto === null ? null : { cipher: 'aes-256-gcm', keyId: s.header.crypto.keyId },
      checkpointLsn: s.header.checkpointLsn,
    }));
  }

  /** The last checkpoint found at open (or at the last `refresh`), or null. */
  lastCheckpoint(): { lsn: number; payload: Buffer } | null {
    return this.checkpoint === null ? null : { lsn: this.checkpoint.lsn, payload: Buffer.from(this.checkpoint.payload) };
  }

  /** Surveys the directory again: what a writer added or removed since. */
  async refresh(): Promise<void> {
    if (this.closing !== null) throw new WalClosedError();
    this.adopt(await surveyLog(this.io, this.dir, { direct: this.direct, keys: this.keys }));
    await this.loadCheckpoint();
  }

  stats(): ReadOnlyStats {
    const segments = this.survey.segments;
    return {
      readOnly: true,
      backend: this.backend,
      directIo: this.directIo,
      firstLsn: this.firstLsn,
      lastLsn: this.lastLsn,
      segmentCount: segments.length,
      bytesOnDisk: segments.reduce((sum, s) => sum + s.sizeBytes, 0),
      recordBytes: segments.reduce((sum, s) => sum + Math.max(0, s.endBytes - s.dataStartBytes), 0),
    };
  }

  /**
   * Yields the valid records with LSN ≥ `fromLsn`, as `Wal.read` does, of the log as surveyed
   * when the iteration starts. `skipTombstoned` is not available here (it needs the writer's
   * tombstone set).
   */
  read(options?: ReadOptions & { payloads?: true }): AsyncGenerator<WalRecord, void, undefined>;
  read(options: ReadOptions & { payloads: false }): AsyncGenerator<WalRecordHeader, void, undefined>;
  read(options?: ReadOptions): AsyncGenerator<WalRecord | WalRecordHeader, void, undefined>;
  read(options?: ReadOptions): AsyncGenerator<WalRecord | WalRecordHeader, void, undefined> {
    const { signal, rest } = splitSignal(options);
    const { fromLsn, fromCheckpoint, filter, skipTombstoned } = readPlanOf(rest);
    if (skipTombstoned !== null) throw new WalInvalidArgumentError('skipTombstoned', 'is not available on a read-only open');
    if (this.closing !== null) throw new WalClosedError();
    return this.readFresh(fromCheckpoint, fromLsn, filter, signal);
  }

  private async *readFresh(
    fromCheckpoint: boolean,
    fromLsn: number,
    filter: RecordFilter,
    signal: AbortSignal | null,
  ): AsyncGenerator<WalRecord | WalRecordHeader, void, undefined> {
    await this.refresh();
    const from = fromCheckpoint ? (this.checkpoint?.lsn ?? 0) + 1 : fromLsn;
    yield* readSegments(
      this.plan(this.survey.segments, from, filter, () => {
        // As Wal.read: an abort stops the read at its next record or file.
        if (signal?.aborted === true) throw new WalAbortError(signal.reason);
        this.checkOpen();
      }),
    );
  }

  /**
   * Yields every record with LSN ≥ `fromLsn` as the files show it, polling every
   * READ_ONLY_POLL_MS for more, until `signal` aborts or the log handle closes. A truncation the
   * writer makes that this follower can place is handled as `Wal.follow` handles it; one it
   * cannot see (a cut followed, within one poll, by appends past the old end) it does not notice.
   */
  follow(options?: FollowOptions & { payloads?: true }): AsyncGenerator<WalRecord, void, undefined>;
  follow(options: FollowOptions & { payloads: false }): AsyncGenerator<WalRecordHeader, void, undefined>;
  follow(options?: FollowOptions): AsyncGenerator<WalRecord | WalRecordHeader, void, undefined>;
  follow(options?: FollowOptions): AsyncGenerator<WalRecord | WalRecordHeader, void, undefined> {
    const { fromLsn, fromCheckpoint, filter, signal } = followPlanOf(options);
    if (this.closing !== null) throw new WalClosedError();
    const from = fromCheckpoint ? (this.checkpoint?.lsn ?? 0) + 1 : fromLsn;
    return this.followPolling(from, filter, signal);
  }

  private async *followPolling(
    fromLsn: number,
    filter: RecordFilter,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<WalRecord | WalRecordHeader, void, undefined> {
    const stop = signal === undefined ? this.pollFailed.signal : AbortSignal.any([signal, this.pollFailed.signal]);
    this.followers += 1;
    this.schedulePoll();
    try {
      yield* follow(this.followedLog(), fromLsn, filter, stop);
      if (this.pollFailure !== null && signal?.aborted !== true) throw this.pollFailure.error;
    } finally {
      this.followers -= 1;
      if (this.followers === 0 && this.pollTimer !== null) {
        clearTimeout(this.pollTimer);
        this.pollTimer = null;
      }
    }
  }

  private schedulePoll(): void {
    if (this.pollTimer !== null || this.closing !== null || this.pollFailure !== null) return;
    this.pollTimer = setTimeout(() => {
      void this.poll().finally(() => {
        this.pollTimer = null;
        if (this.followers > 0) this.schedulePoll();
      });
    }, READ_ONLY_POLL_MS);
  }

  private async poll(): Promise<void> {
    if (this.closing !== null) return;
    try {
      this.polls += 1;
      const survey = this.survey;
      const active = survey.segments.at(-1);
      if (this.polls % READ_ONLY_SURVEY_EVERY_POLLS !== 0 && active !== undefined && survey.position !== null) {
        const rescanned = await rescanTail(this.io, active, survey.position, survey.lastLsn + 1, { direct: this.direct, keys: this.keys });
        if (rescanned !== null) {
          if (rescanned.lastLsn > survey.lastLsn) {
            const segments = survey.segments.slice(0, -1);
            segments.push({ ...active, lastLsn: rescanned.lastLsn, endBytes: rescanned.endBytes });
            this.survey = { ...survey, segments, lastLsn: rescanned.lastLsn, position: rescanned.position, tail: null };
            this.durable.wake();
          }
          return;
        }
      }
      this.adopt(await surveyLog(this.io, this.dir, { direct: this.direct, keys: this.keys }));
    } catch (err) {
      if (this.closing !== null) return;
      this.pollFailure = { error: err };
      this.pollFailed.abort();
      this.durable.wake();
    }
  }

  /** Takes a new survey, telling followers of the truncations it shows. */
  private adopt(next: LogSurvey): void {
    const previous = this.survey;
    let truncated = next.firstLsn > previous.firstLsn;
    let keptLsn = next.lastLsn;
    // A segment that held records this handle saw, now gone or of another incarnation, was cut.
    for (const old of previous.segments) {
      if (old.lastLsn < old.header.firstLsn || old.lastLsn < next.firstLsn) continue;
      const now = next.segments.find((s) => s.path === old.path);
      if (
        now === undefined ||
        now.header.incarnation !== old.header.incarnation ||
        now.header.segmentId !== old.header.segmentId ||
        now.lastLsn < old.lastLsn
      ) {
        keptLsn = Math.min(keptLsn, now === undefined || now.header.incarnation !== old.header.incarnation ? old.header.firstLsn - 1 : now.lastLsn);
        truncated = true;
      }
    }
    if (next.lastLsn < previous.lastLsn) truncated = true;
    this.survey = next;
    if (truncated) {
      this.epoch += 1;
      if (keptLsn < previous.lastLsn) this.cuts.push({ epoch: this.epoch, keptLsn });
      // Followers compare their position with what the cuts kept; only the latest matter to a poller.
      if (this.cuts.length > CUTS_REMEMBERED_MAX) this.cutsForgottenThroughEpoch = this.cuts.shift()!.epoch;
    }
    if (truncated || next.lastLsn !== previous.lastLsn) this.durable.wake();
  }

  private async loadCheckpoint(): Promise<void> {
    const active = this.survey.segments.at(-1);
    this.checkpoint =
      active === undefined
        ? null
        : await findLastCheckpoint(this.survey.checkpoints.scanned ? this.survey.checkpoints : null, active, this.firstLsn, this.lastLsn, (fromLsn, filter) =>
            this.plan(this.survey.segments, fromLsn, filter, () => this.checkOpen()),
          );
  }

  private checkOpen(): void {
    if (this.closing !== null) throw new WalClosedError();
  }

  private plan(segments: ReadPlan['segments'], fromLsn: number, filter: RecordFilter, check: (where: string | number) => void): ReadPlan {
    return { io: this.io, segments, fromLsn, filter, direct: this.survey.direct ? 'required' : 'off', files: this.readerFiles, keys: this.keys, check };
  }

  private followedLog(): FollowedLog {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the view reads the handle's live state
    const log = this;
    return {
      get closed() {
        return log.closing !== null;
      },
      get durableLsn() {
        return log.survey.lastLsn;
      },
      get firstLsn() {
        return log.survey.firstLsn;
      },
      get truncationEpoch() {
        return log.epoch;
      },
      truncationsDone: () => Promise.resolve(),
      cutsAfter: (epoch) => (epoch < log.cutsForgottenThroughEpoch ? null : log.cuts.filter((cut) => cut.epoch > epoch)),
      snapshot: () => log.survey.segments,
      durable: log.durable,
      tail: log.tailCache,
      scanBuffer: () => log.io.allocAligned(FOLLOW_SCAN_BUFFER_BYTES, log.survey.segments.at(-1)?.header.blockSizeBytes ?? BLOCK_SIZE_BYTES_DEFAULT),
      plan: (segments, fromLsn, filter, progress, check) => ({ ...log.plan(segments, fromLsn, filter, check), progress }),
    };
  }

  /** Stops readers and followers (followers end cleanly, readers with WAL_ERR_CLOSED) and releases the Io and keys. Idempotent. */
  close(): Promise<void> {
    if (this.closing === null) this.closing = this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    if (this.pollTimer !== null) clearTimeout(this.pollTimer);
    this.pollTimer = null;
    this.durable.wake();
    await this.readerFiles.closeAll();
    this.keys?.destroy();
    if (this.ownsIo) await this.io.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  [inspect.custom](): string {
    const state = this.state;
    return `ReadOnlyWal { dir: ${JSON.stringify(this.dir)}, state: '${state}', firstLsn: ${this.firstLsn}, lastLsn: ${this.lastLsn}, segments: ${this.survey.segments.length} }`;
  }
}
