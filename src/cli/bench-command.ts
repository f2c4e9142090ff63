import { mkdirSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pageCacheChange, readPageCacheBytes, type PageCacheChange } from '../bench/page-cache.js';
import { ProgressReporter } from '../bench/progress-reporter.js';
import { buildSuite, describeWorkload, runWorkload, type WorkloadSpec } from '../bench/suite.js';
import type { WorkloadResult } from '../bench/workload-result.js';
import { benchUsage, parseBenchArgs, type BenchOptions } from './bench-options.js';
import type { Output } from './output.js';
import { UsageError } from './usage-error.js';

/**
 * The bench directory is emptied before each workload. This marker proves that a directory was
 * made by `ringwal bench`, so that a mistyped --dir can never make it delete someone's data.
 */
const markerFileName = '.ringwal-bench';

interface BenchRow {
  id: string;
  description: string;
  result: WorkloadResult;
  pageCache: PageCacheChange | undefined;
}

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
  });
  const dir = resolve(options.dir);
  const progress = new ProgressReporter(output.stderr);
  const rows: BenchRow[] = [];
  let engine: { backend: string; directIo: boolean } | undefined;
  try {
    for (const spec of specs) {
      const { row, backend, directIo } = await runOne(dir, spec, options, progress);
      rows.push(row);
      engine = { backend, directIo };
      progress.clear();
      if (!options.json && rows.length === 1) output.stdout.write(`${engineLine(engine, options)}\n`);
      if (!options.json && progress.enabled) output.stderr.write(`${spec.id}: done\n`);
    }
  } finally {
    progress.clear();
    if (existsSync(join(dir, markerFileName))) rmSync(dir, { recursive: true, force: true });
  }
  if (options.json) {
    output.stdout.write(
      `${JSON.stringify({
        backend: engine?.backend,
        directIo: engine?.directIo,
        syncMethod: options.syncMethod,
        dir,
        workloads: rows.map(({ id, result, pageCache }) => ({ id, ...result, pageCache })),
      })}\n`,
    );
  } else {
    output.stdout.write(`${table(rows)}\n`);
  }
  return 0;
}

async function runOne(dir: string, spec: WorkloadSpec, options: BenchOptions, progress: ProgressReporter) {
  freshDirectory(dir);
  // Loaded here, not at the top, so that `ringwal --help` works even where the addon is not built.
  const { Wal } = await import('../index.js');
  const wal = await Wal.open(dir, { backend: options.backend, directIo: options.directIo, syncMethod: options.syncMethod });
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
    return {
      row: { id: spec.id, description: describeWorkload(spec), result, pageCache },
      backend: wal.backend,
      directIo: wal.directIo,
    };
  } finally {
    await wal.close();
  }
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

function engineLine(engine: { backend: string; directIo: boolean }, options: BenchOptions): string {
  return `backend: ${engine.backend}, O_DIRECT: ${engine.directIo ? 'yes' : 'no'}, sync: ${options.syncMethod}`;
}

function table(rows: BenchRow[]): string {
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
  const widths = header.map((title, column) => Math.max(title.length, ...body.map((cells) => cells[column]!.length)));
  const line = (cells: string[]) => cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
  const notes = rows.some((row) => row.id === 'bulk') ? '\nbulk latency is per batch of 256 records.' : '';
  return [line(header), ...body.map(line)].join('\n') + notes;
}

function integer(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}
