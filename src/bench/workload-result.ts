import type { LatencyHistogram, LatencySummary } from './histogram.js';
import type { RuntimeDiagnostics } from './runtime-probe.js';

export type WorkloadKind = 'closed' | 'open' | 'bulk';

/** The numbers of a measurement: what a workload reports, and the disk probes too. */
export interface Measurement {
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

/** What every workload reports, so that one table can hold every system and workload. */
export interface WorkloadResult extends Measurement {
  kind: WorkloadKind;
  /** Event-loop delay and GC pauses over the measured window: where latency comes from besides the store. */
  runtime: RuntimeDiagnostics;
}

export interface Progress {
  recordsDone: number;
  /** 0 .. 1: how far the workload is toward whichever of its limits comes first. */
  fraction: number;
}

export type ProgressCallback = (progress: Progress) => void;

/** Progress callbacks fire on a timer, never per record, so that reporting costs nothing measurable. */
export const progressIntervalMs = 200;

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

export function resultOf(
  kind: WorkloadKind,
  records: number,
  recordSizeBytes: number,
  elapsedNs: bigint,
  histogram: LatencyHistogram,
  runtime: RuntimeDiagnostics,
): WorkloadResult {
  return { kind, ...measurementOf(records, recordSizeBytes, elapsedNs, histogram), runtime };
}
