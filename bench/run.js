#!/usr/bin/env node
// The peer comparison: one process per trial, one protocol for every system. Runs each system ×
// workload in a fresh child (bench/trial.js), collects one JSON line from each, prints a table and
// keeps the results in bench/results/.
import { mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { runTrial } from './run-trial.js';
import { runSegmentsSuite, segmentsSuiteDescription } from './segments.js';
import { systems, diskWorkloads } from './systems/index.js';
import { checkTargets, latencySourcesCells, latencySourcesHeader, ratiosOf, writerDiagnosticsOf } from '../dist/bench/index.js';
import { decimal, integer, markdownTable, ratio } from './table-cells.js';

const usage = `usage: node bench/run.js [options]

  --suite S            peers, segments or all (default: all)
                       peers: every system × workload below; segments: ringwal's segment options
                       (preallocation, double-write buffer, rollovers, space), about 3 minutes
  --systems a,b,..     peers suite: systems to run (default: all): ${Object.keys(systems).join(', ')}
  --workloads a,b,..   peers suite: workloads to run (default: all): closed-1, closed-256, closed-4096, open, bulk
  --quick              small counts: a smoke run that shows every trial works, not a measurement
  --records N          peers suite: records per closed-loop run, and 4 KiB records per bulk run
  --seconds S          peers suite: time cap of every closed and bulk run, duration of the open loop
  --rate R             peers suite: open-loop rate in records/s (default 100000)
  --dist DIR           both suites: the ringwal rows load this build of ringwal (a dist/ directory,
                       e.g. one built before a change) instead of this tree's; the workloads stay this tree's
  --help               this text`;

const workloadIds = ['closed-1', 'closed-256', 'closed-4096', 'open', 'bulk'];
const suiteIds = ['peers', 'segments', 'all'];

const peersLegend = [
  'null = the harness ceiling: every append resolves on the next tick, nothing is stored. Disk rows (O_DIRECT, measured before the stores):',
  'qd1 = 4 KiB write + fdatasync one at a time (writes/s); qd1-1mib = 1 MiB write + fdatasync one at a time (MB/s);',
  'sequential-qd1 = 1 MiB writes one at a time into a new file, one fdatasync at the end; sequential-qd4 = 1 MiB writes, four in flight,',
  'over a region written beforehand, one fdatasync at the end (MB/s).',
  '× null: records/s ÷ null records/s on the same workload. × best peer (ringwal rows): ÷ the best of lmdb, better-sqlite3,',
  'classic-level, fs-fdatasync on the same workload. × lmdb: ÷ lmdb. × disk: closed loops ÷ disk qd1 writes/s (records per sync);',
  'bulk MB/s ÷ disk qd1-1mib MB/s. × disk QD4: bulk MB/s ÷ disk sequential-qd4 MB/s. p99 − null ms: open loop p99 minus the null p99.',
].join('\n');

function parseList(text, known, what) {
  if (text === undefined) return known;
  const items = text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  for (const item of items) {
    if (!known.includes(item)) throw new Error(`unknown ${what} '${item}'; known: ${known.join(', ')}`);
  }
  return items;
}

const signed = (value) => (value === undefined ? '' : `${value >= 0 ? '+' : ''}${value.toFixed(2)}`);

/** Every row of the run with its ratios to the references of the same run (src/bench/reference-ratios.ts). */
function peersTable(rows) {
  const header = [
    'workload',
    'system',
    'records/s',
    'MB/s',
    'p50 µs',
    'p99 µs',
    'p99.9 µs',
    'max µs',
    'page cache MB/GB',
    '× null',
    '× best peer',
    '× lmdb',
    '× disk',
    '× disk QD4',
    'p99 − null ms',
  ];
  const body = rows.map((row) => {
    if (!row.ok) {
      const reason = String(row.error).split('\n')[0].slice(0, 160);
      return [row.workload, row.system, `error: ${reason}`, ...Array(header.length - 3).fill('')];
    }
    const latency = row.latency;
    const ratios = ratiosOf(row, rows);
    return [
      row.workload,
      row.system,
      integer(row.recordsPerS),
      decimal(row.mbPerS),
      integer(latency.p50Us),
      integer(latency.p99Us),
      integer(latency.p999Us),
      integer(latency.maxUs),
      decimal(row.pageCache?.mbPerGbWritten, 0),
      ratio(ratios.overNull),
      ratios.bestPeer === undefined ? '' : `${ratio(ratios.overBestPeer)} ${ratios.bestPeer}`,
      ratio(ratios.overLmdb),
      ratio(ratios.overDisk),
      ratio(ratios.overDiskQd4),
      signed(ratios.p99OverNullMs),
    ];
  });
  return markdownTable(header, body, 2);
}

/** The open loop's rows with what delayed them besides the store: this process's event loop and GC, and ringwal's batches. */
function latencySourcesTable(rows) {
  const open = rows.filter((row) => row.ok && row.workload === 'open');
  return markdownTable(
    ['system', ...latencySourcesHeader],
    open.map((row) => [row.system, ...latencySourcesCells(row.runtime, writerDiagnosticsOf(row.stats))]),
  );
}

function targetsTable(checks) {
  return markdownTable(
    ['target', 'measured', 'verdict'],
    checks.map((check) => [check.target, check.measured, check.reason === undefined ? check.verdict : `${check.verdict} (${check.reason})`]),
    3,
  );
}

/** Writes `bench/results/<run>.{json,md}` and `bench/results/<latest>.{json,md}`. */
function keepResults(runName, latestName, report, markdown) {
  const resultsDir = new URL('./results/', import.meta.url);
  mkdirSync(resultsDir, { recursive: true });
  for (const name of [runName, latestName]) {
    writeFileSync(new URL(`${name}.json`, resultsDir), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(new URL(`${name}.md`, resultsDir), markdown);
  }
  process.stderr.write(`results: bench/results/${runName}.{json,md} and bench/results/${latestName}.{json,md}\n`);
}

async function runPeersSuite(values, runName) {
  const systemNames = parseList(values.systems, Object.keys(systems), 'system');
  const workloads = parseList(values.workloads, workloadIds, 'workload');
  const shared = [
    ...(values.quick ? ['--quick'] : []),
    ...['records', 'seconds', 'rate'].flatMap((name) => (values[name] === undefined ? [] : [`--${name}`, values[name]])),
  ];
  const ringwalOnly = values.dist === undefined ? [] : ['--dist', values.dist];

  const plan = [];
  if (systemNames.includes('disk')) for (const workload of diskWorkloads) plan.push({ system: 'disk', workload });
  for (const workload of workloads) {
    for (const system of systemNames) if (system !== 'disk') plan.push({ system, workload });
  }

  const startedAt = new Date();
  const rows = [];
  for (const [index, { system, workload }] of plan.entries()) {
    process.stderr.write(`[${index + 1}/${plan.length}] ${system} ${workload} … `);
    const ringwal = systems[system].acceptsWalOptions === true;
    const row = { ...(await runTrial(['--system', system, '--workload', workload, ...shared, ...(ringwal ? ringwalOnly : [])])), system, workload };
    rows.push(row);
    process.stderr.write(row.ok ? `${integer(row.recordsPerS)} records/s, ${decimal(row.mbPerS)} MB/s\n` : `error: ${String(row.error).split('\n')[0]}\n`);
  }

  const table = peersTable(rows);
  const targets = checkTargets(rows);
  const quickNote = values.quick ? 'A quick run: the counts are too small to measure anything; it shows only that every check runs.\n\n' : '';
  const sections =
    `${table}\n\n` +
    `## Where latency comes from (open loop)\n\n${latencySourcesTable(rows)}\n\n` +
    `## Targets (ringwal, io_uring backend)\n\n${quickNote}${targetsTable(targets)}\n`;
  process.stdout.write(sections);

  const report = {
    startedAt: startedAt.toISOString(),
    host: hostname(),
    node: process.version,
    options: { systems: systemNames, workloads, quick: values.quick, records: values.records, seconds: values.seconds, rate: values.rate, dist: values.dist },
    rows: rows.map((row) => ({ ...row, ratios: ratiosOf(row, rows) })),
    targets,
  };
  const markdown =
    `# ringwal peer comparison, ${report.startedAt} on ${report.host} (Node ${report.node}${values.quick ? ', quick' : ''})\n\n` +
    `${peersLegend}\n\n` +
    sections;
  keepResults(runName, 'latest', report, markdown);
}

async function runSegments(values, runName) {
  const startedAt = new Date();
  const { rows, summary, markdown: tables } = await runSegmentsSuite({ quick: values.quick, dist: values.dist });
  process.stdout.write(`${tables}\n`);
  const report = {
    startedAt: startedAt.toISOString(),
    host: hostname(),
    node: process.version,
    options: { suite: 'segments', quick: values.quick, dist: values.dist },
    summary,
    rows,
  };
  const markdown =
    `# ringwal segments suite, ${report.startedAt} on ${report.host} (Node ${report.node}${values.quick ? ', quick' : ''})\n\n` +
    `${segmentsSuiteDescription}\n\n${tables}\n`;
  keepResults(`${runName}-segments`, 'latest-segments', report, markdown);
}

async function main() {
  const { values } = parseArgs({
    options: {
      suite: { type: 'string', default: 'all' },
      systems: { type: 'string' },
      workloads: { type: 'string' },
      quick: { type: 'boolean', default: false },
      records: { type: 'string' },
      seconds: { type: 'string' },
      rate: { type: 'string' },
      dist: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const [suite] = parseList(values.suite, suiteIds, 'suite');
  const peersOnly = ['systems', 'workloads', 'records', 'seconds', 'rate'].filter((name) => values[name] !== undefined);
  if (suite === 'segments' && peersOnly.length > 0) {
    throw new Error(`--${peersOnly[0]} applies to the peers suite only; the segments suite has fixed settings`);
  }
  const runName = `${new Date().toISOString().slice(0, 16).replace(/:/g, '-')}-${hostname()}`;
  if (suite !== 'segments') await runPeersSuite(values, runName);
  if (suite !== 'peers') await runSegments(values, runName);
}

main().catch((error) => {
  process.stderr.write(`${error.message}\n${usage}\n`);
  process.exitCode = 2;
});
