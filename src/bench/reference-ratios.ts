/**
 * A store's rows read against the references measured in the same run: the null store (what the
 * benchmark process itself reaches), the best peer, and the disk's own limits. The peer
 * comparison (bench/run.js) and `ringwal bench` both divide with these functions, so a ratio
 * means the same in both.
 */

/** One row of a comparison as the ratios need it: a peer trial's JSON line, or a row of `ringwal bench`. */
export interface ComparedRow {
  system: string;
  /** A workload id (`closed-1`, `closed-256`, `closed-4096`, `open`, `bulk`) or, for `disk`, a probe id. */
  workload: string;
  /** False for a trial that failed: it is never a reference and has no ratios. */
  ok: boolean;
  recordsPerS?: number;
  mbPerS?: number;
  latency?: { p99Us: number };
}

export const nullSystem = 'null';
export const diskSystem = 'disk';
/** The peers "× best peer" picks from: every durable store of the comparison that is not ringwal. */
export const peerSystems: readonly string[] = ['lmdb', 'better-sqlite3', 'classic-level', 'fs-fdatasync'];

/** The disk probes the ratios divide by (ids of src/bench/disk-limits.ts). */
export const diskReference = {
  /** 4 KiB write + fdatasync at queue depth 1, writes/s: closed loops. */
  syncedSmall: 'qd1',
  /** 1 MiB write + fdatasync at queue depth 1, MB/s: bulk. */
  syncedLarge: 'qd1-1mib',
  /** 1 MiB writes, four in flight, one fdatasync at the end, MB/s: bulk, against the device's bandwidth. */
  sequentialQd4: 'sequential-qd4',
} as const;

export interface RowRatios {
  /** records/s ÷ the null store's records/s on the same workload. */
  overNull?: number;
  /** records/s ÷ the best peer's on the same workload (ringwal's rows only), and which peer that was. */
  overBestPeer?: number;
  bestPeer?: string;
  /** records/s ÷ lmdb's on the same workload. */
  overLmdb?: number;
  /** `closed-*`: records/s ÷ the disk's 4 KiB QD1 write+fdatasync rate (records per sync). `bulk`: MB/s ÷ its 1 MiB QD1 write+fdatasync MB/s. */
  overDisk?: number;
  /** `bulk`: MB/s ÷ the disk's sequential MB/s with four writes in flight. */
  overDiskQd4?: number;
  /** `open`: this row's p99 − the null store's p99, in milliseconds: what the store adds to the harness's own tail. */
  p99OverNullMs?: number;
}

/** a ÷ b, or undefined when either is missing or not a finite number, or b is not above zero. */
export function quotient(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b <= 0) return undefined;
  return a / b;
}

/** The row of `system` on `workload` that succeeded, if any. */
export function findRow(rows: readonly ComparedRow[], system: string, workload: string): ComparedRow | undefined {
  return rows.find((row) => row.ok && row.system === system && row.workload === workload);
}

/** The peer with the highest records/s on `workload`, among those that ran and succeeded. */
export function bestPeerRow(rows: readonly ComparedRow[], workload: string): ComparedRow | undefined {
  let best: ComparedRow | undefined;
  for (const system of peerSystems) {
    const row = findRow(rows, system, workload);
    if (row?.recordsPerS === undefined || !Number.isFinite(row.recordsPerS)) continue;
    if (best === undefined || row.recordsPerS > best.recordsPerS!) best = row;
  }
  return best;
}

/** The ratios of one store's row; references are the other rows of the same run. Empty for references and failed rows. */
export function ratiosOf(row: ComparedRow, rows: readonly ComparedRow[]): RowRatios {
  if (!row.ok || row.system === nullSystem || row.system === diskSystem) return {};
  const ratios: RowRatios = {};
  const nullRow = findRow(rows, nullSystem, row.workload);
  ratios.overNull = quotient(row.recordsPerS, nullRow?.recordsPerS);
  ratios.overLmdb = quotient(row.recordsPerS, findRow(rows, 'lmdb', row.workload)?.recordsPerS);
  if (!peerSystems.includes(row.system)) {
    const best = bestPeerRow(rows, row.workload);
    ratios.overBestPeer = quotient(row.recordsPerS, best?.recordsPerS);
    if (ratios.overBestPeer !== undefined) ratios.bestPeer = best!.system;
  }
  if (row.workload.startsWith('closed-')) {
    ratios.overDisk = quotient(row.recordsPerS, findRow(rows, diskSystem, diskReference.syncedSmall)?.recordsPerS);
  } else if (row.workload === 'bulk') {
    ratios.overDisk = quotient(row.mbPerS, findRow(rows, diskSystem, diskReference.syncedLarge)?.mbPerS);
    ratios.overDiskQd4 = quotient(row.mbPerS, findRow(rows, diskSystem, diskReference.sequentialQd4)?.mbPerS);
  } else if (row.workload === 'open') {
    const p99Us = row.latency?.p99Us;
    const nullP99Us = nullRow?.latency?.p99Us;
    if (p99Us !== undefined && nullP99Us !== undefined && Number.isFinite(p99Us) && Number.isFinite(nullP99Us))
      ratios.p99OverNullMs = (p99Us - nullP99Us) / 1000;
  }
  // Leave out what could not be computed, so that the JSON holds only numbers.
  for (const key of Object.keys(ratios) as (keyof RowRatios)[]) if (ratios[key] === undefined) delete ratios[key];
  return ratios;
}
