import type { AppendAdapter } from './adapter.js';
import { LatencyHistogram } from './histogram.js';
import { checkInteger, durationMsMax, recordSizeBytesMax } from './limits.js';
import { RecordPool } from './record-pool.js';
import { sleepingLoopResolutionMs, RuntimeProbe } from './runtime-probe.js';
import { progressIntervalMs, resultOf, type ProgressCallback, type WorkloadResult } from './workload-result.js';

export interface BulkOptions {
  /** The run stops when this many payload bytes were issued or `durationMsMax` passed, whichever is first. */
  bytesMax: number;
  durationMsMax: number;
  recordSizeBytes?: number;
  recordsPerBatch?: number;
  batchesInFlight?: number;
  onProgress?: ProgressCallback;
}

export const bulkRecordSizeBytes = 4096;
/** 256 records of 4 KiB make 1 MiB per call: large enough that per-call costs vanish. */
export const bulkRecordsPerBatchDefault = 256;
/** Four calls in flight let a store overlap one batch's sync with the next one's write. */
export const bulkBatchesInFlightDefault = 4;
/** 1 GiB outgrows every write cache between the store and the disk, so the rate is the disk's. */
export const bulkBytesDefault = 1024 * 1024 * 1024;
/** A batch holds at most 64 MiB; more tells nothing new and only costs memory. */
const batchBytesMax = 64 * 1024 * 1024;
/** Each batch in flight is a pending promise; 1024 of them are far past where throughput stops growing. */
const batchesInFlightMax = 1024;
/** 2^50 bytes (a pebibyte) is only a guard against a mistyped size. */
const bulkBytesMax = 2 ** 50;

/**
 * Throughput with large batches: `batchesInFlight` loops, each awaiting one `appendBatch` of
 * `recordsPerBatch` records before issuing the next. Latency is per batch.
 */
export async function runBulk(adapter: AppendAdapter, options: BulkOptions): Promise<WorkloadResult> {
  const recordSizeBytes = checkInteger('record size (bytes)', options.recordSizeBytes ?? bulkRecordSizeBytes, 1, recordSizeBytesMax);
  const recordsPerBatch = checkInteger(
    'records per batch',
    options.recordsPerBatch ?? bulkRecordsPerBatchDefault,
    1,
    Math.floor(batchBytesMax / recordSizeBytes),
  );
  const inFlight = checkInteger('batches in flight', options.batchesInFlight ?? bulkBatchesInFlightDefault, 1, batchesInFlightMax);
  const bytesLimit = checkInteger('bytes', options.bytesMax, 1, bulkBytesMax);
  const durationMs = checkInteger('duration (ms)', options.durationMsMax, 1, durationMsMax);
  const batchBytes = recordSizeBytes * recordsPerBatch;

  const pool = new RecordPool(recordSizeBytes);
  const histogram = new LatencyHistogram();
  const appendBatch = adapter.appendBatch?.bind(adapter) ?? ((payloads: Uint8Array[]) => Promise.all(payloads.map((payload) => adapter.append(payload))));
  let bytesIssued = 0;
  let recordsDone = 0;
  let failed = false;

  const probe = await RuntimeProbe.start(sleepingLoopResolutionMs);
  const startNs = process.hrtime.bigint();
  const deadlineNs = startNs + BigInt(durationMs) * 1_000_000n;
  const progressTimer = setInterval(() => {
    const elapsedFraction = Number(process.hrtime.bigint() - startNs) / 1e6 / durationMs;
    const bytesFraction = (recordsDone * recordSizeBytes) / bytesLimit;
    options.onProgress?.({ recordsDone, fraction: Math.min(1, Math.max(bytesFraction, elapsedFraction)) });
  }, progressIntervalMs);
  progressTimer.unref();

  async function issue(): Promise<void> {
    // Each loop owns its array and refills it in place: no allocation per batch.
    const batch = new Array<Uint8Array>(recordsPerBatch);
    while (!failed && bytesIssued < bytesLimit) {
      const sentNs = process.hrtime.bigint();
      if (sentNs >= deadlineNs) return;
      bytesIssued += batchBytes;
      for (let i = 0; i < recordsPerBatch; i++) batch[i] = pool.take();
      try {
        await appendBatch(batch);
      } catch (error) {
        failed = true;
        throw error;
      }
      histogram.recordSinceNs(sentNs, process.hrtime.bigint());
      recordsDone += recordsPerBatch;
    }
  }

  try {
    await Promise.all(Array.from({ length: inFlight }, issue));
  } catch (error) {
    probe.discard();
    throw error;
  } finally {
    clearInterval(progressTimer);
  }
  const elapsedNs = process.hrtime.bigint() - startNs;
  return resultOf('bulk', recordsDone, recordSizeBytes, elapsedNs, histogram, await probe.stop());
}
