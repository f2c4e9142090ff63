/**
 * Group commit, pipelined: every append made while writes are in flight joins the next batch;
 * each batch costs one write and one sync (submitted together), and up to `batchesInFlightMax`
 * batches are in flight at once. Drawn in docs/design.md.
 *
 *   appends ──encode──▶ fill buffer ──flush──▶ in flight: batch k, k+1, … (write + sync each)
 *                 ▲                                  │ complete in any order
 *                 └──── a free buffer ◀──────────────┤
 *                                                    ▼
 *                          resolve batch k once k and every batch before it are durable
 *
 * One buffer per batch in flight and one more are allocated at open; the fill buffer is taken
 * from those not in flight. A record is encoded into the fill buffer when it is appended (the one
 * copy of its payload), its CRC is filled in for the whole batch in one native call at flush.
 *
 * Batches in flight together never share a block: two writes in flight to one block could land
 * in either order. A batch whose first record is encoded while the log is idle continues the
 * partly filled last block in place (the block is written again with the old bytes unchanged,
 * as PostgreSQL rewrites its partial WAL page), so one producer costs its records' bytes and no
 * more; a batch begun while another is in flight starts on the next block, after zeros that
 * every reader steps over (docs/format.md, "Pipelined batches").
 *
 * Each record carries its pending index, its position among the records not yet durable when
 * its batch was submitted, so recovery can tell a torn tail (damage among batches in flight
 * together) from a hole (damage to a record that a later batch proves was durable first).
 *
 * An append that finds no room (full fill buffer, a rollover, a truncation ahead of it) waits in
 * the queue, in call order, with a copy of its payload: the caller may reuse its buffer as soon
 * as `append` returns. The queue is bounded by a count and by bytes.
 *
 * A record never spans segments: when the next record does not fit the active segment, the
 * writer waits for every batch in flight to be durable, has the segment set roll over (prepare,
 * seal, name the next segment), and continues there. When the next segment cannot be made for
 * lack of space, the appends waiting for it reject with WalNoSpaceError and the writer goes on:
 * nothing was written, and the next append tries again.
 *
 * A truncateAfter puts a fence into the queue when it is called: appends made after the call
 * wait behind it, without LSNs, until the cut is done; the fence is reached once everything
 * before it is durable (docs/design.md, "truncateAfter (T)", T1).
 *
 * A failed write or sync rejects every append of its batch with the WalIoError, and every append
 * of every other batch not yet resolved (earlier ones in flight included: their own sync can no
 * longer be trusted) and everything queued with WalDurabilityLostError. The writer is then
 * failed: every later call rejects with WalDurabilityLostError. Nothing is retried.
 */
import assert from 'node:assert/strict';
import { WalCorruptionError, WalDurabilityLostError, WalNoSpaceError, WalOverloadedError } from '../errors.js';
import {
  LSN_MAX,
  RECORD_CRC_START_BYTES,
  RECORD_HEADER_SIZE_BYTES,
  RECORD_TAG_BYTES,
  RECORD_TYPE_CHECKPOINT,
  RECORD_TYPE_TIME_ANCHOR,
  RECORD_TYPE_TRANSACTION,
  TRANSACTION_PAYLOAD_BYTES,
  RecordField,
  TIME_ANCHOR_PAYLOAD_BYTES,
} from '../format/constants.js';
import { TWO_POW_32 } from '../format/u64.js';
import { encodeRecord, encodeTransactionStart, recordSpanBytes, setRecordCrcRange, CipherBatch, type RecordCipher, type RecordMeta } from '../format/record.js';
import type { SegmentSeal } from '../format/segment-header.js';
import { readFull, type AlignedBuffer, type Io, type IoFile } from '../io/io.js';
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { writeCapacityBytes } from '../segment/segment-file.js';
import type { LogEvents } from './channels.js';
import type { SlowSyncWarning } from './slow-sync-warning.js';

type Resolve = (value: unknown) => void;
type Reject = (err: unknown) => void;

/** Who to tell when a record is durable: a single append, the last record of an appendBatch, or a sync. */
interface Waiter {
  resolve: Resolve;
  reject: Reject;
  /** For a single append: its LSN. For appendBatch: the shared result object. */
  value: unknown;
}

/** A truncateAfter's (or rotateKey's) place in the queue: appends behind it wait until it is done. */
export interface Fence {
  /** Resolves once everything queued before the fence is durable (or the writer failed). */
  readonly reached: Promise<void>;
}

class QueueFence implements Fence {
  readonly reached: Promise<void>;
  isReached = false;
  private resolveReached!: () => void;

  /** `movesLsns`: what the fence's owner does may change the next LSN (a truncateAfter; not a rotateKey). */
  constructor(readonly movesLsns: boolean) {
    this.reached = new Promise<void>((resolve) => (this.resolveReached = resolve));
  }

  markReached(): void {
    if (this.isReached) return;
    this.isReached = true;
    this.resolveReached();
  }
}

/** What waits in the queue, in call order. */
type Queued =
  | { kind: 'record'; payload: Uint8Array; meta: RecordMeta; waiter: Waiter | null; batchResult: BatchResult | null }
  | { kind: 'transaction'; payloads: Uint8Array[]; metas: readonly RecordMeta[]; payloadBytes: number; waiter: Waiter; result: BatchResult }
  | { kind: 'sync'; waiter: Waiter }
  | { kind: 'fence'; fence: QueueFence };

export interface BatchResult {
  firstLsn: number;
  lastLsn: number;
}

interface Batch {
  buffer: AlignedBuffer;
  firstLsn: number;
  lastLsn: number;
  endBytes: number;
  lastRecordBytes: number;
  waiters: Waiter[];
  recordCount: number;
  /** Bytes of its records (headers, payloads, padding), without the tail block it rewrites. */
  recordBytes: number;
  writeBytes: number;
  submittedNs: bigint;
  /** Submission to completion of its write and sync; 0 until it completes. */
  syncLatencyNs: number;
  /** Its write and sync completed (successfully or not); its buffer is free again. */
  completed: boolean;
  /** Its waiters were rejected: it failed, or a batch before it did. It never resolves. */
  rejected: boolean;
  segmentId: number;
  fileOffsetBytes: number;
  /** A copy of what it wrote, taken at its completion for the durable-bytes sink (followers). */
  written: Uint8Array | null;
}

/**
 * Receives the bytes of each batch once it is durable, in LSN order (followers read them from
 * memory instead of the device). Asked at each completion whether it wants them, so that the copy
 * is only made while someone reads.
 */
export interface DurableBytesSink {
  readonly wanted: boolean;
  publish(segmentId: number, fileOffsetBytes: number, bytes: Uint8Array): void;
}

/**
 * What the writer did since the log was opened (counters start at zero on every open). Batches
 * and records count once durable; docs/observability.md lists every field with its unit.
 */
export interface GroupCommitStats {
  /** Batches durable. */
  batches: number;
  /** Records durable, ringwal's own (time anchors, checkpoints, transaction records) included. */
  records: number;
  /** Bytes of the records of every batch submitted (headers, payloads, padding to 8 bytes). */
  recordBytes: number;
  /** Bytes written by durable batches: whole blocks, rewritten tail blocks included. */
  bytesWritten: number;
  /** Records per durable batch: the mean (records ÷ batches) and the largest; zeros before the first. */
  recordsPerBatch: { mean: number; max: number };
  /** Bytes of records per durable batch, as `recordBytes` counts them: the mean and the largest. */
  recordBytesPerBatch: { mean: number; max: number };
  /** Batches submitted while others were in flight: each started on a fresh block. */
  pipelinedBatches: number;
  /** Zero bytes skipped by those fresh starts (the rest of the block before each). */
  gapBytes: number;
  /** Batches submitted and not yet resolved now (a completed one waiting for an earlier one included). */
  batchesInFlight: number;
  /** The most batches that were in flight at once. */
  batchesInFlightPeak: number;
  /**
   * Submission to completion of each batch's write and sync (failed ones included), in
   * microseconds, from an HdrHistogram (perf_hooks.createHistogram, 3 significant digits): its
   * buckets are allocated once, so its memory stays fixed however many batches it counts.
   */
  syncLatencyUs: { count: number; p50: number; p99: number; max: number };
}

