// The ratios and targets of the benchmark (src/bench/reference-ratios.ts, src/bench/targets.ts)
// on fixed rows: what each ratio divides by, each target's verdict at and around its threshold,
// and "not measured" (never "met") whenever a row it needs did not run, failed or is zero.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkTargets, latencySourcesCells, latencySourcesHeader, ratiosOf, writerDiagnosticsOf } from '../dist/bench/index.js';

const row = (system, workload, recordsPerS, { mbPerS = (recordsPerS * 128) / 1e6, p99Us = 1000 } = {}) => ({
  system,
  workload,
  ok: true,
  recordsPerS,
  mbPerS,
  latency: { p99Us },
});

/** One run: every reference present, every target met but the one of 1 producer against better-sqlite3. */
function run() {
  return [
    row('disk', 'qd1', 4000),
    row('disk', 'qd1-1mib', 400, { mbPerS: 400 }),
    row('disk', 'sequential-qd4', 800, { mbPerS: 800 }),
    row('null', 'closed-1', 250_000),
    row('null', 'closed-256', 2_000_000),
    row('null', 'closed-4096', 1_000_000),
    row('null', 'open', 100_000, { p99Us: 2000 }),
    row('null', 'bulk', 500_000, { mbPerS: 2048 }),
    row('ringwal', 'closed-1', 3900),
    row('ringwal', 'closed-256', 1_100_000),
    row('ringwal', 'closed-4096', 700_000),
    row('ringwal', 'open', 99_000, { p99Us: 2800 }),
    row('ringwal', 'bulk', 92_773, { mbPerS: 380 }),
    row('lmdb', 'closed-1', 600),
    row('lmdb', 'closed-4096', 300_000),
    row('classic-level', 'closed-4096', 350_000),
    row('better-sqlite3', 'closed-1', 4000),
    row('better-sqlite3', 'open', 99_500, { p99Us: 3500 }),
    row('fs-fdatasync', 'bulk', 48_828, { mbPerS: 200 }),
  ];
}

