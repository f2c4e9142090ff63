// The deterministic simulator in CI: the same seed replays the same run, the oracle notices a
// disk that breaks its promises, and a fixed set of seeds does at least 10,000 simulated crash
// and recovery cycles with no violation. A violation prints the command that replays it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSeed, RUN_DEFAULTS } from '../dist-test/harness/sim-run.js';
import { SimInode } from '../dist/sim/sim-disk.js';

/** The simulator's promise: at least this many checked crash/recovery cycles per CI run. */
const CRASH_CYCLES_MIN = 10_000;
/**
 * Tier-1 seeds 1..N; about 5.0 checked crash recoveries per run, so about 12,500, with margin
 * (about 50 s). README.md and docs/testing.md state these ranges; test/docs.test.mjs checks them.
 */
export const TIER1_RUNS = 2500;
/** Tier-2 runs mostly end early in a typed error, so they are cheap (about 20 s). */
export const TIER2_RUNS = 600;
/** Seeds that once found a bug, kept so the bug stays fixed: [seed, tier, what it found]. */
/** @type {Array<[number, 1 | 2, string]>} */
const REGRESSION_SEEDS = [
  [2, 1, 'truncateAfter: appends queued (no LSN yet) before the call get LSNs above the cut instead of being made durable first'],
  [11, 1, 'truncateAfter: an appendBatch split by the pause gets non-consecutive LSNs (8..22 resolved as 8..3)'],
  [44, 1, 'a reader started before a truncateAfter yields the new records written under the reused LSNs'],
  [149, 1, 'close leaves a segment file open after a truncation beside a reader'],
  [171, 1, 'a seal visible in the page cache after a failed sync was trusted at open, then lost in a crash'],
  [46, 1, 'the next segment was named before the seal of the previous one was durable'],
  [367, 1, 'the DWB slot was sized by the DWB file block, smaller than the segment block it copies'],
  [160, 1, 'a failed DWB open left the new segment file open'],
  [91, 1, "a reader's read, continued after a short read, ran on a file close() had closed"],
  [107, 1, 'directories made by an open that failed before syncing their parents were lost in a crash, with the log in them'],
  [140, 1, 'a DWB restore took one transient read error for an unreadable block and zeroed acknowledged records'],
  [177, 1, 'a truncateBefore queued behind a truncateAfter that failed half-way removed segments of a state that no longer held'],
  [16, 1, 'pipelined: a batch resolved by its own sync after a later batch failed one that dropped its data'],
  [2284, 1, 'pipelined: close after a failure closed the segment under a batch whose double-write copy was still in flight'],
  [947, 1, 'a truncateBefore after one whose directory fsync failed resolved without syncing: the removed segment reappeared after a crash'],
  [1916, 1, 'the same, with the log starting inside the segment that reappeared'],
];

function assertClean(results) {
  const bad = results.filter((r) => r.violation !== null);
  assert.deepEqual(
    bad.map((r) => `seed ${r.seed}: ${r.violation}\n  reproduce: ${r.reproduce}`),
    [],
  );
}

async function runRange(first, count, options) {
  const results = [];
  for (let seed = first; seed < first + count; seed++) results.push(await runSeed(seed, options));
  return results;
}

test('one seed replays the identical run: same trace hash, same counts', async () => {
  for (const tier of /** @type {const} */ ([1, 2])) {
    for (const seed of [1, 7, 4242, 0xfffffffe]) {
      const options = { ...RUN_DEFAULTS, tier };
      const a = await runSeed(seed, options);
      const b = await runSeed(seed, options);
      assert.ok(a.traceEvents > 50, `seed ${seed} did some I/O (${a.traceEvents} events)`);
      assert.equal(a.trace, b.trace, `seed ${seed} tier ${tier}: trace hashes differ`);
      assert.deepEqual({ ...a }, { ...b });
    }
  }
});

test('different seeds give different runs', async () => {
  const traces = new Set();
  for (let seed = 100; seed < 120; seed++) traces.add((await runSeed(seed)).trace);
  assert.equal(traces.size, 20);
});

test('regression seeds stay fixed', async () => {
  for (const [seed, tier] of REGRESSION_SEEDS) assertClean([await runSeed(seed, { ...RUN_DEFAULTS, tier })]);
});

/**
 * The long runs go to a child process: node:test tracks async context, which makes every promise
 * (and so the simulator) about 2.5 times slower in the test process itself.
 */
async function simulate(args) {
  const { execFile } = await import('node:child_process');
  const script = new URL('../scripts/sim.mjs', import.meta.url).pathname;
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args, '--json'], { maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      const lines = stdout.trim().split('\n');
      resolve({ status: error?.code ?? 0, stdout, stderr, totals: JSON.parse(lines[lines.length - 1]) });
    });
  });
}

test(`tier 1: at least ${CRASH_CYCLES_MIN} crash/recovery cycles, every check holds`, async () => {
  const run = await simulate(['--seed', '1', '--runs', String(TIER1_RUNS), '--tier', '1']);
  assert.equal(run.status, 0, run.stdout + run.stderr);
  const t = run.totals;
  console.log(
    `# tier 1: ${t.runs} runs, ${t.crashRecoveries} crash recoveries, ${t.cleanReopens} clean reopens in ${t.seconds.toFixed(1)} s (${(t.crashRecoveries / t.seconds).toFixed(0)}/s)`,
  );
  assert.equal(t.violations, 0);
  assert.ok(t.crashRecoveries >= CRASH_CYCLES_MIN, `only ${t.crashRecoveries} crash recoveries`);
  assert.ok(t.tornWrites > 1000 && t.ioFailures > 500, `the faults happened: ${t.tornWrites} torn writes, ${t.ioFailures} failed writes or syncs`);
});

test('tier 2: never a crash, a hang or a wrong byte; lost acknowledged records are counted', async () => {
  const run = await simulate(['--seed', '1', '--runs', String(TIER2_RUNS), '--tier', '2']);
  assert.equal(run.status, 0, run.stdout + run.stderr);
  const t = run.totals;
  assert.equal(t.violations, 0);
  console.log(
    `# tier 2: ${t.runs} runs; ${t.lostAckedRecoveries} recoveries lost ${t.lostAckedRecords} acknowledged records; ${t.typedErrors} typed errors met`,
  );
});

// Last: patching a prototype method slows every later run in this process (V8 drops its fast paths).
test('the oracle catches a disk whose sync does not make writes durable', async () => {
  const realSync = SimInode.prototype.sync;
  // A broken disk: sync forgets the pending writes instead of persisting them.
  SimInode.prototype.sync = function brokenSync() {
    this.pending = [];
  };
  try {
    const results = await runRange(1, 20, RUN_DEFAULTS);
    const caught = results.filter((r) => r.violation !== null);
    assert.ok(caught.length >= 15, `only ${caught.length} of 20 runs noticed lost writes`);
    assert.match(caught[0].reproduce, /^npm run sim -- --seed \d+ --runs 1 --tier 1$/);
  } finally {
    SimInode.prototype.sync = realSync;
  }
});

test('real crashes: 10 SIGKILLs of a native writer under load, every acknowledged record survives', async () => {
  const { spawnSync } = await import('node:child_process');
  const script = new URL('../scripts/kill-loop.mjs', import.meta.url).pathname;
  const run = spawnSync(process.execPath, [script, '--kills', '10'], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
  assert.match(run.stdout, /10 SIGKILLs, \d+ records in the log/);
  console.log(`# ${run.stdout.trim()}`);
});
