import type { AppendAdapter } from './adapter.js';
import { LatencyHistogram } from './histogram.js';
import { checkInteger, durationMsMax, producersMax, recordSizeBytesMax, recordsMax } from './limits.js';
import { RecordPool } from './record-pool.js';
import { sleepingLoopResolutionMs, RuntimeProbe } from './runtime-probe.js';
import { progressIntervalMs, resultOf, type ProgressCallback, type WorkloadResult } from './workload-result.js';

export interface ClosedLoopOptions {
  producers: number;
  /** The run stops when this many appends were issued or `durationMsMax` passed, whichever is first. */
  recordsMax: number;
  durationMsMax: number;
  recordSizeBytes?: number;
  onProgress?: ProgressCallback;
}

/** The record size of the latency workloads: a typical small event or metadata update. */
export const closedLoopRecordSizeBytes = 128;

/**
 * N producers, each awaiting one append before it issues the next. Throughput is bounded by how
 * well the store turns concurrent waiters into shared syncs (group commit); latency is measured
 * from the call to the resolution of each append.
 */
export async function runClosedLoop(adapter: AppendAdapter, options: ClosedLoopOptions): Promise<WorkloadResult> {
  const producers = checkInteger('producers', options.producers, 1, producersMax);
  const recordCountMax = checkInteger('records', options.recordsMax, 1, recordsMax);
  const durationMs = checkInteger('duration (ms)', options.durationMsMax, 1, durationMsMax);
  const recordSizeBytes = checkInteger('record size (bytes)', options.recordSizeBytes ?? closedLoopRecordSizeBytes, 1, recordSizeBytesMax);
  const pool = new RecordPool(recordSizeBytes);
  const histogram = new LatencyHistogram();
  let issued = 0;
  let completed = 0;
  let failed = false;

  const probe = await RuntimeProbe.start(sleepingLoopResolutionMs);
  const startNs = process.hrtime.bigint();
  const deadlineNs = startNs + BigInt(durationMs) * 1_000_000n;
  const progressTimer = setInterval(() => {
    const elapsedFraction = Number(process.hrtime.bigint() - startNs) / 1e6 / durationMs;
    options.onProgress?.({ recordsDone: completed, fraction: Math.min(1, Math.max(completed / recordCountMax, elapsedFraction)) });
  }, progressIntervalMs);
  progressTimer.unref();

  async function produce(): Promise<void> {
    while (!failed && issued < recordCountMax) {
      const sentNs = process.hrtime.bigint();
      if (sentNs >= deadlineNs) return;
      issued += 1;
      try {
        await adapter.append(pool.take());
      } catch (error) {
        // Stop the other producers too: a result with a failed store in it means nothing.
        failed = true;
        throw error;
      }
      histogram.recordSinceNs(sentNs, process.hrtime.bigint());
      completed += 1;
    }
  }

  try {
    await Promise.all(Array.from({ length: producers }, produce));
  } catch (error) {
    probe.discard();
    throw error;
  } finally {
    clearInterval(progressTimer);
  }
  const elapsedNs = process.hrtime.bigint() - startNs;
  return resultOf('closed', completed, recordSizeBytes, elapsedNs, histogram, await probe.stop());
}
