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
import { encodeRecord, recordSpanBytes, type RecordMeta } from '../format/record.js';
import type { AlignedBuffer, Io, IoFile } from '../io/io.js';

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

export interface GroupCommitInit {
  io: Io;
  file: IoFile;
  segmentId: number;
  nextLsn: number;
  /** File offset where the next record goes (end of the recovered prefix). */
  endBytes: number;
  batchBytesMax: number;
  pendingAppendsMax: number;
}

export class GroupCommit {
  private readonly io: Io;
  private readonly file: IoFile;
  private readonly segmentId: number;
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

  private inFlight: Batch | null = null;
  private flushScheduled = false;
  private readonly pending: Pending[] = [];
  private pendingHead = 0;

  private nextLsnValue: number;
  private durableLsnValue: number;
  private durableEndBytesValue: number;
  private failure: unknown = null;
  private readonly statsValue: GroupCommitStats = { batches: 0, records: 0, recordBytes: 0, bytesWritten: 0, largestBatchRecords: 0 };

  private constructor(init: GroupCommitInit, buffers: [AlignedBuffer, AlignedBuffer]) {
    this.io = init.io;
    this.file = init.file;
    this.segmentId = init.segmentId;
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
    this.fillFileOffsetBytes = Math.floor(init.endBytes / this.blockBytes) * this.blockBytes;
    this.fillLengthBytes = init.endBytes - this.fillFileOffsetBytes;
  }

  /** Allocates both buffers and loads the partly filled last block, which the first batch rewrites. */
  static async create(init: GroupCommitInit): Promise<GroupCommit> {
    const block = init.file.alignmentBytes;
    const capacityBytes = Math.ceil((init.batchBytesMax + block) / block) * block;
    const buffers: [AlignedBuffer, AlignedBuffer] = [init.io.allocAligned(capacityBytes, block), init.io.allocAligned(capacityBytes, block)];
    const writer = new GroupCommit(init, buffers);
    if (writer.fillLengthBytes > 0) {
      const gotBytes = await init.file.read(writer.fill, 0, block, writer.fillFileOffsetBytes);
      if (gotBytes < writer.fillLengthBytes) throw new Error(`${init.file.path}: tail block shorter than the recovered end`);
      writer.fill.bytes.fill(0, writer.fillLengthBytes, block);
    }
    return writer;
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

  get idle(): boolean {
    return this.inFlight === null && this.fillRecordCount === 0 && this.pendingCount === 0;
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
  private tryEncode(payload: Uint8Array, meta: RecordMeta, waiter: Waiter | null, batchResult: BatchResult | null): boolean {
    const spanBytes = recordSpanBytes(payload.byteLength);
    const offsetBytes = this.fillLengthBytes;
    const recordBytesAfter = this.fillRecordBytes + spanBytes;
    // The first record of a batch always fits: the option check caps a payload below batchBytesMax.
    if (this.fillRecordCount > 0 && (recordBytesAfter > this.batchBytesMax || this.fillRecordCount === this.recordsPerBatchMax)) return false;
    const lsn = this.nextLsnValue;
    if (lsn > LSN_MAX) throw new RangeError('LSN space exhausted');
    encodeRecord(this.fill.words, this.fill.bytes, offsetBytes, payload, lsn, meta, this.segmentId, this.fillRecordCount);
    const r = 2 * this.fillRecordCount;
    this.ranges[r] = offsetBytes + RECORD_CRC_START_BYTES;
    this.ranges[r + 1] = RECORD_HEADER_SIZE_BYTES - RECORD_CRC_START_BYTES + payload.byteLength;
    this.fillRecordCount += 1;
    this.fillLengthBytes = offsetBytes + spanBytes;
    this.fillRecordBytes = recordBytesAfter;
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
      if (p.payload === null) {
        // A sync marker: it waits for everything before it, which is now in the fill buffer.
        if (this.fillRecordCount > 0) this.fillWaiters.push(p.waiter!);
        else if (this.inFlight !== null) this.inFlight.waiters.push(p.waiter!);
        else p.waiter!.resolve(undefined);
      } else if (!this.tryEncode(p.payload, p.meta, p.waiter, p.batchResult)) {
        break;
      }
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
    if (this.inFlight !== null || this.failure !== null || this.fillRecordCount === 0) return;
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
      waiters: this.fillWaiters,
      recordCount: count,
      writeBytes,
    };
    this.inFlight = batch;
    this.statsValue.recordBytes += this.fillRecordBytes;
    this.file.write(buffer, 0, writeBytes, this.fillFileOffsetBytes, true).then(
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
    const s = this.statsValue;
    s.batches += 1;
    s.records += batch.recordCount;
    s.bytesWritten += batch.writeBytes;
    if (batch.recordCount > s.largestBatchRecords) s.largestBatchRecords = batch.recordCount;
    for (const w of batch.waiters) w.resolve(w.value);
    // Appends that arrived while this batch was in flight have waited long enough: write them now.
    this.flush();
    this.drainPending();
  }

  private fail(batch: Batch, err: unknown): void {
    this.inFlight = null;
    this.failure = err;
    for (const w of batch.waiters) w.reject(err);
    const lost = new WalDurabilityLostError(err);
    for (const w of this.fillWaiters) w.reject(lost);
    this.fillWaiters = [];
    this.fillRecordCount = 0;
    for (let i = this.pendingHead; i < this.pending.length; i++) this.pending[i]!.waiter?.reject(lost);
    this.pending.length = 0;
    this.pendingHead = 0;
  }
}

const DEFAULT_META: RecordMeta = { type: 0, tenant: 0, vshard: 0, database: 0 };
