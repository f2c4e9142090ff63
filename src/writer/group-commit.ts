/**
 * Group commit: every append made while a write is in flight joins the next batch, and each
 * batch costs one write and one sync (submitted together). Drawn in docs/design.md.
 *
 *   appends ──encode──▶ fill buffer ──flush──▶ in flight (write + sync) ──complete──▶ resolve LSNs
 *                 ▲                                                          │
 *                 └──────────── the other buffer, tail block copied ◀────────┘
 *
 * Two aligned buffers alternate: one is being written, the other is being filled. A record is
 * encoded into the fill buffer when it is appended (the one copy of its payload), its CRC is
 * filled in for the whole batch in one native call at flush. The log stays byte-contiguous:
 * the partly filled last block of a batch is copied to the start of the next buffer and written
 * again, in place, by the next batch (as PostgreSQL rewrites its partial WAL page).
 *
 * A record never spans segments: when the next record does not fit the active segment, the
 * writer waits for its last batch to be durable, has the segment set roll over (seal, name the
 * prepared next segment), and continues there; appends made meanwhile wait in call order.
 *
 * One write is in flight at a time. The next batch shares the previous batch's last block, and
 * two writes in flight to one block could land in either order; one at a time also lets recovery
 * tell a torn tail from a hole (docs/design.md, "Recovery").
 *
 * A failed write or sync rejects every append of its batch with the WalIoError, then the writer
 * is failed: everything queued and every later call rejects with WalDurabilityLostError. Nothing
 * is retried.
 */
import { WalDurabilityLostError, WalOverloadedError } from '../errors.js';
import { LSN_MAX, RECORD_CRC_START_BYTES, RECORD_HEADER_SIZE_BYTES } from '../format/constants.js';
import { encodeRecord, recordSpanBytes, setRecordCrcRange, type RecordMeta } from '../format/record.js';
import type { AlignedBuffer, Io, IoFile } from '../io/io.js';
import type { SegmentSeal } from '../format/segment-header.js';

type Resolve = (value: unknown) => void;
type Reject = (err: unknown) => void;

/** Who to tell when a record is durable: a single append, the last record of an appendBatch, or a sync. */
interface Waiter {
  resolve: Resolve;
  reject: Reject;
  /** For a single append: its LSN. For appendBatch: the shared result object. */
  value: unknown;
}

/** An append that found no room in the fill buffer, kept in call order. */
interface Pending {
  payload: Uint8Array | null;
  meta: RecordMeta;
  waiter: Waiter | null;
  batchResult: BatchResult | null;
}

export interface BatchResult {
  firstLsn: number;
  lastLsn: number;
}

interface Batch {
  buffer: AlignedBuffer;
  lastLsn: number;
  endBytes: number;
  lastRecordBytes: number;
  waiters: Waiter[];
  recordCount: number;
  writeBytes: number;
}

export interface GroupCommitStats {
  batches: number;
  records: number;
  recordBytes: number;
  bytesWritten: number;
  largestBatchRecords: number;
}

/** Where the writer writes next: the active segment and the end of its durable records. */
export interface WriterTarget {
  file: IoFile;
  segmentId: number;
  nextLsn: number;
  /** File offset where the next record goes (end of the recovered prefix). */
  endBytes: number;
  /** Offset of the last record in the segment; 0 when it holds none. */
  lastRecordBytes: number;
}

export interface GroupCommitInit extends WriterTarget {
  io: Io;
  batchBytesMax: number;
  pendingAppendsMax: number;
  /** A record that would end beyond this offset goes to the next segment. */
  segmentSizeBytes: number;
  /** Seals the active segment (all its records durable) and returns the next one. */
  roll: (seal: SegmentSeal) => Promise<WriterTarget>;
  /**
   * Makes a copy of the acknowledged prefix of the tail block durable before a batch rewrites
   * that block (the double-write buffer); null when it is off.
   */
  doubleWrite: ((segmentId: number, blockOffsetBytes: number, bytes: Uint8Array) => Promise<void>) | null;
}

export class GroupCommit {
  private readonly io: Io;
  private file: IoFile;
  private segmentId: number;
  private readonly segmentSizeBytes: number;
  private readonly roll: (seal: SegmentSeal) => Promise<WriterTarget>;
  private readonly doubleWrite: GroupCommitInit['doubleWrite'];
  private readonly blockBytes: number;
  private readonly batchBytesMax: number;
  private readonly pendingAppendsMax: number;
  private readonly buffers: [AlignedBuffer, AlignedBuffer];
  private readonly ranges: Uint32Array;
  private readonly crcs: Uint32Array;
  private readonly recordsPerBatchMax: number;