/** Where the writer writes next: the active segment and the end of its durable records. */
export interface WriterTarget {
  file: IoFile;
  segmentId: number;
  /** The segment's incarnation, which double-write copies name. */
  incarnation: number;
  /** The segment is sealed (it ends a log opened after a crash, or a cut): the next record rolls over. */
  sealed: boolean;
  nextLsn: number;
  /** File offset where the next record goes (end of the recovered prefix). */
  endBytes: number;
  /** Offset of the last record in the segment; 0 when it holds none. */
  lastRecordBytes: number;
  /**
   * The key of the segment's records when they are encrypted (the writer began the segment
   * itself: docs/design.md, "Nonces"), else null. A writer that encrypts only writes to such
   * segments: any other target is sealed.
   */
  cipher: RecordCipher | null;
}

export type DoubleWriteRecorder = (segmentId: number, incarnation: number, blockOffsetBytes: number, bytes: Uint8Array) => Promise<void>;

export interface GroupCommitInit extends WriterTarget {
  io: Io;
  batchBytesMax: number;
  /** Batches in flight at once; 1 writes one batch at a time. */
  batchesInFlightMax: number;
  pendingAppendsMax: number;
  pendingBytesMax: number;
  /** A record that would end beyond this offset goes to the next segment. */
  segmentSizeBytes: number;
  /**
   * Seals the active segment (all its records durable) and returns the next one. Rejects with
   * WalNoSpaceError, having changed nothing, when the next segment cannot be made for lack of space.
   */
  roll: (seal: SegmentSeal, checkpointLsn: number) => Promise<WriterTarget>;
  /**
   * Makes a copy of the acknowledged prefix of the tail block durable before a batch rewrites
   * that block (the double-write buffer); null when it is off.
   */
  doubleWrite: DoubleWriteRecorder | null;
  /**
   * Called once per batch, at the very end of its completion, after the writer has submitted the
   * batch that was waiting, if any. `advanceBytes`: how far this batch moved the durable end of
   * the active segment; `batchWaiting`: whether records are still encoded or queued that no
   * submitted write carries. The segment set paces the next segment's zero-fill by it.
   */
  onBatchComplete?: (advanceBytes: number, batchWaiting: boolean) => void;
  durableBytes?: DurableBytesSink;
  /** Time anchors at the start of a batch, at most every `intervalMs` (0: none). */
  timeAnchorIntervalMs?: number;
  /** The LSN of the log's last checkpoint when the writer starts (0: none). */
  lastCheckpointLsn?: number;
  /** Every record this writer writes is encrypted (each target it writes to has a cipher). */
  encrypt?: boolean;
  /** Publishes the log's events (channels.ts). */
  events: LogEvents;
  /** Warns of a batch whose write and sync took too long; null when `slowSyncWarningMs` is off. */
  slowSyncWarning: SlowSyncWarning | null;
}

/**
 * Records a batch must have for submitFill to encrypt them in the thread pool (a real disk, one
 * batch in flight at most): fewer are encrypted on the event loop, where they cost less than the
 * round trip (about 20 µs against 250 ns per small record).
 */
const ASYNC_SEAL_RECORDS_MIN = 256;

const ANCHOR_META: RecordMeta = Object.freeze({ type: RECORD_TYPE_TIME_ANCHOR, tenant: 0, vshard: 0, database: 0 });
const TRANSACTION_META: RecordMeta = Object.freeze({ type: RECORD_TYPE_TRANSACTION, tenant: 0, vshard: 0, database: 0 });

/** Copies of `payloads[from..]`, views of one new buffer (one allocation for a whole call). */
function copiesInOne(payloads: readonly Uint8Array[], from: number): Uint8Array[] {
  let totalBytes = 0;
  for (let k = from; k < payloads.length; k++) totalBytes += payloads[k]!.byteLength;
  const copy = new Uint8Array(totalBytes);
  const views: Uint8Array[] = [];
  let atBytes = 0;
  for (let k = from; k < payloads.length; k++) {
    const p = payloads[k]!;
    copy.set(p, atBytes);
    views.push(copy.subarray(atBytes, atBytes + p.byteLength));
    atBytes += p.byteLength;
  }
  return views;
}

/**
 * The bytes a transaction of these payloads takes in a batch, its transaction record included;
 * `tagBytes` per record when they are encrypted.
 */
export function transactionSpanBytes(payloads: readonly Uint8Array[], tagBytes = 0): number {
  let spanBytes = recordSpanBytes(TRANSACTION_PAYLOAD_BYTES + tagBytes);
  for (const p of payloads) spanBytes += recordSpanBytes(p.byteLength + tagBytes);
  return spanBytes;
}

export class GroupCommit {
  private readonly io: Io;
  private file: IoFile;
  private segmentId: number;
  private incarnation: number;
  private readonly segmentSizeBytes: number;
  private readonly roll: (seal: SegmentSeal, checkpointLsn: number) => Promise<WriterTarget>;
  private readonly doubleWrite: DoubleWriteRecorder | null;
  private readonly onBatchComplete: ((advanceBytes: number, batchWaiting: boolean) => void) | undefined;
  private readonly durableBytes: DurableBytesSink | undefined;
  private readonly timeAnchorIntervalMs: number;
  /** When the last anchor was encoded (ms, never falling); -Infinity before the first. */
  private lastAnchorMs = -Infinity;
  private readonly anchorPayload = new Uint8Array(TIME_ANCHOR_PAYLOAD_BYTES);
  private readonly transactionPayload = new Uint8Array(TRANSACTION_PAYLOAD_BYTES);
  /** The LSN of the last checkpoint encoded (or found at open); 0 when there is none. */
  private lastCheckpointLsnValue: number;
  private readonly blockBytes: number;
  private readonly batchBytesMax: number;
  private readonly batchesInFlightMax: number;
  private readonly pendingAppendsMax: number;
  private readonly pendingBytesMax: number;
  /** Buffers no batch in flight is written from; the fill buffer is taken from here. */
  private readonly freeBuffers: AlignedBuffer[];
  private readonly ranges: Uint32Array;
  private readonly crcs: Uint32Array;
  /** RECORD_TAG_BYTES when this writer encrypts, else 0: the bytes each record's payload grows by. */
  readonly tagBytes: number;
  private cipher: RecordCipher | null = null;
  /** Records of the fill already encrypted (sealed ahead, one batch in flight at most). */
  private fillSealedCount = 0;
  private sealAheadScheduled = false;
  /** A seal of the fill's records runs in the thread pool: the fill is not submitted meanwhile. */
  private sealInFlight = false;
  /** The next submission may encrypt in the pool (false right after one did: the rest goes now). */
  private sealAsyncFirst = true;
  /** One batch in flight at most, on a real disk: batches may be encrypted in the thread pool. */
  private readonly sealInPool: boolean;
  /** The AEAD ranges and nonces of a batch (room for none when the writer does not encrypt). */
  private readonly cipherBatch: CipherBatch;
  private readonly recordsPerBatchMax: number;