const find = (rows, system, workload) => rows.find((r) => r.system === system && r.workload === workload);
const close = (actual, expected, what) => assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual}, expected ${expected}`);

test('each ratio divides by the reference of its own workload', () => {
  const rows = run();
  const closed1 = ratiosOf(find(rows, 'ringwal', 'closed-1'), rows);
  close(closed1.overNull, 3900 / 250_000, 'closed-1 × null');
  close(closed1.overDisk, 3900 / 4000, 'closed-1 × disk: ÷ the 4 KiB QD1 rate');
  close(closed1.overBestPeer, 3900 / 4000, 'closed-1 × best peer');
  assert.equal(closed1.bestPeer, 'better-sqlite3');
  close(closed1.overLmdb, 3900 / 600, 'closed-1 × lmdb');
  assert.equal(closed1.overDiskQd4, undefined);

  const closed4096 = ratiosOf(find(rows, 'ringwal', 'closed-4096'), rows);
  assert.equal(closed4096.bestPeer, 'classic-level', 'the best peer of this workload, not of another');
  close(closed4096.overBestPeer, 2, 'closed-4096 × best peer');
  close(closed4096.overDisk, 175, 'records per sync');

  const bulk = ratiosOf(find(rows, 'ringwal', 'bulk'), rows);
  close(bulk.overDisk, 380 / 400, 'bulk × disk: MB/s ÷ 1 MiB write+fdatasync QD1 MB/s');
  close(bulk.overDiskQd4, 380 / 800, 'bulk × disk QD4');
  close(bulk.overNull, 92_773 / 500_000, 'bulk × null is records/s');
  assert.equal(bulk.bestPeer, 'fs-fdatasync');

  const open = ratiosOf(find(rows, 'ringwal', 'open'), rows);
  close(open.p99OverNullMs, 0.8, 'open p99 − null p99 in ms');
  assert.equal(open.overDisk, undefined, 'an open loop is bound by its offered rate, not the disk');
});

test('references, peers and failed rows get only the ratios that apply to them', () => {
  const rows = run();
  assert.deepEqual(ratiosOf(find(rows, 'null', 'closed-1'), rows), {});
  assert.deepEqual(ratiosOf(find(rows, 'disk', 'qd1'), rows), {});
  assert.deepEqual(ratiosOf({ system: 'ringwal', workload: 'closed-1', ok: false }, rows), {});
  const lmdb = ratiosOf(find(rows, 'lmdb', 'closed-1'), rows);
  assert.equal(lmdb.overBestPeer, undefined, 'a peer is not divided by the best peer');
  close(lmdb.overLmdb, 1, 'lmdb × lmdb');
  close(lmdb.overDisk, 600 / 4000, 'lmdb × disk');
  // A failed reference is no reference.
  const failedNull = rows.map((r) => (r.system === 'null' ? { ...r, ok: false } : r));
  assert.equal(ratiosOf(find(failedNull, 'ringwal', 'closed-1'), failedNull).overNull, undefined);
});

test('every target with its verdict, in order', () => {
  const checks = checkTargets(run());
  assert.deepEqual(
    checks.map(({ target, verdict }) => [target, verdict]),
    [
      ['4,096 producers ≥ 2× lmdb', 'met'],
      ['4,096 producers ≥ 0.6× null', 'met'],
      ['256 producers ≥ 0.5× null', 'met'],
      ['open loop p99 − null p99 ≤ 1 ms', 'met'],
      ['open loop p99 < better-sqlite3 p99', 'met'],
      ['1 producer ≥ 0.95× disk QD1 4 KiB write+fdatasync', 'met'],
      ['1 producer ≥ 1.0× better-sqlite3', 'missed'],
      ['bulk ≥ 0.9× disk 1 MiB write+fdatasync QD1', 'met'],
    ],
  );
  close(checks[0].value, 700_000 / 300_000, '× lmdb');
  assert.equal(checks[0].measured, '2.33×');
  close(checks[3].value, 0.8, 'p99 − null');
  assert.equal(checks[3].unit, 'ms');
  assert.equal(checks[3].measured, '+0.80 ms (2.8 ms − 2.0 ms)');
  assert.equal(checks[4].measured, '0.80× (2.8 ms / 3.5 ms)');
  close(checks[7].value, 0.95, 'bulk × disk');
});

test('thresholds: ≥ and ≤ include the bound, < does not', () => {
  const rows = run().map((r) => {
    if (r.system === 'ringwal' && r.workload === 'closed-4096') return { ...r, recordsPerS: 600_000 };
    if (r.system === 'ringwal' && r.workload === 'open') return { ...r, latency: { p99Us: 3000 } };
    if (r.system === 'better-sqlite3' && r.workload === 'open') return { ...r, latency: { p99Us: 3000 } };
    return r;
  });
  const verdicts = Object.fromEntries(checkTargets(rows).map((c) => [c.target, c.verdict]));
  assert.equal(verdicts['4,096 producers ≥ 2× lmdb'], 'met', 'exactly 2×');
  assert.equal(verdicts['4,096 producers ≥ 0.6× null'], 'met', 'exactly 0.6×');
  assert.equal(verdicts['open loop p99 − null p99 ≤ 1 ms'], 'met', 'exactly 1 ms');
  assert.equal(verdicts['open loop p99 < better-sqlite3 p99'], 'missed', 'equal is not below');
  const slower = run().map((r) => (r.system === 'ringwal' && r.workload === 'closed-4096' ? { ...r, recordsPerS: 599_999 } : r));
  assert.equal(checkTargets(slower)[0].verdict, 'missed');
});

test('a system that did not run, failed or measured zero makes its checks "not measured", never "met"', () => {
  const withoutPeers = run().filter((r) => r.system !== 'lmdb' && r.system !== 'better-sqlite3');
  const checks = checkTargets(withoutPeers);
  for (const index of [0, 4, 6]) {
    assert.equal(checks[index].verdict, 'not measured', checks[index].target);
    assert.equal(checks[index].value, undefined);
    assert.equal(checks[index].measured, '—');
  }
  assert.match(checks[0].reason, /lmdb closed-4096/);
  assert.equal(checks[1].verdict, 'met', 'the checks that do not need them still stand');

  const failedDisk = run().map((r) => (r.system === 'disk' ? { ...r, ok: false } : r));
  const diskChecks = checkTargets(failedDisk).filter((c) => c.target.includes('disk'));
  assert.deepEqual(
    diskChecks.map((c) => c.verdict),
    ['not measured', 'not measured'],
  );

  const zeroNull = run().map((r) => (r.system === 'null' ? { ...r, recordsPerS: 0 } : r));
  assert.equal(checkTargets(zeroNull)[1].verdict, 'not measured');
  assert.match(checkTargets(zeroNull)[1].reason, /zero/);

  const noRingwal = checkTargets(run().filter((r) => r.system !== 'ringwal'));
  assert.deepEqual([...new Set(noRingwal.map((c) => c.verdict))], ['not measured']);
});

test('another subject is checked by name: the thread-pool backend against the same references', () => {
  const rows = run().map((r) => (r.system === 'ringwal' ? { ...r, system: 'ringwal-threadpool' } : r));
  assert.equal(checkTargets(rows, 'ringwal-threadpool')[0].verdict, 'met');
  assert.equal(checkTargets(rows)[0].verdict, 'not measured');
});

test('writer diagnostics: batches from stats(), sync latency only when the writer reports it in its shape', () => {
  const stats = { batches: 40, records: 1000, recordBytes: 176_000, bytesWritten: 196_608, largestBatchRecords: 90, backend: 'io_uring' };
  assert.deepEqual(writerDiagnosticsOf(stats), { batches: 40, records: 1000, recordsPerBatch: 25, bytesWritten: 196_608 });
  assert.deepEqual(writerDiagnosticsOf({ ...stats, syncLatencyUs: { count: 40, p50: 250, p99: 900, max: 4000 } }).syncLatency, {
    count: 40,
    p50Us: 250,
    p99Us: 900,
    maxUs: 4000,
  });
  assert.equal(writerDiagnosticsOf({ ...stats, syncLatencyUs: { count: 40, p50: 250 } }).syncLatency, undefined, 'a partial shape is not read');
  assert.equal(writerDiagnosticsOf({ ...stats, batches: 0, records: 0 }).recordsPerBatch, 0);
  assert.equal(writerDiagnosticsOf({ appends: 5 }), undefined, "the null store's stats are not a writer's");
  assert.equal(writerDiagnosticsOf(undefined), undefined);
});

test('the latency-sources cells: one per column, "—" where a system reports nothing', () => {
  const runtime = { eventLoopDelay: { samples: 900, p50Us: 12.4, p99Us: 2637.2, maxUs: 29_834.7 }, gc: { count: 51, pauseMsTotal: 83.06, pauseMsMax: 19.61 } };
  const writer = writerDiagnosticsOf({ batches: 3088, records: 100_000, bytesWritten: 30_228_480 });
  const cells = latencySourcesCells(runtime, writer);
  assert.equal(cells.length, latencySourcesHeader.length);
  assert.deepEqual(cells, ['12', '2,637', '29,835', '51', '83.1', '19.6', '3,088', '32.4', '30.2', '—', '—', '—']);
  assert.deepEqual(latencySourcesCells(undefined, undefined), Array(latencySourcesHeader.length).fill('—'));
});
