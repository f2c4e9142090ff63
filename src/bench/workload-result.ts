import type { LatencyHistogram, LatencySummary } from './histogram.js';

export type WorkloadKind = 'closed' | 'open' | 'bulk';

/** What every workload reports, so that one table can hold every system and workload. */
export interface WorkloadResult {
  kind: WorkloadKind;
  /** Records that completed (resolved as durable) inside the measurement. */
  records: number;
  /** Payload bytes of those records; store framing and headers are not counted. */
  payloadBytes: number;
  elapsedMs: number;
  recordsPerS: number;
  /** Payload megabytes (10^6 bytes) per second. */
  mbPerS: number;
  /** Latency of one append (closed, open) or of one batch (bulk). */
  latency: LatencySummary;
}

export interface Progress {
  recordsDone: number;
  /** 0 .. 1: how far the workload is toward whichever of its limits comes first. */
  fraction: number;
}

export type ProgressCallback = (progress: Progress) => void;

/** Progress callbacks fire on a timer, never per record, so that reporting costs nothing measurable. */
export const progressIntervalMs = 200;

/** The numbers of a measurement: what a workload reports beside its kind (the bench's disk rows report them too). */
export type Measurement = Omit<WorkloadResult, 'kind'>;

export function measurementOf(records: number, recordSizeBytes: number, elapsedNs: bigint, histogram: LatencyHistogram): Measurement {
  const elapsedMs = Number(elapsedNs) / 1e6;
  const payloadBytes = records * recordSizeBytes;
  const elapsedS = Math.max(elapsedMs, Number.MIN_VALUE) / 1000;
  return {
    records,
    payloadBytes,
    elapsedMs,
    recordsPerS: records / elapsedS,
    mbPerS: payloadBytes / 1e6 / elapsedS,
    latency: histogram.summary(),
  };
}

export function resultOf(kind: WorkloadKind, records: number, recordSizeBytes: number, elapsedNs: bigint, histogram: LatencyHistogram): WorkloadResult {
  return { kind, ...measurementOf(records, recordSizeBytes, elapsedNs, histogram) };
}
