import { mkdirSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { diskLimitsDefaults, diskLimitsQuick, measureDiskLimits, type DiskLimits, type DiskProbeOutcome } from '../bench/disk-limits.js';
import { latencySourcesCells, latencySourcesHeader } from '../bench/latency-sources-table.js';
import { NullStore } from '../bench/null-store.js';
import { pageCacheChange, readPageCacheBytes, type PageCacheChange } from '../bench/page-cache.js';
import { ProgressReporter } from '../bench/progress-reporter.js';
import { diskReference, diskSystem, nullSystem, ratiosOf, type ComparedRow, type RowRatios } from '../bench/reference-ratios.js';
import { buildSuite, describeWorkload, runWorkload, type WorkloadSpec } from '../bench/suite.js';
import { checkTargets, type TargetCheck } from '../bench/targets.js';
import type { WorkloadResult } from '../bench/workload-result.js';
import { writerDiagnosticsOf, type WriterDiagnostics } from '../bench/writer-diagnostics.js';
import { benchUsage, parseBenchArgs, type BenchOptions } from './bench-options.js';
import type { Output } from './output.js';
import { textTable } from './text-table.js';
import { UsageError } from './usage-error.js';

/**
 * The bench directory is emptied before each workload. This marker proves that a directory was
 * made by `ringwal bench`, so that a mistyped --dir can never make it delete someone's data.
 */
const markerFileName = '.ringwal-bench';
/** The name ringwal's rows have among the compared rows (the name the targets check). */
const ringwalSystem = 'ringwal';

interface BenchRow {
  id: string;
  description: string;
  result: WorkloadResult;
  pageCache: PageCacheChange | undefined;
  writer: WriterDiagnostics | undefined;
}

interface NullRow {
  id: string;
  result: WorkloadResult;
}

/** The disk probes in the order they are printed, with the compared-row id each one is known by. */
const diskProbes: readonly { key: keyof DiskLimits; workload: string; label: string }[] = [
  { key: 'qd1', workload: diskReference.syncedSmall, label: '4 KiB write + fdatasync, QD1' },
  { key: 'qd1Mib', workload: diskReference.syncedLarge, label: '1 MiB write + fdatasync, QD1' },
  { key: 'sequentialQd4', workload: diskReference.sequentialQd4, label: '1 MiB writes, QD4, one fdatasync at the end' },
];

export async function benchCommand(argv: string[], output: Output): Promise<number> {
  const options = parseBenchArgs(argv);
  if (options.help) {
    output.stdout.write(benchUsage);
    return 0;
  }
  const specs = buildSuite({
    kinds: options.kinds,
    producers: options.producers,
    recordsMax: options.recordsMax,
    durationMs: options.durationMs,
    ratePerS: options.ratePerS,
    quick: options.quick,
  });
  const dir = resolve(options.dir);
  const progress = new ProgressReporter(output.stderr);
  const rows: BenchRow[] = [];
  const nullRows: NullRow[] = [];
  let engine: { backend: string; directIo: boolean } | undefined;
  let disk: DiskLimits;
  try {
    // The disk first, before any WAL has written, so that the limits are not measured while the
    // device still flushes a workload's writes.
    freshDirectory(dir);
    progress.update('disk limits (O_DIRECT probes)', 0);
    disk = await measureDiskLimits(dir, options.quick ? diskLimitsQuick : diskLimitsDefaults);
    progress.clear();
    for (const spec of specs) {
      const { row, backend, directIo } = await runOne(dir, spec, options, progress);
      rows.push(row);
      engine = { backend, directIo };
      progress.clear();
      if (!options.json && rows.length === 1) output.stdout.write(`${engineLine(engine, options)}\n`);
      nullRows.push({ id: spec.id, result: await runNull(spec, progress) });
      progress.clear();
      if (!options.json && progress.enabled) output.stderr.write(`${spec.id}: done\n`);
    }
  } finally {
    progress.clear();
    if (existsSync(join(dir, markerFileName))) rmSync(dir, { recursive: true, force: true });
  }
  const compared = comparedRows(rows, nullRows, disk);
  const ratios = new Map(
    rows.map((row) => [
      row.id,
      ratiosOf(
        compared.find((c) => c.system === ringwalSystem && c.workload === row.id)!,
        compared,
      ),
    ]),
  );
  const targets = checkTargets(compared, ringwalSystem);
  if (options.json) {
    output.stdout.write(
      `${JSON.stringify({
        backend: engine?.backend,
        directIo: engine?.directIo,
        syncMethod: options.syncMethod,
        encrypted: options.keyFile !== undefined,
        dir,
        workloads: rows.map(({ id, result, pageCache, writer }) => ({ id, ...result, pageCache, writer, ratios: ratios.get(id) })),
        null: nullRows.map(({ id, result }) => ({ id, ...result })),
        disk,
        targets,
      })}\n`,
    );
  } else {
    output.stdout.write(
      [
        table(rows),
        `Harness ceiling: the same workloads against a null store (every append resolves on the next tick, nothing is kept)\n${nullTable(nullRows)}`,
        `Disk limits, O_DIRECT under ${dir}\n${diskTable(disk)}`,
        `ringwal ÷ the references above\n${ratiosTable(rows, ratios)}\n` +
          '× disk: closed loops ÷ the 4 KiB QD1 write+fdatasync rate (records per sync); bulk ÷ the 1 MiB QD1 write+fdatasync MB/s.\n' +
          '× disk QD4: bulk ÷ the QD4 write MB/s. p99 − null: the open loop p99 minus the null store’s.',
        ...latencySourcesSection(rows, nullRows),
        `Targets (checks against peers need the peer comparison, node bench/run.js in the repository)${options.quick ? '; a --quick run measures little' : ''}\n${targetsTable(targets)}`,
      ].join('\n\n') + '\n',
    );
  }
  return 0;
}

async function runOne(dir: string, spec: WorkloadSpec, options: BenchOptions, progress: ProgressReporter) {
  freshDirectory(dir);
  // Loaded here, not at the top, so that `ringwal --help` works even where the addon is not built.
  const { Wal } = await import('../index.js');
  const wal = await Wal.open(dir, {
    backend: options.backend,
    directIo: options.directIo,
    syncMethod: options.syncMethod,
    ...(options.keyFile === undefined ? {} : { encryption: { keyFile: options.keyFile, keyId: options.keyId } }),
  });
  try {
    const adapter = {
      append: (payload: Uint8Array) => wal.append(payload),
      appendBatch: (payloads: Uint8Array[]) => wal.appendBatch(payloads),
    };
    const label = `${spec.id} (${describeWorkload(spec)})`;
    const pageCacheBeforeBytes = readPageCacheBytes();
    const result = await runWorkload(adapter, spec, ({ recordsDone, fraction }) => {
      progress.update(label, fraction, `${recordsDone.toLocaleString('en-US')} records`);
    });
    const pageCache = pageCacheChange(pageCacheBeforeBytes, readPageCacheBytes(), result.payloadBytes);
    // A fresh WAL per workload, so its stats() are this workload's alone.
    const writer = writerDiagnosticsOf(await wal.stats());
    return {
      row: { id: spec.id, description: describeWorkload(spec), result, pageCache, writer },
      backend: wal.backend,
      directIo: wal.directIo,
    };
  } finally {
    await wal.close();
  }
}

/** The same workload against the null store, in this process, right after ringwal's run. */
async function runNull(spec: WorkloadSpec, progress: ProgressReporter): Promise<WorkloadResult> {
  const label = `${spec.id} (null store)`;
  return runWorkload(new NullStore().adapter, spec, ({ recordsDone, fraction }) => {
    progress.update(label, fraction, `${recordsDone.toLocaleString('en-US')} records`);
  });
}

function freshDirectory(dir: string): void {
  if (existsSync(dir)) {
    const entries = readdirSync(dir);
    if (entries.length > 0 && !entries.includes(markerFileName)) {
      throw new UsageError(`${dir} is not empty and was not made by ringwal bench; pick another --dir`, 'ringwal bench');
    }
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, markerFileName), 'made by ringwal bench; removed with this directory\n');
}