  /** The partly filled last block of everything submitted, which an in-place batch starts with. */
  private readonly tailBlock: AlignedBuffer;
  /** File offset just past the last record submitted (or recovered): where the log ends. */
  private submittedEndBytes: number;

  private fill: AlignedBuffer | null = null;
  /** The fill buffer continues the last block in place (the log was idle when it began). */
  private fillInPlace = false;
  /** File offset of fill buffer byte 0; a multiple of the block size. */
  private fillFileOffsetBytes = 0;
  /** Bytes used in the fill buffer, including the copied tail block of the previous batch. */
  private fillLengthBytes = 0;
  private fillRecordCount = 0;
  private fillWaiters: Waiter[] = [];
  private fillRecordBytes = 0;
  private fillLastRecordBytes = 0;
  /** Bytes at the start of the fill buffer that earlier, durable batches wrote (the tail block). */
  private fillTailBytes = 0;

  /** Batches submitted and not yet resolved or rejected, in LSN order (completed ones wait for those before). */
  private readonly inFlight: Batch[] = [];
  private flushScheduled = false;
  /** close() waiting for the batches in flight to complete. */
  private settledWaiters: (() => void)[] = [];
  private readonly queue: Queued[] = [];
  private queueHead = 0;
  /** Records waiting in the queue, and the bytes of their payload copies. */
  private queuedRecords = 0;
  private queuedBytes = 0;
  /** Fences in the queue: while there is one, the LSN of a new append is not known yet. */
  /** Fences queued whose owner may change the next LSN (nextCallLsn is unknown behind one). */
  private queuedFences = 0;

  private nextLsnValue: number;
  private durableLsnValue: number;
  private durableEndBytesValue: number;
  private durableLastRecordBytes: number;
  private failure: unknown = null;
  /** The next record does not fit the active segment (or it is sealed): roll once it is durable. */
  private rollNeeded: boolean;
  /** The active segment is sealed and takes no record: every append waits for a rollover. */
  private activeSealed = false;
  private rolling = false;
  private readonly syncLatency: RecordableHistogram = createHistogram();
  private readonly statsValue = {
    batches: 0,
    records: 0,
    recordBytes: 0,
    bytesWritten: 0,
    largestBatchRecords: 0,
    /** Bytes of the records of durable batches (recordBytes counts them at submission). */
    durableRecordBytes: 0,
    largestBatchRecordBytes: 0,
    pipelinedBatches: 0,
    gapBytes: 0,
    batchesInFlightPeak: 0,
  };
  /** Publishes the log's events; the Wal publishes the ones it sees (rollovers, truncations) on it too. */
  readonly events: LogEvents;
  private readonly slowSyncWarning: SlowSyncWarning | null;

  private constructor(init: GroupCommitInit, buffers: AlignedBuffer[], tailBlock: AlignedBuffer, tailRead: AlignedBuffer | null) {
    this.io = init.io;
    this.file = init.file;
    this.segmentId = init.segmentId;
    this.incarnation = init.incarnation;
    this.segmentSizeBytes = init.segmentSizeBytes;
    this.roll = init.roll;
    this.doubleWrite = init.doubleWrite;
    this.onBatchComplete = init.onBatchComplete;
    this.durableBytes = init.durableBytes;
    this.events = init.events;
    this.slowSyncWarning = init.slowSyncWarning;
    this.timeAnchorIntervalMs = init.timeAnchorIntervalMs ?? 0;
    this.lastCheckpointLsnValue = init.lastCheckpointLsn ?? 0;
    this.blockBytes = init.file.alignmentBytes;
    this.batchBytesMax = init.batchBytesMax;
    this.batchesInFlightMax = init.batchesInFlightMax;
    this.pendingAppendsMax = init.pendingAppendsMax;
    this.pendingBytesMax = init.pendingBytesMax;
    assert.equal(buffers.length, init.batchesInFlightMax + 1, 'one buffer per batch in flight and one to fill');
    this.freeBuffers = buffers.slice();
    this.tailBlock = tailBlock;
    this.recordsPerBatchMax = Math.ceil(init.batchBytesMax / RECORD_HEADER_SIZE_BYTES);
    this.ranges = new Uint32Array(2 * this.recordsPerBatchMax);
    this.crcs = new Uint32Array(this.recordsPerBatchMax);
    this.tagBytes = init.encrypt === true ? RECORD_TAG_BYTES : 0;
    this.cipherBatch = new CipherBatch(this.tagBytes === 0 ? 0 : this.recordsPerBatchMax);
    // The simulator's runs must not depend on thread timing; with several batches in flight a
    // submission is not to an idle log, and its pending indexes must be those of its write.
    this.sealInPool = this.tagBytes > 0 && init.batchesInFlightMax === 1 && init.io.backend !== 'sim';
    this.nextLsnValue = init.nextLsn;
    this.durableLsnValue = init.nextLsn - 1;
    this.durableEndBytesValue = init.endBytes;
    this.durableLastRecordBytes = init.lastRecordBytes;
    this.submittedEndBytes = init.endBytes;
    this.rollNeeded = false;
    this.setTarget(init, tailRead);
  }

  /** Allocates the buffers and loads the partly filled last block, which the first batch rewrites. */
  static async create(init: GroupCommitInit): Promise<GroupCommit> {
    assert(Number.isInteger(init.batchesInFlightMax) && init.batchesInFlightMax >= 1, 'at least one batch in flight');
    const block = init.file.alignmentBytes;
    const capacityBytes = writeCapacityBytes(init.batchBytesMax, block);
    const buffers: AlignedBuffer[] = [];
    for (let i = 0; i <= init.batchesInFlightMax; i++) buffers.push(init.io.allocAligned(capacityBytes, block));
    // Every batch is written from one of these, for the life of the log: registered with the
    // ring they save pinning up to batchBytesMax of pages per write (8-11 % on a 4 MiB write,
    // bench/results/2026-12-02-fixed-buffers.md).
    init.io.registerBuffers(buffers);
    const tail = await readTailBlock(init.io, init);
    return new GroupCommit(init, buffers, init.io.allocAligned(block, block), tail);
  }

  /**
   * Moves the writer to `target` (after open, a rollover or a truncation). `tailRead` holds the
   * target's partly filled last block, read beforehand, so that no state changes before the I/O
   * it depends on has succeeded.
   */
  private setTarget(target: WriterTarget, tailRead: AlignedBuffer | null): void {
    assert.equal(this.inFlight.length, 0, 'the writer moves only when nothing is in flight');
    assert.equal(this.fillRecordCount, 0, 'the writer moves only when nothing is encoded');
    this.file = target.file;
    this.segmentId = target.segmentId;
    this.incarnation = target.incarnation;
    this.nextLsnValue = target.nextLsn;
    this.durableLsnValue = target.nextLsn - 1;
    this.durableEndBytesValue = target.endBytes;
    this.durableLastRecordBytes = target.lastRecordBytes;
    this.submittedEndBytes = target.endBytes;
    this.releaseFill();
    this.fillLastRecordBytes = target.lastRecordBytes;
    this.activeSealed = target.sealed;
    this.rollNeeded = target.sealed;
    // Rule 1 of the nonce argument: an encrypting writer writes only where it holds the key of a
    // segment it began; a plaintext writer never writes into an encrypted segment.
    assert(target.sealed || (target.cipher !== null) === this.tagBytes > 0, 'a writer writes only to a segment encrypted as it encrypts');
    this.cipher = target.cipher;
    const tailBytes = target.sealed ? 0 : target.endBytes % this.blockBytes;
    this.tailBlock.bytes.fill(0);
    if (tailBytes > 0) {
      assert(tailRead !== null, 'a target that ends inside a block needs its tail block');
      this.tailBlock.bytes.set(tailRead.bytes.subarray(0, tailBytes), 0);
    }
  }