  private fill: AlignedBuffer;
  /** File offset of fill buffer byte 0; a multiple of the block size. */
  private fillFileOffsetBytes: number;
  /** Bytes used in the fill buffer, including the copied tail block of the previous batch. */
  private fillLengthBytes: number;
  private fillRecordCount = 0;
  private fillWaiters: Waiter[] = [];
  private fillRecordBytes = 0;
  private fillLastRecordBytes = 0;
  /** Bytes at the start of the fill buffer that earlier, durable batches wrote (the tail block). */
  private fillTailBytes = 0;

  private inFlight: Batch | null = null;
  private flushScheduled = false;
  private readonly pending: Pending[] = [];
  private pendingHead = 0;

  private nextLsnValue: number;
  private durableLsnValue: number;
  private durableEndBytesValue: number;
  private durableLastRecordBytes: number;
  private failure: unknown = null;
  /** The next record does not fit the active segment: roll once the last batch is durable. */
  private rollNeeded = false;
  private rolling = false;
  /** Set by truncateAfter: nothing appended after the pause is encoded until it resumes the writer. */
  private paused = false;
  /** Queued appends made before the pause: they are still encoded and made durable first. */
  private pauseExemptCount = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly statsValue: GroupCommitStats = { batches: 0, records: 0, recordBytes: 0, bytesWritten: 0, largestBatchRecords: 0 };

  private constructor(init: GroupCommitInit, buffers: [AlignedBuffer, AlignedBuffer]) {
    this.io = init.io;
    this.file = init.file;
    this.segmentId = init.segmentId;
    this.segmentSizeBytes = init.segmentSizeBytes;
    this.roll = init.roll;
    this.doubleWrite = init.doubleWrite;
    this.blockBytes = init.file.alignmentBytes;
    this.batchBytesMax = init.batchBytesMax;
    this.pendingAppendsMax = init.pendingAppendsMax;
    this.buffers = buffers;
    this.fill = buffers[0];
    this.recordsPerBatchMax = Math.ceil(init.batchBytesMax / RECORD_HEADER_SIZE_BYTES);
    this.ranges = new Uint32Array(2 * this.recordsPerBatchMax);
    this.crcs = new Uint32Array(this.recordsPerBatchMax);
    this.nextLsnValue = init.nextLsn;
    this.durableLsnValue = init.nextLsn - 1;
    this.durableEndBytesValue = init.endBytes;
    this.durableLastRecordBytes = init.lastRecordBytes;
    this.fillFileOffsetBytes = Math.floor(init.endBytes / this.blockBytes) * this.blockBytes;
    this.fillLengthBytes = init.endBytes - this.fillFileOffsetBytes;
    this.fillTailBytes = this.fillLengthBytes;
    this.fillLastRecordBytes = init.lastRecordBytes;
  }

  /** Allocates both buffers and loads the partly filled last block, which the first batch rewrites. */
  static async create(init: GroupCommitInit): Promise<GroupCommit> {
    const block = init.file.alignmentBytes;
    const capacityBytes = Math.ceil((init.batchBytesMax + block) / block) * block;
    const buffers: [AlignedBuffer, AlignedBuffer] = [init.io.allocAligned(capacityBytes, block), init.io.allocAligned(capacityBytes, block)];
    const writer = new GroupCommit(init, buffers);
    await writer.loadTailBlock();
    return writer;
  }

  /** Reads the partly filled last block into the fill buffer: the next batch rewrites it. */
  private async loadTailBlock(): Promise<void> {
    const block = this.blockBytes;
    if (this.fillLengthBytes === 0) return;
    const gotBytes = await this.file.read(this.fill, 0, block, this.fillFileOffsetBytes);
    if (gotBytes < this.fillLengthBytes) throw new Error(`${this.file.path}: tail block shorter than the recovered end`);
    this.fill.bytes.fill(0, this.fillLengthBytes, block);
  }