/** ringwal's rows, the null store's and the disk's, in the shape the ratios and targets take. */
function comparedRows(rows: readonly BenchRow[], nullRows: readonly NullRow[], disk: DiskLimits): ComparedRow[] {
  const compared: ComparedRow[] = [
    ...rows.map(({ id, result }) => ({ system: ringwalSystem, workload: id, ok: true, ...result })),
    ...nullRows.map(({ id, result }) => ({ system: nullSystem, workload: id, ok: true, ...result })),
  ];
  for (const probe of diskProbes) {
    const outcome = disk[probe.key];
    compared.push(outcome.ok ? { system: diskSystem, workload: probe.workload, ...outcome } : { system: diskSystem, workload: probe.workload, ok: false });
  }
  return compared;
}

function engineLine(engine: { backend: string; directIo: boolean }, options: BenchOptions): string {
  return `backend: ${engine.backend}, O_DIRECT: ${engine.directIo ? 'yes' : 'no'}, sync: ${options.syncMethod}, encrypted: ${options.keyFile === undefined ? 'no' : `yes (key id ${options.keyId})`}`;
}

function table(rows: readonly BenchRow[]): string {
  const header = ['workload', 'records', 'records/s', 'MB/s', 'p50 µs', 'p99 µs', 'p99.9 µs', 'page cache Δ MB', 'MB/GB written'];
  const body = rows.map(({ id, description, result, pageCache }) => [
    `${id}: ${description}`,
    integer(result.records),
    integer(result.recordsPerS),
    result.mbPerS.toFixed(1),
    integer(result.latency.p50Us),
    integer(result.latency.p99Us),
    integer(result.latency.p999Us),
    pageCache === undefined ? 'n/a' : pageCache.deltaMb.toFixed(1),
    pageCache === undefined ? 'n/a' : pageCache.mbPerGbWritten.toFixed(0),
  ]);
  const notes = rows.some((row) => row.id === 'bulk') ? '\nbulk latency is per batch of 256 records.' : '';
  return textTable(header, body) + notes;
}

