/**
 * What ringwal's own `wal.stats()` says about where an append's time went: how many batches (one
 * write + sync each) the records were grouped into, and, where the writer measures it, the
 * latency of those syncs. Read defensively from a plain object, because the trials hand it over as
 * JSON and because the fields grow with the writer: `syncLatencyUs` is read when it is there and
 * has the shape `{ count, p50, p99, max }`, and is left out otherwise.
 */

export interface SyncLatencySummary {
  count: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
}

export interface WriterDiagnostics {
  batches: number;
  records: number;
  /** records ÷ batches: how many appends shared one sync. */
  recordsPerBatch: number;
  /** Bytes the writer wrote (headers, padding and rewritten tail blocks included). */
  bytesWritten: number;
  /** From `stats().syncLatencyUs` when the writer reports it. */
  syncLatency?: SyncLatencySummary;
}

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value) && value >= 0;

function syncLatencyOf(value: unknown): SyncLatencySummary | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { count, p50, p99, max } = value as Record<string, unknown>;
  if (!isCount(count) || !isCount(p50) || !isCount(p99) || !isCount(max)) return undefined;
  return { count, p50Us: p50, p99Us: p99, maxUs: max };
}

/** The batch figures of a ringwal `stats()` object, or undefined when it has none (another store's, or no stats). */
export function writerDiagnosticsOf(stats: unknown): WriterDiagnostics | undefined {
  if (typeof stats !== 'object' || stats === null) return undefined;
  const { batches, records, bytesWritten, syncLatencyUs } = stats as Record<string, unknown>;
  if (!isCount(batches) || !isCount(records) || !isCount(bytesWritten)) return undefined;
  const diagnostics: WriterDiagnostics = { batches, records, recordsPerBatch: batches > 0 ? records / batches : 0, bytesWritten };
  const syncLatency = syncLatencyOf(syncLatencyUs);
  if (syncLatency !== undefined) diagnostics.syncLatency = syncLatency;
  return diagnostics;
}