  /** Moves the writer to a new position (after a rollover or a truncation). */
  private setTarget(target: WriterTarget): void {
    this.file = target.file;
    this.segmentId = target.segmentId;
    this.nextLsnValue = target.nextLsn;
    this.durableLsnValue = target.nextLsn - 1;
    this.durableEndBytesValue = target.endBytes;
    this.durableLastRecordBytes = target.lastRecordBytes;
    this.fill = this.buffers[0];
    this.fillFileOffsetBytes = Math.floor(target.endBytes / this.blockBytes) * this.blockBytes;
    this.fillLengthBytes = target.endBytes - this.fillFileOffsetBytes;
    this.fillTailBytes = this.fillLengthBytes;
    this.fillLastRecordBytes = target.lastRecordBytes;
    this.fillRecordCount = 0;
    this.fillRecordBytes = 0;
  }

  /**
   * Stops encoding new records and resolves once every record already encoded is durable.
   * Appends keep queueing (in call order, without LSNs) until `resume`.
   */
  pause(): Promise<void> {
    this.paused = true;
    this.pauseExemptCount = this.pendingCount;
    return new Promise<void>((resolve) => {
      this.idleWaiters.push(resolve);
      this.drainPending();
      this.scheduleFlush();
      this.notifyIdle();
    });
  }

  /** Continues at `target` after a truncation; queued appends get the LSNs from there. */
  async resume(target: WriterTarget): Promise<void> {
    if (!this.paused || this.inFlight !== null || this.fillRecordCount !== 0) throw new Error('resume of a writer that is not paused and idle');
    this.setTarget(target);
    await this.loadTailBlock();
    this.unpause();
  }

  /** Continues where the writer stopped (a truncation that changed nothing). */
  unpause(): void {
    if (!this.paused || this.pauseExemptCount !== 0) throw new Error('unpause of a writer that is not paused and idle');
    this.paused = false;
    this.drainPending();
    this.scheduleFlush();
  }

