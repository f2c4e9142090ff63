import type { AppendAdapter } from './adapter.js';
import { runBulk, bulkBytesDefault, bulkRecordSizeBytes } from './bulk.js';
import { runClosedLoop } from './closed-loop.js';
import { runOpenLoop } from './open-loop.js';
import type { ProgressCallback, WorkloadKind, WorkloadResult } from './workload-result.js';

/**
 * The one protocol that both `ringwal bench` and the peer comparison run, so that their numbers
 * can be put side by side.
 */
export type WorkloadSpec =
  | { id: string; kind: 'closed'; producers: number; recordsMax: number; durationMsMax: number }
  | { id: string; kind: 'open'; ratePerS: number; durationMs: number }
  | { id: string; kind: 'bulk'; bytesMax: number; durationMsMax: number };

export const workloadKinds: readonly WorkloadKind[] = ['closed', 'open', 'bulk'];

export const suiteDefaults = {
  producers: [1, 256, 4096],
  /** Large enough that a group-committing store runs for seconds, not milliseconds. */
  recordsMax: 1_000_000,
  /**
   * One producer is bounded by one sync per record: about 3,400 records/s on a disk that does
   * 3,400 synced writes/s, so it is capped by time rather than by count.
   */
  singleProducerDurationMs: 5_000,
  /** A cap on the concurrent and bulk runs, so that a slow store cannot hold the suite for minutes. */
  durationMsMax: 15_000,
  ratePerS: 100_000,
  openDurationMs: 5_000,
  bulkBytes: bulkBytesDefault,
} as const;

/** Smaller counts for a smoke run that only shows that every system and workload works. */
export const suiteQuick = {
  recordsMax: 20_000,
  durationMsMax: 3_000,
  singleProducerDurationMs: 1_000,
  openDurationMs: 1_000,
  bulkBytes: 64 * 1024 * 1024,
} as const;

export interface SuiteOptions {
  kinds?: readonly WorkloadKind[];
  producers?: readonly number[];
  /** Closed loops: records per run. Bulk: records of 4 KiB per run. */
  recordsMax?: number;
  /** Caps every closed and bulk run, and sets the duration of the open loop. */
  durationMs?: number;
  ratePerS?: number;
  quick?: boolean;
}

export function buildSuite(options: SuiteOptions = {}): WorkloadSpec[] {
  const scale = options.quick === true ? { ...suiteDefaults, ...suiteQuick } : suiteDefaults;
  const kinds = options.kinds ?? workloadKinds;
  const recordsMax = options.recordsMax ?? scale.recordsMax;
  const specs: WorkloadSpec[] = [];
  if (kinds.includes('closed')) {
    for (const producers of options.producers ?? scale.producers) {
      const capMs = producers === 1 ? scale.singleProducerDurationMs : scale.durationMsMax;
      specs.push({ id: `closed-${producers}`, kind: 'closed', producers, recordsMax, durationMsMax: options.durationMs ?? capMs });
    }
  }
  if (kinds.includes('open')) {
    const ratePerS = options.ratePerS ?? scale.ratePerS;
    specs.push({ id: 'open', kind: 'open', ratePerS, durationMs: options.durationMs ?? scale.openDurationMs });
  }
  if (kinds.includes('bulk')) {
    const bytesMax = options.recordsMax === undefined ? scale.bulkBytes : options.recordsMax * bulkRecordSizeBytes;
    specs.push({ id: 'bulk', kind: 'bulk', bytesMax, durationMsMax: options.durationMs ?? scale.durationMsMax });
  }
  return specs;
}

export function runWorkload(adapter: AppendAdapter, spec: WorkloadSpec, onProgress?: ProgressCallback): Promise<WorkloadResult> {
  switch (spec.kind) {
    case 'closed':
      return runClosedLoop(adapter, { ...spec, onProgress });
    case 'open':
      return runOpenLoop(adapter, { ...spec, onProgress });
    case 'bulk':
      return runBulk(adapter, { ...spec, onProgress });
  }
}

/** A short description of a spec, for tables and progress lines. */
export function describeWorkload(spec: WorkloadSpec): string {
  switch (spec.kind) {
    case 'closed':
      return `closed loop, ${spec.producers} producer${spec.producers === 1 ? '' : 's'}, 128 B`;
    case 'open':
      return `open loop, ${spec.ratePerS.toLocaleString('en-US')}/s, 128 B`;
    case 'bulk':
      return 'bulk, batches of 256 × 4 KiB';
  }
}
