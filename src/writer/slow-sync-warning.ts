/**
 * The slow-sync warning (option `slowSyncWarningMs`): a batch whose write and sync took longer
 * is published on the slow-sync channel, every such batch, and reported as a process warning
 * (code RINGWAL_SLOW_SYNC) at most once per SLOW_SYNC_WARNING_INTERVAL_MS per log. A disk that
 * has turned slow makes every batch slow: a warning per batch would flood the process's output
 * and cost more than the batches. Each warning says how many slow batches went unreported since
 * the one before it.
 */
import assert from 'node:assert/strict';
import { channels, type LogEvents } from './channels.js';

/** One warning a minute per log at most: enough to be seen in a log file, too few to flood it. */
export const SLOW_SYNC_WARNING_INTERVAL_MS = 60_000;
export const SLOW_SYNC_WARNING_CODE = 'RINGWAL_SLOW_SYNC';

const NS_PER_MS = 1_000_000;

export class SlowSyncWarning {
  private readonly thresholdNs: number;
  /** When the last warning was emitted (ms on `nowMs`'s clock); -Infinity before the first. */
  private lastWarnedMs = -Infinity;
  /** Slow batches since the last warning that it did not report. */
  private unreported = 0;

  /** `nowMs`: a monotonic clock in ms (a test's own clock steps over the interval). */
  constructor(
    private readonly events: LogEvents,
    private readonly thresholdMs: number,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    assert(Number.isInteger(thresholdMs) && thresholdMs >= 0, 'the threshold is a checked option');
    this.thresholdNs = thresholdMs * NS_PER_MS;
  }

  /** A batch of LSNs `firstLsn..lastLsn` took `latencyNs` from submission to the completion of its sync. */
  check(latencyNs: number, firstLsn: number, lastLsn: number): void {
    if (latencyNs <= this.thresholdNs) return;
    this.events.slowSync(latencyNs, this.thresholdMs, firstLsn, lastLsn);
    const nowMs = this.nowMs();
    if (nowMs - this.lastWarnedMs < SLOW_SYNC_WARNING_INTERVAL_MS) {
      this.unreported += 1;
      return;
    }
    const since = this.lastWarnedMs === -Infinity ? '' : `; ${this.unreported} more slow batches since the last warning`;
    this.lastWarnedMs = nowMs;
    this.unreported = 0;
    const tookMs = (latencyNs / NS_PER_MS).toFixed(1);
    process.emitWarning(`ringwal: a batch's write and sync in ${this.events.dir} took ${tookMs} ms, above slowSyncWarningMs (${this.thresholdMs} ms)${since}`, {
      code: SLOW_SYNC_WARNING_CODE,
      detail: `The disk is slow or overloaded. Every such batch is published on the ${channels.slowSync} channel; this warning comes at most once every ${SLOW_SYNC_WARNING_INTERVAL_MS / 1000} s per log.`,
    });
  }
}