  private notifyIdle(): void {
    if (this.inFlight !== null || this.fillRecordCount !== 0 || this.rolling || this.pauseExemptCount !== 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Rolls over once the last batch of the full segment is durable and nothing else is encoded. */
  private maybeRoll(): void {
    if (!this.rollNeeded || this.rolling || this.inFlight !== null || this.fillRecordCount !== 0 || this.failure !== null) return;
    this.rolling = true;
    const seal: SegmentSeal = { lastLsn: this.durableLsnValue, endBytes: this.durableEndBytesValue, lastRecordBytes: this.durableLastRecordBytes };
    this.roll(seal).then(
      (target) => {
        this.rolling = false;
        this.rollNeeded = false;
        this.setTarget(target);
        this.drainPending();
        this.flush();
        this.notifyIdle();
      },
      (err: unknown) => {
        this.rolling = false;
        this.fail(null, err);
      },
    );
  }

  get nextLsn(): number {
    return this.nextLsnValue;
  }

  get durableLsn(): number {
    return this.durableLsnValue;
  }

  /** Readers read up to here: every byte before it is durable. */
  get durableEndBytes(): number {
    return this.durableEndBytesValue;
  }

  get failed(): unknown {
    return this.failure;
  }

  get pendingCount(): number {
    return this.pending.length - this.pendingHead;
  }

  /** Offset of the last durable record in the active segment (0 when none), for sealing. */
  get lastRecordBytes(): number {
    return this.durableLastRecordBytes;
  }

  stats(): GroupCommitStats {
    return { ...this.statsValue };
  }

  /** Appends one record; the promise resolves to its LSN once it is durable. */
  append(payload: Uint8Array, meta: RecordMeta): Promise<number> {
    if (this.failure !== null) return Promise.reject(new WalDurabilityLostError(this.failure));
    return new Promise<number>((resolve, reject) => {
      const waiter: Waiter = { resolve: resolve as Resolve, reject, value: 0 };
      if (this.pendingCount === 0 && this.tryEncode(payload, meta, waiter, null)) {
        this.scheduleFlush();
        return;
      }
      if (this.pendingCount >= this.pendingAppendsMax) {
        reject(new WalOverloadedError(this.pendingAppendsMax));
        return;
      }
      this.pending.push({ payload, meta, waiter, batchResult: null });
    });
  }

  /** Appends records with consecutive LSNs; resolves once the last (and so every one) is durable. */
  appendBatch(payloads: readonly Uint8Array[], meta: RecordMeta): Promise<BatchResult> {
    if (this.failure !== null) return Promise.reject(new WalDurabilityLostError(this.failure));
    const waitingAfter = this.pendingCount + payloads.length;
    if (waitingAfter > this.pendingAppendsMax + this.recordsPerBatchMax) {
      return Promise.reject(new WalOverloadedError(this.pendingAppendsMax));
    }
    return new Promise<BatchResult>((resolve, reject) => {
      const result: BatchResult = { firstLsn: 0, lastLsn: 0 };
      const last = payloads.length - 1;
      for (let i = 0; i <= last; i++) {
        const waiter: Waiter | null = i === last ? { resolve: resolve as Resolve, reject, value: result } : null;
        const payload = payloads[i]!;
        if (this.pendingCount === 0 && this.tryEncode(payload, meta, waiter, result)) continue;
        this.pending.push({ payload, meta, waiter, batchResult: result });
      }
      this.scheduleFlush();
    });
  }

  /** Resolves once every record appended before this call is durable. */
  sync(): Promise<void> {
    if (this.failure !== null) return Promise.reject(new WalDurabilityLostError(this.failure));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve: resolve as Resolve, reject, value: undefined };
      if (this.pendingCount > 0) this.pending.push({ payload: null, meta: DEFAULT_META, waiter, batchResult: null });
      else if (this.fillRecordCount > 0) this.fillWaiters.push(waiter);
      else if (this.inFlight !== null) this.inFlight.waiters.push(waiter);
      else resolve(undefined);
    });
  }

  /**
   * Encodes into the fill buffer if there is room; the caller keeps call order by only trying
   * when nothing is pending.
   */
  private tryEncode(payload: Uint8Array, meta: RecordMeta, waiter: Waiter | null, batchResult: BatchResult | null, queuedBeforePause = false): boolean {
    if ((this.paused && !queuedBeforePause) || this.rollNeeded || this.rolling) return false;
    const spanBytes = recordSpanBytes(payload.byteLength);
    const offsetBytes = this.fillLengthBytes;
    if (this.fillFileOffsetBytes + offsetBytes + spanBytes > this.segmentSizeBytes) {
      this.rollNeeded = true;
      this.maybeRoll();
      return false;
    }
    const recordBytesAfter = this.fillRecordBytes + spanBytes;
    // The first record of a batch always fits: the option check caps a payload below batchBytesMax.
    if (this.fillRecordCount > 0 && (recordBytesAfter > this.batchBytesMax || this.fillRecordCount === this.recordsPerBatchMax)) return false;
    const lsn = this.nextLsnValue;
    if (lsn > LSN_MAX) throw new RangeError('LSN space exhausted');
    encodeRecord(this.fill.words, this.fill.bytes, offsetBytes, payload, lsn, meta, this.segmentId, this.fillRecordCount);
    setRecordCrcRange(this.ranges, this.fillRecordCount, offsetBytes, payload.byteLength);
    this.fillRecordCount += 1;
    this.fillLengthBytes = offsetBytes + spanBytes;
    this.fillRecordBytes = recordBytesAfter;
    this.fillLastRecordBytes = this.fillFileOffsetBytes + offsetBytes;
    this.nextLsnValue = lsn + 1;
    if (batchResult !== null) {
      if (batchResult.firstLsn === 0) batchResult.firstLsn = lsn;
      batchResult.lastLsn = lsn;
    }
    if (waiter !== null) {
      if (batchResult === null) waiter.value = lsn;
      this.fillWaiters.push(waiter);
    }
    return true;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.inFlight !== null) return;
    this.flushScheduled = true;
    // nextTick runs after the current microtask drain, so every append made by promise
    // continuations resolved in this turn joins the batch.
    process.nextTick(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Moves appends that were waiting for room into the fill buffer, in call order. */
  private drainPending(): void {
    while (this.pendingHead < this.pending.length) {
      const p = this.pending[this.pendingHead]!;
      const queuedBeforePause = this.pauseExemptCount > 0;
      if (this.paused && !queuedBeforePause) break;
      if (p.payload === null) {
        // A sync marker: it waits for everything before it, which is now in the fill buffer.
        if (this.fillRecordCount > 0) this.fillWaiters.push(p.waiter!);
        else if (this.inFlight !== null) this.inFlight.waiters.push(p.waiter!);
        else p.waiter!.resolve(undefined);
      } else if (!this.tryEncode(p.payload, p.meta, p.waiter, p.batchResult, queuedBeforePause)) {
        break;
      }
      if (queuedBeforePause) this.pauseExemptCount -= 1;
      this.pending[this.pendingHead] = undefined as unknown as Pending;
      this.pendingHead += 1;
    }
    if (this.pendingHead === this.pending.length) {
      this.pending.length = 0;
      this.pendingHead = 0;
    } else if (this.pendingHead > 4096 && this.pendingHead * 2 > this.pending.length) {
      this.pending.splice(0, this.pendingHead);
      this.pendingHead = 0;
    }
  }

  private flush(): void {
    if (this.inFlight !== null || this.failure !== null || this.rolling || this.fillRecordCount === 0) return;
    const buffer = this.fill;
    const count = this.fillRecordCount;
    this.io.crc32cRanges(buffer.bytes, this.ranges, count, this.crcs);
    const words = buffer.words;
    for (let i = 0; i < count; i++) words[(this.ranges[2 * i]! - RECORD_CRC_START_BYTES) >>> 2] = this.crcs[i]!;
    const block = this.blockBytes;
    const lengthBytes = this.fillLengthBytes;
    const writeBytes = Math.ceil(lengthBytes / block) * block;
    // The buffer was used before: zero its tail so no stale byte reaches the disk.
    buffer.bytes.fill(0, lengthBytes, writeBytes);
    const batch: Batch = {
      buffer,
      lastLsn: this.nextLsnValue - 1,
      endBytes: this.fillFileOffsetBytes + lengthBytes,
      lastRecordBytes: this.fillLastRecordBytes,
      waiters: this.fillWaiters,
      recordCount: count,
      writeBytes,
    };
    this.inFlight = batch;
    this.statsValue.recordBytes += this.fillRecordBytes;
    const file = this.file;
    const fileOffsetBytes = this.fillFileOffsetBytes;
    const write = (): Promise<void> => file.write(buffer, 0, writeBytes, fileOffsetBytes, true);
    const tailBytes = this.fillTailBytes;
    const written = this.doubleWrite !== null && tailBytes > 0
      ? this.doubleWrite(this.segmentId, fileOffsetBytes, buffer.bytes.subarray(0, tailBytes)).then(write)
      : write();
    written.then(
      () => this.complete(batch),
      (err: unknown) => this.fail(batch, err),
    );
    // Start the next batch in the other buffer with the last, partly filled block.
    const next = buffer === this.buffers[0] ? this.buffers[1] : this.buffers[0];
    const tailStartBytes = Math.floor(lengthBytes / block) * block;
    next.bytes.set(buffer.bytes.subarray(tailStartBytes, lengthBytes), 0);
    this.fill = next;
    this.fillFileOffsetBytes += tailStartBytes;
    this.fillLengthBytes = lengthBytes - tailStartBytes;
    this.fillTailBytes = this.fillLengthBytes;
    this.fillRecordCount = 0;
    this.fillRecordBytes = 0;
    this.fillWaiters = [];
    this.drainPending();
  }

  private complete(batch: Batch): void {
    if (this.inFlight !== batch) throw new Error('completion of a batch that is not in flight');
    this.inFlight = null;
    this.durableLsnValue = batch.lastLsn;
    this.durableEndBytesValue = batch.endBytes;
    this.durableLastRecordBytes = batch.lastRecordBytes;
    const s = this.statsValue;
    s.batches += 1;
    s.records += batch.recordCount;
    s.bytesWritten += batch.writeBytes;
    if (batch.recordCount > s.largestBatchRecords) s.largestBatchRecords = batch.recordCount;
    for (const w of batch.waiters) w.resolve(w.value);
    // Appends that arrived while this batch was in flight have waited long enough: write them now.
    this.flush();
    this.drainPending();
    this.maybeRoll();
    this.notifyIdle();
  }

  /** Puts the writer in the failed state from outside (a truncation that failed half-way). */
  poison(err: unknown): void {
    if (this.failure === null) this.fail(null, err);
  }

  private fail(batch: Batch | null, err: unknown): void {
    this.inFlight = null;
    this.failure = err;
    if (batch !== null) for (const w of batch.waiters) w.reject(err);
    const lost = new WalDurabilityLostError(err);
    for (const w of this.fillWaiters) w.reject(lost);
    this.fillWaiters = [];
    this.fillRecordCount = 0;
    for (let i = this.pendingHead; i < this.pending.length; i++) this.pending[i]!.waiter?.reject(lost);
    this.pending.length = 0;
    this.pendingHead = 0;
    this.pauseExemptCount = 0;
    // A paused caller (truncateAfter) learns of the failure from the writer's state.
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

const DEFAULT_META: RecordMeta = { type: 0, tenant: 0, vshard: 0, database: 0 };
