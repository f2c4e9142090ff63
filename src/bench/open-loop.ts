import type { AppendAdapter } from './adapter.js';
import { LatencyHistogram } from './histogram.js';
import { checkInteger, durationMsMax, openLoopSendsMax, recordSizeBytesMax } from './limits.js';
import { RecordPool } from './record-pool.js';
import { busyLoopResolutionMs, RuntimeProbe } from './runtime-probe.js';
import { closedLoopRecordSizeBytes } from './closed-loop.js';
import { progressIntervalMs, resultOf, type ProgressCallback, type WorkloadResult } from './workload-result.js';

export interface OpenLoopOptions {
  ratePerS: number;
  durationMs: number;
  /**
   * How long to wait, once the last send is due, for the appends still in flight. A store that
   * has fallen far behind would otherwise hold the run for as long as its backlog takes.
   */
  drainMsMax?: number;
  recordSizeBytes?: number;
  onProgress?: ProgressCallback;
}

export interface OpenLoopResult extends WorkloadResult {
  ratePerSTarget: number;
  /** Sends scheduled by the rate over the duration. */
  recordsScheduled: number;
  /** Appends still unresolved when the drain limit ran out; counted in the latency at that limit. */
  recordsUnfinished: number;
  /**
   * The most that any send was issued after its intended time. A large value means this process
   * (its event loop, shared with the store's callbacks) could not keep the rate, not only the store.
   */
  sendLagUsMax: number;
}

export const openLoopDrainMsDefault = 30_000;

/**
 * Sends at a fixed rate whatever the store does, the way independent clients would. Each send has
 * an intended time (start + i / rate) and its latency runs from that time, not from the moment the
 * call was actually made: when the store (or this event loop) stalls, the sends that were due
 * during the stall are charged for it. This avoids coordinated omission, which would otherwise hide
 * exactly the stalls an open-loop test exists to find.
 */
export async function runOpenLoop(adapter: AppendAdapter, options: OpenLoopOptions): Promise<OpenLoopResult> {
  const ratePerS = checkInteger('rate (records/s)', options.ratePerS, 1, openLoopSendsMax);
  const durationMs = checkInteger('duration (ms)', options.durationMs, 1, durationMsMax);
  const drainMs = checkInteger('drain (ms)', options.drainMsMax ?? openLoopDrainMsDefault, 0, durationMsMax);
  const recordSizeBytes = checkInteger('record size (bytes)', options.recordSizeBytes ?? closedLoopRecordSizeBytes, 1, recordSizeBytesMax);
  const scheduledCount = Math.floor((ratePerS * durationMs) / 1000);
  checkInteger('rate × duration (records)', scheduledCount, 1, openLoopSendsMax);

  const pool = new RecordPool(recordSizeBytes);
  const histogram = new LatencyHistogram();
  const intervalNs = 1e9 / ratePerS;
  // One byte per send records whether it finished, so that the drain limit can charge the rest.
  const finished = new Uint8Array(scheduledCount);
  let sent = 0;
  let completed = 0;
  let sendLagNsMax = 0;
  let lastCompletionNs = 0n;

  const probe = await RuntimeProbe.start(busyLoopResolutionMs);
  const startNs = process.hrtime.bigint();
  const progressTimer = setInterval(() => {
    options.onProgress?.({ recordsDone: completed, fraction: completed / scheduledCount });
  }, progressIntervalMs);
  progressTimer.unref();

  const settled = new Promise<void>((resolve, reject) => {
    let drainTimer: NodeJS.Timeout | undefined;
    let failed = false;

    const onCompletion = (index: number, intendedNs: number): void => {
      if (failed || finished[index] === 1) return;
      const nowNs = process.hrtime.bigint();
      finished[index] = 1;
      histogram.recordNs(Number(nowNs - startNs) - intendedNs);
      completed += 1;
      lastCompletionNs = nowNs;
      if (completed === scheduledCount) {
        clearTimeout(drainTimer);
        resolve();
      }
    };
    const onFailure = (error: unknown): void => {
      if (failed) return;
      failed = true;
      clearTimeout(drainTimer);
      reject(error);
    };
    const onDrainExpired = (): void => {
      const elapsedNs = Number(process.hrtime.bigint() - startNs);
      // The unfinished sends took at least this long; leaving them out would flatter the tail.
      for (let index = 0; index < scheduledCount; index++) {
        if (finished[index] === 0) histogram.recordNs(elapsedNs - index * intervalNs);
      }
      failed = true;
      resolve();
    };

    // Fires every send that is due whenever the loop gets control. setImmediate rather than a
    // timer: timers have a resolution of 1 ms, ten sends apart at 10,000 records/s.
    const pump = (): void => {
      if (failed) return;
      const elapsedNs = Number(process.hrtime.bigint() - startNs);
      const dueCount = Math.min(scheduledCount, Math.floor(elapsedNs / intervalNs) + 1);
      if (sent < dueCount) sendLagNsMax = Math.max(sendLagNsMax, elapsedNs - sent * intervalNs);
      while (sent < dueCount) {
        const index = sent;
        const intendedNs = index * intervalNs;
        sent += 1;
        adapter.append(pool.take()).then(() => onCompletion(index, intendedNs), onFailure);
      }
      if (sent < scheduledCount) {
        setImmediate(pump);
      } else if (completed < scheduledCount) {
        drainTimer = setTimeout(onDrainExpired, drainMs);
      }
    };
    pump();
  });

  try {
    await settled;
  } catch (error) {
    probe.discard();
    throw error;
  } finally {
    clearInterval(progressTimer);
  }
  const endNs = completed === scheduledCount ? lastCompletionNs : process.hrtime.bigint();
  return {
    ...resultOf('open', completed, recordSizeBytes, endNs - startNs, histogram, await probe.stop()),
    ratePerSTarget: ratePerS,
    recordsScheduled: scheduledCount,
    recordsUnfinished: scheduledCount - completed,
    sendLagUsMax: sendLagNsMax / 1000,
  };
}