function nullTable(nullRows: readonly NullRow[]): string {
  const header = ['workload', 'records/s', 'MB/s', 'p50 µs', 'p99 µs', 'p99.9 µs', 'max µs'];
  return textTable(
    header,
    nullRows.map(({ id, result }) => [
      id,
      integer(result.recordsPerS),
      result.mbPerS.toFixed(1),
      integer(result.latency.p50Us),
      integer(result.latency.p99Us),
      integer(result.latency.p999Us),
      integer(result.latency.maxUs),
    ]),
  );
}

function diskTable(disk: DiskLimits): string {
  const header = ['limit', 'writes/s', 'MB/s', 'p50 µs', 'p99 µs', 'max µs'];
  const cells = (outcome: DiskProbeOutcome): string[] =>
    outcome.ok
      ? [
          integer(outcome.recordsPerS),
          outcome.mbPerS.toFixed(1),
          integer(outcome.latency.p50Us),
          integer(outcome.latency.p99Us),
          integer(outcome.latency.maxUs),
        ]
      : [`error: ${outcome.error.split('\n')[0]}`];
  return textTable(
    header,
    diskProbes.map((probe) => [probe.label, ...cells(disk[probe.key])]),
  );
}

function ratiosTable(rows: readonly BenchRow[], ratios: ReadonlyMap<string, RowRatios>): string {
  const header = ['workload', '× null', '× disk', '× disk QD4', 'p99 − null ms'];
  const absent = '—';
  const times = (value: number | undefined): string => (value === undefined ? absent : `${value.toFixed(value < 10 ? 2 : 0)}×`);
  return textTable(
    header,
    rows.map(({ id }) => {
      const ratio = ratios.get(id) ?? {};
      const p99 = ratio.p99OverNullMs;
      return [
        id,
        times(ratio.overNull),
        times(ratio.overDisk),
        times(ratio.overDiskQd4),
        p99 === undefined ? absent : `${p99 >= 0 ? '+' : ''}${p99.toFixed(2)}`,
      ];
    }),
  );
}

/** The open loop's latency sources, ringwal's and the null store's; nothing when no open loop ran. */
function latencySourcesSection(rows: readonly BenchRow[], nullRows: readonly NullRow[]): string[] {
  const open = rows.find((row) => row.result.kind === 'open');
  const nullOpen = nullRows.find((row) => row.result.kind === 'open');
  if (open === undefined || nullOpen === undefined) return [];
  const body = [
    [ringwalSystem, ...latencySourcesCells(open.result.runtime, open.writer)],
    [nullSystem, ...latencySourcesCells(nullOpen.result.runtime, undefined)],
  ];
  return [
    `Where the open loop's latency comes from (this process's event loop and GC; ringwal's batches)\n${textTable(['system', ...latencySourcesHeader], body)}`,
  ];
}

function targetsTable(checks: readonly TargetCheck[]): string {
  return textTable(
    ['target', 'measured', 'verdict'],
    checks.map((check) => [check.target, check.measured, check.reason === undefined ? check.verdict : `${check.verdict} (${check.reason})`]),
    3,
  );
}

function integer(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}
