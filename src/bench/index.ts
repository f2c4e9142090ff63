export type { AppendAdapter } from './adapter.js';
export { LatencyHistogram, type LatencySummary } from './histogram.js';
export { runClosedLoop, type ClosedLoopOptions } from './closed-loop.js';
export { runOpenLoop, type OpenLoopOptions, type OpenLoopResult } from './open-loop.js';
export { runBulk, type BulkOptions } from './bulk.js';
export { readPageCacheBytes, pageCacheChange, type PageCacheChange } from './page-cache.js';
export { ProgressReporter } from './progress-reporter.js';
export { buildSuite, describeWorkload, runWorkload, suiteDefaults, workloadKinds, type SuiteOptions, type WorkloadSpec } from './suite.js';
export { measurementOf } from './workload-result.js';
export type { Measurement, Progress, ProgressCallback, WorkloadKind, WorkloadResult } from './workload-result.js';
export { NullStore } from './null-store.js';
export {
  diskLimitsDefaults,
  diskLimitsQuick,
  diskProbeIds,
  measureDiskLimits,
  measureDiskQd1,
  measureDiskQd1Append,
  measureDiskQd1Mib,
  measureDiskSequentialQd1,
  measureDiskSequentialQd4,
  type DiskLimits,
  type DiskLimitsOptions,
  type DiskMeasurement,
  type DiskProbeOutcome,
  type DiskProbeId,
  type SequentialProbeOptions,
} from './disk-limits.js';
export {
  busyLoopResolutionMs,
  RuntimeProbe,
  sleepingLoopResolutionMs,
  type EventLoopDelaySummary,
  type GcSummary,
  type RuntimeDiagnostics,
} from './runtime-probe.js';
export {
  bestPeerRow,
  diskReference,
  diskSystem,
  findRow,
  nullSystem,
  peerSystems,
  quotient,
  ratiosOf,
  type ComparedRow,
  type RowRatios,
} from './reference-ratios.js';
export { checkTargets, type TargetCheck, type TargetVerdict } from './targets.js';
export { writerDiagnosticsOf, type SyncLatencySummary, type WriterDiagnostics } from './writer-diagnostics.js';
export { latencySourcesCells, latencySourcesHeader } from './latency-sources-table.js';
