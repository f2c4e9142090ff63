/**
 * The events a log publishes on `node:diagnostics_channel`, for tracing and metrics without a
 * dependency: subscribe to a name of `channels` (`diagnostics_channel.subscribe(channels.rollover,
 * fn)`) and get one plain object per event, every field named with its unit. docs/observability.md
 * lists the fields of each.
 *
 * A payload is built only when its channel has a subscriber: each publisher below asks
 * `hasSubscribers` first, so a log nobody observes pays one property read per batch and
 * allocates nothing. Nothing is published per record. A subscriber runs inside the writer's
 * completion, synchronously: it should be quick. diagnostics_channel catches what a subscriber
 * throws and rethrows it on the next tick, so a faulty subscriber cannot leave the writer half-way
 * through a completion.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { RecoveryReport, TornTail } from '../recovery/recover.js';

/** The channel names, one per kind of event. */
export const channels = Object.freeze({
  /** A batch is durable: every record of it and of every batch before it survives a crash. */
  batchDurable: 'ringwal:batch-durable',
  /** The active segment was sealed and the next one begun. */
  rollover: 'ringwal:rollover',
  /** A truncateBefore or truncateAfter finished. */
  truncation: 'ringwal:truncation',
  /** A log was opened: what recovery found in its last segment. */
  recovery: 'ringwal:recovery',
  /** A write or sync failed (or a truncation failed half-way): the log refuses every call from now on. */
  failure: 'ringwal:failure',
  /** A batch's write and sync took longer than `slowSyncWarningMs`. */
  slowSync: 'ringwal:slow-sync',
} as const);

export type ChannelName = (typeof channels)[keyof typeof channels];

export interface BatchDurableEvent {
  dir: string;
  segmentId: number;
  firstLsn: number;
  lastLsn: number;
  /** Records of the batch, ringwal's own (time anchors, transaction records) included. */
  records: number;
  /** Bytes of those records: headers, payloads, padding to 8 bytes. */
  recordBytes: number;
  /** Bytes written: the records rounded up to whole blocks, a rewritten tail block included. */
  writtenBytes: number;
  /** Submission to completion of the batch's write and sync. */
  syncLatencyUs: number;
}

export interface RolloverEvent {
  dir: string;
  /** `segment-full`: the next record did not fit; `key-rotation`: rotateKey began a segment under the new key. */
  reason: 'segment-full' | 'key-rotation';
  sealedSegmentId: number;
  /** The last LSN of the sealed segment (its first LSN minus one when it holds no record). */
  sealedLastLsn: number;
  nextSegmentId: number;
}

export type TruncationEvent =
  | {
      dir: string;
      kind: 'before';
      /** The LSN asked for: whole segments whose records all lie below it were removed. */
      lsn: number;
      /** The lowest LSN still in the log. */
      firstLsn: number;
      recordsRemoved: number;
      segmentsRemoved: number;
      /** Size of the segment files removed. */
      bytesRemoved: number;
    }
  | {
      dir: string;
      kind: 'after';
      /** The last LSN kept: every record above it was removed. */
      lsn: number;
      /** The LSN the next append receives: `lsn + 1`. */
      nextLsn: number;
      recordsRemoved: number;
      /** Segment files gone from the log (a sealed segment cut in the middle is replaced, not counted). */
      segmentsRemoved: number;
    };

export interface RecoveryEvent {
  dir: string;
  /** The segment recovery scanned: the last one (earlier ones are sealed and only checked). */
  segmentPath: string;
  /** Valid records found in it. */
  recordCount: number;
  nextLsn: number;
  /** File offset just past its last valid record. */
  endBytes: number;
  /** The torn bytes recovery zeroed after the valid prefix, or null when the tail was clean. */
  tornTail: TornTail | null;
  restoredFromDoubleWrite: boolean;
}

export interface FailureEvent {
  dir: string;
  /** What failed: a WalIoError for a write or sync, else the error of the step that failed. */
  error: unknown;
  /** The highest LSN durable before the failure: every record up to it survives. */
  durableLsn: number;
}

export interface SlowSyncEvent {
  dir: string;
  /** Submission to completion of the batch's write and sync. */
  syncLatencyUs: number;
  thresholdMs: number;
  firstLsn: number;
  lastLsn: number;
}

const batchDurable = diagnosticsChannel.channel(channels.batchDurable);
const rollover = diagnosticsChannel.channel(channels.rollover);
const truncation = diagnosticsChannel.channel(channels.truncation);
const recovery = diagnosticsChannel.channel(channels.recovery);
const failure = diagnosticsChannel.channel(channels.failure);
const slowSync = diagnosticsChannel.channel(channels.slowSync);

const NS_PER_US = 1000;

/** One log's publisher: every event it publishes names the log's directory. */
export class LogEvents {
  constructor(readonly dir: string) {}

  batchDurable(segmentId: number, firstLsn: number, lastLsn: number, recordBytes: number, writtenBytes: number, syncLatencyNs: number): void {
    if (!batchDurable.hasSubscribers) return;
    const event: BatchDurableEvent = {
      dir: this.dir,
      segmentId,
      firstLsn,
      lastLsn,
      records: lastLsn - firstLsn + 1,
      recordBytes,
      writtenBytes,
      syncLatencyUs: Math.round(syncLatencyNs / NS_PER_US),
    };
    batchDurable.publish(event);
  }

  rollover(reason: RolloverEvent['reason'], sealedSegmentId: number, sealedLastLsn: number, nextSegmentId: number): void {
    if (!rollover.hasSubscribers) return;
    const event: RolloverEvent = { dir: this.dir, reason, sealedSegmentId, sealedLastLsn, nextSegmentId };
    rollover.publish(event);
  }

  truncatedBefore(lsn: number, firstLsn: number, recordsRemoved: number, segmentsRemoved: number, bytesRemoved: number): void {
    if (!truncation.hasSubscribers) return;
    const event: TruncationEvent = { dir: this.dir, kind: 'before', lsn, firstLsn, recordsRemoved, segmentsRemoved, bytesRemoved };
    truncation.publish(event);
  }

  truncatedAfter(lsn: number, recordsRemoved: number, segmentsRemoved: number): void {
    if (!truncation.hasSubscribers) return;
    const event: TruncationEvent = { dir: this.dir, kind: 'after', lsn, nextLsn: lsn + 1, recordsRemoved, segmentsRemoved };
    truncation.publish(event);
  }

  recovered(report: RecoveryReport): void {
    if (!recovery.hasSubscribers) return;
    const event: RecoveryEvent = {
      dir: this.dir,
      segmentPath: report.path,
      recordCount: report.recordCount,
      nextLsn: report.nextLsn,
      endBytes: report.endBytes,
      // A copy: a subscriber that changes it does not change wal.recovery.
      tornTail: report.tornTail === null ? null : { ...report.tornTail },
      restoredFromDoubleWrite: report.restoredFromDoubleWrite === true,
    };
    recovery.publish(event);
  }

  failed(error: unknown, durableLsn: number): void {
    if (!failure.hasSubscribers) return;
    const event: FailureEvent = { dir: this.dir, error, durableLsn };
    failure.publish(event);
  }

  slowSync(syncLatencyNs: number, thresholdMs: number, firstLsn: number, lastLsn: number): void {
    if (!slowSync.hasSubscribers) return;
    const event: SlowSyncEvent = { dir: this.dir, syncLatencyUs: Math.round(syncLatencyNs / NS_PER_US), thresholdMs, firstLsn, lastLsn };
    slowSync.publish(event);
  }
}