  /** Gives the fill buffer back (it holds no record). */
  private releaseFill(): void {
    assert.equal(this.fillRecordCount, 0, 'a fill buffer with records is written, not released');
    if (this.fill !== null) this.freeBuffers.push(this.fill);
    this.fill = null;
    this.fillLengthBytes = 0;
    this.fillTailBytes = 0;
    this.fillRecordBytes = 0;
  }

  get nextLsn(): number {
    return this.nextLsnValue;
  }

  /**
   * The LSN the next append will get, counting the appends still queued; null while a fence is
   * queued (a truncateAfter decides it).
   */
  get nextCallLsn(): number | null {
    return this.queuedFences > 0 ? null : this.nextLsnValue + this.queuedRecords;
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

  /** Appends waiting in the queue. */
  get pendingCount(): number {
    return this.queuedRecords;
  }

  /** Offset of the last durable record in the active segment (0 when none), for sealing. */
  get lastRecordBytes(): number {
    return this.durableLastRecordBytes;
  }

  stats(): GroupCommitStats {
    const h = this.syncLatency;
    const us = (ns: number): number => Math.round(ns / 1000);
    const s = this.statsValue;
    const perBatch = (total: number): number => (s.batches === 0 ? 0 : total / s.batches);
    return {
      batches: s.batches,
      records: s.records,
      recordBytes: s.recordBytes,
      bytesWritten: s.bytesWritten,
      recordsPerBatch: { mean: perBatch(s.records), max: s.largestBatchRecords },
      recordBytesPerBatch: { mean: perBatch(s.durableRecordBytes), max: s.largestBatchRecordBytes },
      pipelinedBatches: s.pipelinedBatches,
      gapBytes: s.gapBytes,
      batchesInFlight: this.inFlight.length,
      batchesInFlightPeak: s.batchesInFlightPeak,
      syncLatencyUs:
        h.count === 0 ? { count: 0, p50: 0, p99: 0, max: 0 } : { count: h.count, p50: us(h.percentile(50)), p99: us(h.percentile(99)), max: us(h.max) },
    };
  }

  private get queueLength(): number {
    return this.queue.length - this.queueHead;
  }

  private get idle(): boolean {
    return this.inFlight.length === 0 && this.fillRecordCount === 0 && !this.rolling;
  }

  /** Appends one record; the promise resolves to its LSN once it is durable. */
  append(payload: Uint8Array, meta: RecordMeta): Promise<number> {
    if (this.failure !== null) return Promise.reject(new WalDurabilityLostError(this.failure));
    return new Promise<number>((resolve, reject) => {
      const waiter: Waiter = { resolve: resolve as Resolve, reject, value: 0 };
      if (this.queueLength === 0 && this.tryEncode(payload, meta, waiter, null)) {
        this.scheduleFlush();
        return;
      }
      if (this.queuedRecords + 1 > this.pendingAppendsMax || this.queuedBytes + payload.byteLength > this.pendingBytesMax) {
        reject(new WalOverloadedError(this.pendingAppendsMax, this.pendingBytesMax));
        return;
      }
      // A copy (for a Buffer, slice() would be a view of the caller's memory).
      this.enqueueRecord(new Uint8Array(payload), meta, waiter, null);
      this.maybeRoll();
    });
  }

  /** Appends records with consecutive LSNs; resolves once the last (and so every one) is durable. */
  appendBatch(payloads: readonly Uint8Array[], meta: RecordMeta): Promise<BatchResult> {
    if (this.failure !== null) return Promise.reject(new WalDurabilityLostError(this.failure));
    let totalBytes = 0;
    for (const p of payloads) totalBytes += p.byteLength;
    // Checked for the whole batch first, so a batch is never half refused. A batch may exceed
    // the count by one batch's worth of records, since most of it is encoded at once.
    if (
      this.queuedRecords + payloads.length > this.pendingAppendsMax + this.recordsPerBatchMax ||
      this.queuedBytes + totalBytes > this.pendingBytesMax + this.batchBytesMax
    ) {
      return Promise.reject(new WalOverloadedError(this.pendingAppendsMax, this.pendingBytesMax));
    }
    return new Promise<BatchResult>((resolve, reject) => {
      const result: BatchResult = { firstLsn: 0, lastLsn: 0 };
      const last = payloads.length - 1;
      let i = 0;
      for (; i <= last; i++) {
        const waiter: Waiter | null = i === last ? { resolve: resolve as Resolve, reject, value: result } : null;
        if (this.queueLength > 0 || !this.tryEncode(payloads[i]!, meta, waiter, result)) break;
      }
      if (i <= last) {
        // The rest waits: copied so the caller may reuse its own buffers at once.
        const copies = copiesInOne(payloads, i);
        for (let k = i; k <= last; k++) {
          const waiter: Waiter | null = k === last ? { resolve: resolve as Resolve, reject, value: result } : null;
          this.enqueueRecord(copies[k - i]!, meta, waiter, result);
        }
        // A full fill buffer goes now when a slot is free, rather than after this turn.
        this.flush();
        this.maybeRoll();
      }
      this.scheduleFlush();
    });
  }

  /**
   * The most bytes of records (transactionSpanBytes) a transaction may take: it must fit one
   * batch, and one empty segment.
   */
  get transactionBytesMax(): number {
    return Math.min(this.batchBytesMax, this.segmentSizeBytes - this.blockBytes);
  }

  /**
   * Appends a transaction record and the records it announces, all in one batch (the caller
   * checked that they fit: transactionBytesMax); resolves once they are durable.
   */
  appendTransaction(payloads: readonly Uint8Array[], metas: readonly RecordMeta[]): Promise<BatchResult> {
    if (this.failure !== null) return Promise.reject(new WalDurabilityLostError(this.failure));
    assert.equal(payloads.length, metas.length, 'one meta per payload');
    assert(transactionSpanBytes(payloads, this.tagBytes) <= this.transactionBytesMax, 'a transaction fits one batch');
    let payloadBytes = 0;
    for (const p of payloads) payloadBytes += p.byteLength;
    // Like appendBatch: checked whole, with room for one batch above the limits.
    if (
      this.queuedRecords + payloads.length + 1 > this.pendingAppendsMax + this.recordsPerBatchMax ||
      this.queuedBytes + payloadBytes > this.pendingBytesMax + this.batchBytesMax
    ) {
      return Promise.reject(new WalOverloadedError(this.pendingAppendsMax, this.pendingBytesMax));
    }
    return new Promise<BatchResult>((resolve, reject) => {
      const result: BatchResult = { firstLsn: 0, lastLsn: 0 };
      const waiter: Waiter = { resolve: resolve as Resolve, reject, value: result };
      if (this.queueLength === 0 && this.tryEncodeTransaction(payloads, metas, waiter, result)) {
        this.scheduleFlush();
        return;
      }
      // It waits: copied so the caller may reuse its own buffers at once.
      this.queue.push({ kind: 'transaction', payloads: copiesInOne(payloads, 0), metas, payloadBytes, waiter, result });
      this.queuedRecords += payloads.length + 1;
      this.queuedBytes += payloadBytes;
      this.flush();
      this.maybeRoll();
      this.scheduleFlush();
    });
  }

  private enqueueRecord(payload: Uint8Array, meta: RecordMeta, waiter: Waiter | null, batchResult: BatchResult | null): void {
    this.queue.push({ kind: 'record', payload, meta, waiter, batchResult });
    this.queuedRecords += 1;
    this.queuedBytes += payload.byteLength;
  }

  /** Resolves once every record appended before this call is durable. */
  sync(): Promise<void> {
    if (this.failure !== null) return Promise.reject(new WalDurabilityLostError(this.failure));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve: resolve as Resolve, reject, value: undefined };
      if (this.queueLength > 0) this.queue.push({ kind: 'sync', waiter });
      else this.waitForEncoded(waiter);
    });
  }

  /** Attaches a sync to the batch holding the last record encoded so far, or resolves it. */
  private waitForEncoded(waiter: Waiter): void {
    if (this.fillRecordCount > 0) this.fillWaiters.push(waiter);
    else if (this.inFlight.length > 0) this.inFlight[this.inFlight.length - 1]!.waiters.push(waiter);
    else waiter.resolve(undefined);
  }

  /**
   * T1: a fence in call order. Every append made after this call waits behind it; the fence is
   * reached once everything before it is durable. The caller must pass it (passFence) or fail
   * the writer (poison).
   */
  fence(movesLsns = true): Fence {
    const fence = new QueueFence(movesLsns);
    this.queue.push({ kind: 'fence', fence });
    if (movesLsns) this.queuedFences += 1;
    // What is encoded must be written for the fence to be reached.
    this.scheduleFlush();
    this.checkFence();
    return fence;
  }

  /**
   * Lets the appends behind `fence` go on: at `target` (where a truncation left the log) or, with
   * null, where the writer stopped. The target's tail block is read before anything changes; if
   * that read fails the writer is failed (the log on disk is fine; a reopen continues it).
   */
  async passFence(fence: Fence, target: WriterTarget | null): Promise<void> {
    if (this.failure !== null) return;
    const head = this.queue[this.queueHead];
    assert(head?.kind === 'fence', 'passFence with no fence at the head of the queue');
    assert(head.fence === fence, 'passFence of a fence that is not the first one queued');
    assert(head.fence.isReached, 'passFence before the fence was reached');
    assert(this.idle, 'passFence while a batch is encoded or in flight');
    if (target !== null) {
      let tail: AlignedBuffer | null;
      try {
        tail = await readTailBlock(this.io, target);
      } catch (err) {
        this.fail(err);
        return;
      }
      if (this.failure !== null) return;
      this.setTarget(target, tail);
    }
    this.queue[this.queueHead] = undefined as unknown as Queued;
    this.queueHead += 1;
    if (head.fence.movesLsns) this.queuedFences -= 1;
    this.drainQueue();
    this.scheduleFlush();
    this.maybeRoll();
    this.checkFence();
  }

  /** Marks the fence at the head of the queue reached once nothing before it is left to write. */
  private checkFence(): void {
    const head = this.queue[this.queueHead];
    if (head?.kind === 'fence' && this.idle) head.fence.markReached();
  }

  /**
   * Rolls over once a record waits for room in a new segment and everything of the active
   * segment is durable.
   */
  private maybeRoll(): void {
    if (!this.rollNeeded || this.rolling || !this.idle || this.failure !== null) return;
    const head = this.queue[this.queueHead]?.kind;
    if (head !== 'record' && head !== 'transaction') return;
    this.rolling = true;
    const seal: SegmentSeal = { lastLsn: this.durableLsnValue, endBytes: this.durableEndBytesValue, lastRecordBytes: this.durableLastRecordBytes };
    // Everything is durable, the last checkpoint encoded included: the next header may name it.
    this.roll(seal, this.lastCheckpointLsnValue).then(
      (target) => {
        this.rolling = false;
        // A new segment starts on a block boundary: there is no tail block to read.
        this.setTarget(target, null);
        this.drainQueue();
        this.flush();
        this.checkFence();
      },
      (err: unknown) => {
        this.rolling = false;
        if (err instanceof WalNoSpaceError) this.rejectWaitingForRoll(err);
        else this.fail(err);
      },
    );
  }

  /**
   * The next segment could not be made for lack of space: the appends queued before the first
   * fence needed it, and reject; syncs among them resolve (every record in the log before them
   * is durable: a rollover starts only then). The writer stays as it was, so the next append
   * tries the rollover again.
   */
  private rejectWaitingForRoll(err: WalNoSpaceError): void {
    // The record that did not fit sets the flag again when it is appended once more.
    this.rollNeeded = this.activeSealed;
    while (this.queueHead < this.queue.length) {
      const item = this.queue[this.queueHead]!;
      if (item.kind === 'fence') break;
      if (item.kind === 'sync') {
        item.waiter.resolve(undefined);
      } else if (item.kind === 'transaction') {
        // Nothing of it was encoded: a transaction is all or nothing.
        this.queuedRecords -= item.payloads.length + 1;
        this.queuedBytes -= item.payloadBytes;
        item.waiter.reject(err);
      } else {
        this.queuedRecords -= 1;
        this.queuedBytes -= item.payload.byteLength;
        const result = item.batchResult;
        if (item.waiter !== null) {
          const accepted = result !== null && result.firstLsn !== 0 ? { ...result } : null;
          item.waiter.reject(accepted === null ? err : new WalNoSpaceError(err, accepted, { cause: err.cause }));
        }
      }
      this.queue[this.queueHead] = undefined as unknown as Queued;
      this.queueHead += 1;
    }
    this.compactQueue();
    this.checkFence();
  }

  /**
   * Decides where the batch being filled starts, while it holds no record yet: in place, on the
   * partly filled last block, when it will be submitted to an idle log: when nothing is in
   * flight now (nothing can be submitted before this batch, so that stays true until it is), or
   * when one batch in flight is the limit (it is submitted only once that one is done). Else on
   * the next block, so that it never shares a block with a batch in flight.
   */
  private startFill(): void {
    if (this.fill === null) {
      const buffer = this.freeBuffers.pop();
      assert(buffer !== undefined, 'a buffer is free whenever fewer batches than buffers are in flight');
      this.fill = buffer;
    }
    const block = this.blockBytes;
    const tailBytes = this.activeSealed ? 0 : this.submittedEndBytes % block;
    this.fillInPlace = this.inFlight.length === 0 || this.batchesInFlightMax === 1;
    if (this.fillInPlace) {
      this.fillFileOffsetBytes = this.submittedEndBytes - tailBytes;
      if (tailBytes > 0) this.fill.bytes.set(this.tailBlock.bytes.subarray(0, tailBytes), 0);
      this.fillLengthBytes = tailBytes;
    } else {
      this.fillFileOffsetBytes = this.submittedEndBytes - tailBytes + (tailBytes > 0 ? block : 0);
      this.fillLengthBytes = 0;
    }
    this.fillTailBytes = this.fillLengthBytes;
    this.fillRecordBytes = 0;
  }

  /**
   * Encodes into the fill buffer if there is room; the caller keeps call order by only trying
   * when nothing is queued.
   */
  private tryEncode(payload: Uint8Array, meta: RecordMeta, waiter: Waiter | null, batchResult: BatchResult | null): boolean {
    if (this.rollNeeded || this.rolling) return false;
    const spanBytes = recordSpanBytes(payload.byteLength + this.tagBytes);
    if (this.fillRecordCount === 0) {
      this.startFill();
      // Not inside an appendBatch's records: their LSNs stay consecutive.
      const batchStart = batchResult === null || batchResult.firstLsn === 0;
      if (this.timeAnchorIntervalMs > 0 && batchStart) this.maybeEncodeAnchor(spanBytes);
    }
    if (this.fillFileOffsetBytes + this.fillLengthBytes + spanBytes > this.segmentSizeBytes) {
      this.rollNeeded = true;
      return false;
    }
    // The first record of a batch always fits: the option check caps a payload below batchBytesMax.
    if (this.fillRecordCount > 0 && (this.fillRecordBytes + spanBytes > this.batchBytesMax || this.fillRecordCount === this.recordsPerBatchMax)) return false;
    const lsn = this.encodeNext(payload, meta);
    if (batchResult !== null) {
      if (batchResult.firstLsn === 0) batchResult.firstLsn = lsn;
      batchResult.lastLsn = lsn;
    }
    if (waiter !== null) {
      if (batchResult === null) waiter.value = lsn;
      this.fillWaiters.push(waiter);
    }
    if (meta.type === RECORD_TYPE_CHECKPOINT) this.lastCheckpointLsnValue = lsn;
    return true;
  }

  /**
   * Encodes a transaction record and the records it announces into the fill buffer, all or
   * none: false (nothing encoded) when they do not fit what is left of the batch or the segment.
   */
  private tryEncodeTransaction(payloads: readonly Uint8Array[], metas: readonly RecordMeta[], waiter: Waiter, result: BatchResult): boolean {
    if (this.rollNeeded || this.rolling) return false;
    const spanBytes = transactionSpanBytes(payloads, this.tagBytes);
    const count = payloads.length;
    if (this.fillRecordCount === 0) {
      this.startFill();
      if (this.timeAnchorIntervalMs > 0) this.maybeEncodeAnchor(spanBytes);
    }
    if (this.fillFileOffsetBytes + this.fillLengthBytes + spanBytes > this.segmentSizeBytes) {
      this.rollNeeded = true;
      return false;
    }
    if (this.fillRecordBytes + spanBytes > this.batchBytesMax || this.fillRecordCount + count + 1 > this.recordsPerBatchMax) {
      assert(this.fillRecordCount > 0, 'a transaction fits an empty batch');
      return false;
    }
    encodeTransactionStart(count, this.transactionPayload);
    const transactionLsn = this.encodeNext(this.transactionPayload, TRANSACTION_META);
    for (let i = 0; i < count; i++) this.encodeNext(payloads[i]!, metas[i]!);
    result.firstLsn = transactionLsn + 1;
    result.lastLsn = transactionLsn + count;
    this.fillWaiters.push(waiter);
    return true;
  }

  /** Encodes one record at the end of the fill buffer, which has room for it; returns its LSN. */
  private encodeNext(payload: Uint8Array, meta: RecordMeta): number {
    const lsn = this.nextLsnValue;
    assert(lsn <= LSN_MAX, 'LSN space exhausted');
    const fill = this.fill!;
    const offsetBytes = this.fillLengthBytes;
    const tagBytes = this.tagBytes;
    const spanBytes = recordSpanBytes(payload.byteLength + tagBytes);
    // The pending index as if the log were idle at submission; flush raises it otherwise.
    encodeRecord(fill.words, fill.bytes, offsetBytes, payload, lsn, meta, this.segmentId, this.fillRecordCount, tagBytes);
    setRecordCrcRange(this.ranges, this.fillRecordCount, offsetBytes, payload.byteLength + tagBytes);
    this.fillRecordCount += 1;
    this.fillLengthBytes = offsetBytes + spanBytes;
    this.fillRecordBytes += spanBytes;
    this.fillLastRecordBytes = this.fillFileOffsetBytes + offsetBytes;
    this.nextLsnValue = lsn + 1;
    return lsn;
  }

  /** The LSN of the last checkpoint encoded, or found at open; 0 when none. */
  get lastCheckpointLsn(): number {
    return this.lastCheckpointLsnValue;
  }

  /** A truncation changed which checkpoint is the last one (0: none). */
  set lastCheckpointLsn(lsn: number) {
    this.lastCheckpointLsnValue = lsn;
  }

  /**
   * A time anchor first in the batch, when the interval has passed since the last one: never
   * more than one per batch. The time never falls from one anchor to the next, even when the
   * clock does (within this process).
   */
  private maybeEncodeAnchor(followingBytes: number): void {
    const nowMs = Math.max(Date.now(), this.lastAnchorMs);
    if (nowMs - this.lastAnchorMs < this.timeAnchorIntervalMs) return;
    const spanBytes = recordSpanBytes(TIME_ANCHOR_PAYLOAD_BYTES + this.tagBytes);
    // No room before the segment's end: the anchor waits for the next batch.
    if (this.fillFileOffsetBytes + this.fillLengthBytes + spanBytes > this.segmentSizeBytes) return;
    // Nor when the records it would precede would not fit the batch beside it: a batch of the
    // anchor alone, then another one for every batch after it, could keep them out for ever.
    if (this.fillRecordBytes + spanBytes + followingBytes > this.batchBytesMax) return;
    new DataView(this.anchorPayload.buffer).setFloat64(0, nowMs, true);
    this.encodeNext(this.anchorPayload, ANCHOR_META);
    // The record behind it may not fit this batch: the fill goes out on its own then.
    this.scheduleFlush();
    this.lastAnchorMs = nowMs;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    if (this.inFlight.length >= this.batchesInFlightMax) {
      this.scheduleSealAhead();
      return;
    }
    this.flushScheduled = true;
    // nextTick runs after the current microtask drain, so every append made by promise
    // continuations resolved in this turn joins the batch.
    process.nextTick(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /**
   * One batch in flight at most: the fill waits for it, and will be submitted to an idle log, so
   * the pending indexes its records have now are final (A1) and they can be encrypted while the
   * write in flight runs, off the path from its completion to the next submission: in the thread
   * pool on a real disk (off the event loop too), on the event loop in the simulator (its runs
   * must not depend on thread timing). The fill is submitted only once no seal of it is in flight.
   */
  private scheduleSealAhead(): void {
    if (this.tagBytes === 0 || this.batchesInFlightMax !== 1 || this.sealAheadScheduled || this.sealInFlight) return;
    this.sealAheadScheduled = true;
    setImmediate(() => {
      this.sealAheadScheduled = false;
      const fill = this.fill;
      if (this.failure !== null || fill === null || this.inFlight.length === 0 || this.fillSealedCount === this.fillRecordCount || this.sealInFlight) return;
      const count = this.fillRecordCount;
      const firstLsn = this.nextLsnValue - count;
      if (this.sealInPool) this.sealAsync(fill, count, firstLsn, false);
      else this.sealFill(fill, count, firstLsn);
    });
  }

  /**
   * Encrypts the fill's records up to `count` in the thread pool; the fill is not submitted
   * until that is done (submitFill waits for it), then is, if a slot is free. `atSubmission`:
   * called by submitFill, whose next try encrypts what came meanwhile here, not in the pool again.
   */
  private sealAsync(fill: AlignedBuffer, count: number, firstLsn: number, atSubmission: boolean): void {
    const from = this.fillSealedCount;
    const batch = this.setCipherRanges(from, count, firstLsn);
    this.sealInFlight = true;
    if (atSubmission) this.sealAsyncFirst = false;
    // Records encoded meanwhile go after these in the buffer: the pool writes none of their bytes.
    this.cipher!.sealAsync(fill.bytes, batch.ranges, batch.nonces, count - from).then(
      () => {
        this.sealInFlight = false;
        this.settle();
        if (this.failure !== null) return;
        assert(this.fill === fill, 'a fill being sealed is not submitted');
        this.fillSealedCount = count;
        if (this.inFlight.length < this.batchesInFlightMax) this.flush();
        else if (this.fillSealedCount < this.fillRecordCount) this.scheduleSealAhead();
      },
      (err: unknown) => {
        this.sealInFlight = false;
        this.fail(err);
        this.settle();
      },
    );
  }

  /** Moves what waited for room into the fill buffer, in call order, up to the first fence. */
  private drainQueue(): void {
    while (this.queueHead < this.queue.length) {
      const item = this.queue[this.queueHead]!;
      if (item.kind === 'fence') break;
      if (item.kind === 'sync') {
        // It waits for everything before it, which is now encoded.
        this.waitForEncoded(item.waiter);
      } else if (item.kind === 'transaction') {
        if (!this.tryEncodeTransaction(item.payloads, item.metas, item.waiter, item.result)) break;
        this.queuedRecords -= item.payloads.length + 1;
        this.queuedBytes -= item.payloadBytes;
      } else {
        if (!this.tryEncode(item.payload, item.meta, item.waiter, item.batchResult)) break;
        this.queuedRecords -= 1;
        this.queuedBytes -= item.payload.byteLength;
      }
      this.queue[this.queueHead] = undefined as unknown as Queued;
      this.queueHead += 1;
    }
    this.compactQueue();
  }

  private compactQueue(): void {
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    } else if (this.queueHead > 4096 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
  }

  /**
   * Submits the fill buffer as a batch (A1–A4) if a slot is free, then fills the next one from
   * the queue; repeats while both a slot and a full batch's worth of queued records are there.
   */
  private flush(): void {
    while (this.submitFill()) this.drainQueue();
  }

  private submitFill(): boolean {
    // The limit counts every batch not yet durable, completed ones waiting for an earlier one
    // included: everything a crash can tear then lies within batchesInFlightMax batch buffers
    // of the durable end, as far as recovery looks (V3).
    if (this.inFlight.length >= this.batchesInFlightMax || this.failure !== null || this.rolling || this.fillRecordCount === 0 || this.sealInFlight)
      return false;
    const buffer = this.fill!;
    const count = this.fillRecordCount;
    const firstLsn = this.nextLsnValue - count;
    const words = buffer.words;
    // The records not yet durable ahead of this batch: its pending indexes start above them (A1).
    const aheadRecords = firstLsn - 1 - this.durableLsnValue;
    assert(aheadRecords >= 0, 'the durable LSN never passes what was submitted');
    assert(!this.fillInPlace || aheadRecords === 0, 'a batch that rewrites the tail block in place goes to an idle log');
    if (aheadRecords > 0) {
      // Records encrypted ahead have their pending index in the associated data: never raised.
      assert.equal(this.fillSealedCount, 0, 'records sealed ahead go to an idle log');
      for (let i = 0; i < count; i++) words[(this.ranges[2 * i]! - RECORD_CRC_START_BYTES + RecordField.PENDING_INDEX) >>> 2]! += aheadRecords;
    }
    if (this.tagBytes > 0) {
      // A large batch to an idle log (one batch in flight at most) is encrypted in the thread
      // pool: the event loop encodes the next one meanwhile. It is submitted when that is done,
      // with what was appended meanwhile encrypted here.
      if (this.sealInPool && this.sealAsyncFirst && count - this.fillSealedCount >= ASYNC_SEAL_RECORDS_MIN) {
        assert.equal(aheadRecords, 0, 'a batch sealed in the pool goes to an idle log');
        this.sealAsync(buffer, count, firstLsn, true);
        return false;
      }
      this.sealAsyncFirst = true;
      this.sealFill(buffer, count, firstLsn);
    }
    // The CRC covers the ciphertext and tag: a torn write stays a CRC failure (docs/format.md).
    this.io.crc32cRanges(buffer.bytes, this.ranges, count, this.crcs);
    for (let i = 0; i < count; i++) words[(this.ranges[2 * i]! - RECORD_CRC_START_BYTES) >>> 2] = this.crcs[i]!;
    const block = this.blockBytes;
    const lengthBytes = this.fillLengthBytes;
    const writeBytes = Math.ceil(lengthBytes / block) * block;
    // The buffer was used before: zero its tail so no stale byte reaches the disk (A2).
    buffer.bytes.fill(0, lengthBytes, writeBytes);
    const fileOffsetBytes = this.fillFileOffsetBytes;
    const batch: Batch = {
      buffer,
      firstLsn,
      lastLsn: this.nextLsnValue - 1,
      endBytes: fileOffsetBytes + lengthBytes,
      lastRecordBytes: this.fillLastRecordBytes,
      waiters: this.fillWaiters,
      recordCount: count,
      recordBytes: this.fillRecordBytes,
      writeBytes,
      submittedNs: 0n,
      syncLatencyNs: 0,
      completed: false,
      rejected: false,
      segmentId: this.segmentId,
      fileOffsetBytes,
      written: null,
    };
    const file = this.file;
    // What the write relies on, asserted right before it (A4).
    assert(fileOffsetBytes % block === 0, 'a batch starts on a block boundary');
    assert(fileOffsetBytes >= this.submittedEndBytes - (this.submittedEndBytes % block), 'a batch starts at or after the block the log ends in');
    assert(this.fillInPlace || fileOffsetBytes >= this.submittedEndBytes, 'a batch behind others in flight starts past their last block');
    assert(writeBytes > 0, 'a batch writes at least one block');
    assert(writeBytes % block === 0, 'a batch writes whole blocks');
    assert(writeBytes <= buffer.bytes.byteLength, 'a batch lies inside its buffer');
    assert(fileOffsetBytes + lengthBytes <= this.segmentSizeBytes, 'a batch ends inside its segment');
    const previous = this.inFlight[this.inFlight.length - 1];
    assert.equal(firstLsn, (previous?.lastLsn ?? this.durableLsnValue) + 1, 'a batch continues the LSNs submitted before it');
    assert.equal(recordLsnAt(words, this.ranges[0]! - RECORD_CRC_START_BYTES), firstLsn, "the batch's first record carries its first LSN");
    const s = this.statsValue;
    if (!this.fillInPlace) {
      s.pipelinedBatches += 1;
      s.gapBytes += fileOffsetBytes - this.submittedEndBytes;
    }
    s.recordBytes += this.fillRecordBytes;
    this.inFlight.push(batch);
    if (this.inFlight.length > s.batchesInFlightPeak) s.batchesInFlightPeak = this.inFlight.length;
    // The next batch continues after this one: keep the partly filled last block for it.
    const tailStartBytes = lengthBytes - (lengthBytes % block);
    this.tailBlock.bytes.fill(0);
    this.tailBlock.bytes.set(buffer.bytes.subarray(tailStartBytes, lengthBytes), 0);
    this.submittedEndBytes = batch.endBytes;
    this.fill = null;
    this.fillRecordCount = 0;
    this.fillSealedCount = 0;
    this.fillRecordBytes = 0;
    this.fillWaiters = [];
    batch.submittedNs = process.hrtime.bigint();
    const write = (): Promise<void> => file.write(buffer, 0, writeBytes, fileOffsetBytes, true);
    const tailBytes = this.fillTailBytes;
    // A batch whose double-write copy completes after the writer failed is not written: nothing
    // is written after a failure, and the file may be closing.
    const writeUnlessFailed = (): Promise<void> => (this.failure === null ? write() : Promise.reject(new WalDurabilityLostError(this.failure)));
    const written =
      this.doubleWrite !== null && tailBytes > 0
        ? this.doubleWrite(this.segmentId, this.incarnation, fileOffsetBytes, buffer.bytes.subarray(0, tailBytes)).then(writeUnlessFailed)
        : write();
    written.then(
      () => this.complete(batch, null),
      (err: unknown) => this.complete(batch, { error: err }),
    );
    return true;
  }

  /**
   * A1's encryption: the payloads of the batch's records, in place, in one native call, after their
   * headers are final (the pending indexes raised: the header is associated data) and before
   * their CRCs are computed.
   */
  private sealFill(buffer: AlignedBuffer, count: number, firstLsn: number): void {
    const cipher = this.cipher;
    assert(cipher !== null, 'an encrypting writer writes only to a segment it holds the key of');
    const from = this.fillSealedCount;
    const batch = this.setCipherRanges(from, count, firstLsn);
    cipher.seal(buffer.bytes, batch.ranges, batch.nonces, count - from);
    this.fillSealedCount = count;
  }

  /** The cipher ranges and nonces of the fill's records [from, count), whose first LSN is `firstLsn`. */
  private setCipherRanges(from: number, count: number, firstLsn: number): CipherBatch {
    const ranges = this.ranges;
    const batch = this.cipherBatch;
    for (let i = from; i < count; i++) {
      const offsetBytes = ranges[2 * i]! - RECORD_CRC_START_BYTES;
      const storedBytes = ranges[2 * i + 1]! - (RECORD_HEADER_SIZE_BYTES - RECORD_CRC_START_BYTES);
      batch.set(i - from, offsetBytes, storedBytes, firstLsn + i);
    }
    return batch;
  }

  /**
   * A batch's write and sync completed (A5). Batches resolve strictly in LSN order: this one and
   * every completed one after it only once every batch before them is durable.
   *
   * A failure fails the writer at once, and every batch not yet resolved rejects, those before
   * the failed one included: after a failed sync the kernel may have dropped data that an earlier
   * batch's sync, still to complete, would then report as flushed (and after a failed sync on
   * one file description, the next one on it may report success). So nothing resolves after a
   * failure was seen.
   */
  private complete(batch: Batch, failed: { error: unknown } | null): void {
    assert(!batch.completed, 'a batch completes once');
    batch.completed = true;
    // The buffer may be filled again before this batch resolves (it waits for earlier ones):
    // what it wrote is copied now, for the sink to get once it is durable in order.
    if (failed === null && this.durableBytes?.wanted === true) batch.written = batch.buffer.bytes.slice(0, batch.writeBytes);
    this.freeBuffers.push(batch.buffer);
    batch.syncLatencyNs = Math.max(1, Number(process.hrtime.bigint() - batch.submittedNs));
    this.syncLatency.record(batch.syncLatencyNs);
    if (failed !== null && this.failure === null) this.fail(failed.error, batch);
    if (failed === null) this.slowSyncWarning?.check(batch.syncLatencyNs, batch.firstLsn, batch.lastLsn);
    const durableEndBeforeBytes = this.durableEndBytesValue;
    while (this.inFlight.length > 0 && this.inFlight[0]!.completed) {
      const done = this.inFlight.shift()!;
      if (done.rejected) continue;
      this.durableLsnValue = done.lastLsn;
      this.durableEndBytesValue = done.endBytes;
      this.durableLastRecordBytes = done.lastRecordBytes;
      const s = this.statsValue;
      s.batches += 1;
      s.records += done.recordCount;
      s.bytesWritten += done.writeBytes;
      s.durableRecordBytes += done.recordBytes;
      if (done.recordCount > s.largestBatchRecords) s.largestBatchRecords = done.recordCount;
      if (done.recordBytes > s.largestBatchRecordBytes) s.largestBatchRecordBytes = done.recordBytes;
      if (done.written !== null) this.durableBytes?.publish(done.segmentId, done.fileOffsetBytes, done.written);
      for (const w of done.waiters) w.resolve(w.value);
      this.events.batchDurable(done.segmentId, done.firstLsn, done.lastLsn, done.recordBytes, done.writeBytes, done.syncLatencyNs);
    }
    this.settle();
    if (this.failure !== null) return;
    const advanceBytes = this.durableEndBytesValue - durableEndBeforeBytes;
    // Appends that arrived while batches were in flight have waited long enough: write them now.
    this.flush();
    this.drainQueue();
    this.scheduleFlush();
    this.maybeRoll();
    this.checkFence();
    this.onBatchComplete?.(advanceBytes, this.fillRecordCount > 0 || this.queuedRecords > 0);
  }

  /**
   * Resolves once no batch is in flight, failed or not: close waits for it before closing the
   * files, since after a failure the batches still in flight complete on their own.
   */
  settled(): Promise<void> {
    if (this.inFlight.length === 0 && !this.sealInFlight) return Promise.resolve();
    return new Promise<void>((resolve) => this.settledWaiters.push(resolve));
  }

  /** Wakes settled() once nothing runs any more on the batch buffers. */
  private settle(): void {
    if (this.inFlight.length > 0 || this.sealInFlight) return;
    const waiters = this.settledWaiters;
    this.settledWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Puts the writer in the failed state from outside (a truncation that failed half-way). */
  poison(err: unknown): void {
    if (this.failure === null) this.fail(err);
  }

  /**
   * Fails the writer: `failedBatch` rejects with `err`; every other batch not yet resolved (in
   * flight, or completed behind one in flight), what is encoded and what is queued reject with
   * WalDurabilityLostError; every later call is refused. Batches in flight still complete and
   * give their buffers back; they never resolve.
   */
  private fail(err: unknown, failedBatch: Batch | null = null): void {
    this.failure = err;
    if (failedBatch !== null) {
      failedBatch.rejected = true;
      for (const w of failedBatch.waiters) w.reject(err);
    }
    const lost = new WalDurabilityLostError(err);
    for (const later of this.inFlight) {
      if (later.rejected) continue;
      later.rejected = true;
      for (const w of later.waiters) w.reject(lost);
    }
    for (const w of this.fillWaiters) w.reject(lost);
    this.fillWaiters = [];
    this.fillRecordCount = 0;
    this.fillSealedCount = 0;
    for (let i = this.queueHead; i < this.queue.length; i++) {
      const item = this.queue[i]!;
      // A truncateAfter waiting for its fence learns of the failure from the writer's state.
      if (item.kind === 'fence') item.fence.markReached();
      else item.waiter?.reject(lost);
    }
    this.queue.length = 0;
    this.queueHead = 0;
    this.queuedRecords = 0;
    this.queuedBytes = 0;
    this.queuedFences = 0;
    this.events.failed(err, this.durableLsnValue);
  }
}

/** The LSN field of the record encoded at `offsetBytes` of a buffer, read back through its words. */
function recordLsnAt(words: Uint32Array, offsetBytes: number): number {
  const w = (offsetBytes + RecordField.LSN) >>> 2;
  return words[w]! + words[w + 1]! * TWO_POW_32;
}

/** The partly filled last block of `target`, which the next batch rewrites; null when there is none. */
async function readTailBlock(io: Io, target: WriterTarget): Promise<AlignedBuffer | null> {
  const block = target.file.alignmentBytes;
  const tailStartBytes = Math.floor(target.endBytes / block) * block;
  const tailBytes = target.endBytes - tailStartBytes;
  if (target.sealed || tailBytes === 0) return null;
  const buffer = io.allocAligned(block, block);
  const gotBytes = await readFull(target.file, buffer, 0, block, tailStartBytes);
  if (gotBytes < tailBytes)
    throw new WalCorruptionError(target.file.path, tailStartBytes + gotBytes, `the tail block ends before the ${target.endBytes} bytes of durable records`);
  buffer.bytes.fill(0, tailBytes, block);
  return buffer;
}
