#!/usr/bin/env node
// Pipelined group commit: the same workloads with 1, 2 and 4 batches in flight
// (`batchesInFlightMax`), interleaved round by round (the order reversed every other round, so a
// drift of the disk over the run lands on every variant alike), one process per trial through
// bench/trial.js. Reports each variant's median over the rounds, its ratio to depth 1, and what
// pipelining cost in space: batches that started on a fresh block, the zeros before them, and the
// space amplification.
//
//   node bench/pipeline-depth.mjs [--rounds 3] [--depths 1,2,4] [--workloads closed-1,closed-256,closed-4096,open,bulk] [--quick]
//
// Results: bench/results/<date>-pipeline-depth.{json,md}.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    depths: { type: 'string', default: '1,2,4' },
    workloads: { type: 'string', default: 'closed-1,closed-256,closed-4096,open,bulk' },
    quick: { type: 'boolean', default: false },
  },
  strict: true,
});
const rounds = Number(values.rounds);
const depths = values.depths.split(',').map(Number);
const workloads = values.workloads.split(',');
const trialPath = new URL('./trial.js', import.meta.url).pathname;

/** One trial in its own process; its JSON line, or an error row. */
function trial(workload, depth) {
  const args = [trialPath, '--system', 'ringwal', '--workload', workload, '--wal-options', JSON.stringify({ batchesInFlightMax: depth })];
  if (values.quick) args.push('--quick');
  const run = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 180_000 });
  const line = run.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line);
  } catch {
    return { ok: false, error: `no result (exit ${run.status}): ${run.stderr.slice(-500)}` };
  }
}

const median = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor((sorted.length - 1) / 2)];
};

const results = [];
for (let round = 1; round <= rounds; round++) {
  const order = round % 2 === 1 ? depths : [...depths].reverse();
  for (const workload of workloads) {
    for (const depth of order) {
      const r = trial(workload, depth);
      if (!r.ok) throw new Error(`${workload} depth ${depth}: ${r.error}`);
      const row = {
        round,
        workload,
        depth,
        recordsPerS: r.recordsPerS,
        mbPerS: r.mbPerS,
        p50Us: r.latency.p50Us,
        p99Us: r.latency.p99Us,
        maxUs: r.latency.maxUs,
        batches: r.stats.batches,
        pipelinedBatches: r.stats.pipelinedBatches,
        gapBytes: r.stats.gapBytes,
        peak: r.stats.batchesInFlightPeak,
        syncLatencyUs: r.stats.syncLatencyUs,
        spaceAmplification: r.stats.spaceAmplification,
      };
      results.push(row);
      process.stderr.write(
        `round ${round} ${workload} depth ${depth}: ${Math.round(row.recordsPerS)} rec/s, p99 ${row.p99Us} µs, ${row.pipelinedBatches}/${row.batches} pipelined\n`,
      );
    }
  }
}

const fmt = (x, digits = 0) => (Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '—');
const lines = [
  `# batchesInFlightMax 1 vs 2 vs 4, ${new Date().toISOString()} (Node ${process.version})`,
  '',
  `\`node bench/pipeline-depth.mjs --rounds ${rounds} --depths ${values.depths} --workloads ${values.workloads}${values.quick ? ' --quick' : ''}\`: median of ${rounds} interleaved rounds, one process per trial.`,
  '',
  '| workload | depth | records/s | × depth 1 | MB/s | p50 µs | p99 µs | max µs | batches | pipelined | gap bytes/batch | sync p99 µs | space amp. | rounds (records/s) |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
];
for (const workload of workloads) {
  const base = median(results.filter((r) => r.workload === workload && r.depth === depths[0]).map((r) => r.recordsPerS));
  for (const depth of depths) {
    const rows = results.filter((r) => r.workload === workload && r.depth === depth);
    const m = (f) => median(rows.map(f));
    const rate = m((r) => r.recordsPerS);
    lines.push(
      `| ${workload} | ${depth} | ${fmt(rate)} | ${fmt(rate / base, 2)}× | ${fmt(
        m((r) => r.mbPerS),
        1,
      )} | ${fmt(m((r) => r.p50Us))} | ${fmt(m((r) => r.p99Us))} | ${fmt(m((r) => r.maxUs))} | ${fmt(m((r) => r.batches))} | ${fmt(m((r) => r.pipelinedBatches))} | ${fmt(m((r) => (r.pipelinedBatches === 0 ? 0 : r.gapBytes / r.pipelinedBatches)))} | ${fmt(m((r) => r.syncLatencyUs.p99))} | ${fmt(
        m((r) => r.spaceAmplification),
        3,
      )} | ${rows.map((r) => fmt(r.recordsPerS)).join(' / ')} |`,
    );
  }
}
const text = `${lines.join('\n')}\n`;
process.stdout.write(text);
const resultsDir = new URL('./results/', import.meta.url).pathname;
mkdirSync(resultsDir, { recursive: true });
const stem = `${resultsDir}${new Date().toISOString().slice(0, 10)}-pipeline-depth${values.quick ? '-quick' : ''}`;
writeFileSync(`${stem}.json`, `${JSON.stringify(results, null, 1)}\n`);
writeFileSync(`${stem}.md`, text);
process.stderr.write(`kept ${stem}.{json,md}\n`);
