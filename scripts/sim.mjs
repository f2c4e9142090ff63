#!/usr/bin/env node
// The simulator runner: `npm run sim -- --seed S --runs N [--tier 1|2] [--cycles C] [--ops K]`.
// Runs seeds S, S+1, … S+N-1, prints one line per violation with the command that replays it,
// then a summary (with --json, also the totals as one JSON line, for test/sim.test.mjs, which runs
// the simulator in a child process because node:test's async tracking slows promises 2.5×).
// Exits 1 when any run found a violation.
import { runSeed, RUN_DEFAULTS } from '../dist-test/harness/sim-run.js';
import { SEED_MAX } from '../dist/sim/prng.js';

function usage(message) {
  process.stderr.write(`${message}\nusage: npm run sim -- --seed S --runs N [--tier 1|2] [--cycles C] [--ops K] [--verbose] [--json]\n`);
  process.exit(2);
}

function parse(argv) {
  const args = { seed: 1, runs: 100, tier: RUN_DEFAULTS.tier, cycles: RUN_DEFAULTS.cycles, ops: RUN_DEFAULTS.opsMax, verbose: false, json: false };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i];
    if (name === '--verbose' || name === '--json') {
      args[name.slice(2)] = true;
      continue;
    }
    const key = { '--seed': 'seed', '--runs': 'runs', '--tier': 'tier', '--cycles': 'cycles', '--ops': 'ops' }[name];
    if (key === undefined) usage(`unknown argument ${name}`);
    const value = Number(argv[++i]);
    if (!Number.isSafeInteger(value) || value < 0) usage(`${name} needs a non-negative integer`);
    args[key] = value;
  }
  if (args.seed + args.runs - 1 > SEED_MAX) usage(`seeds must stay below ${SEED_MAX}`);
  if (args.tier !== 1 && args.tier !== 2) usage('--tier is 1 or 2');
  if (args.cycles < 1 || args.ops < 1) usage('--cycles and --ops are at least 1');
  return args;
}

const args = parse(process.argv.slice(2));
const options = { tier: args.tier, cycles: args.cycles, opsMax: args.ops };
const totals = {
  runs: 0,
  violations: 0,
  seconds: 0,
  tornWrites: 0,
  ioFailures: 0,
  crashRecoveries: 0,
  cleanReopens: 0,
  records: 0,
  lostAckedRecoveries: 0,
  lostAckedRecords: 0,
  typedErrors: 0,
  encryptedRuns: 0,
  noncePairs: 0,
};
const startedMs = performance.now();
for (let seed = args.seed; seed < args.seed + args.runs; seed++) {
  const r = await runSeed(seed, options);
  totals.runs += 1;
  totals.crashRecoveries += r.crashRecoveries;
  totals.cleanReopens += r.cleanReopens;
  totals.records += r.records;
  totals.lostAckedRecoveries += r.lostAckedRecoveries;
  totals.lostAckedRecords += r.lostAckedRecords;
  totals.typedErrors += r.typedErrors;
  if (r.encrypted) totals.encryptedRuns += 1;
  totals.noncePairs += r.noncePairs;
  totals.tornWrites += r.disk.tornWrites;
  totals.ioFailures += r.io.writeFailures + r.io.syncFailures;
  if (args.verbose) console.log(JSON.stringify(r));
  if (r.violation !== null) {
    totals.violations += 1;
    console.log(`VIOLATION seed ${seed} (tier ${r.tier}, trace ${r.trace}): ${r.violation}\n  reproduce: ${r.reproduce}`);
  }
}
const seconds = (performance.now() - startedMs) / 1000;
console.log(
  `${totals.runs} runs, tier ${args.tier}, seeds ${args.seed}..${args.seed + args.runs - 1}: ${totals.violations} violations; ` +
    `${totals.crashRecoveries} crash recoveries and ${totals.cleanReopens} clean reopens checked in ${seconds.toFixed(1)} s ` +
    `(${(totals.crashRecoveries / seconds).toFixed(0)} crash cycles/s); ${totals.encryptedRuns} runs encrypted, ${totals.noncePairs} (key, nonce) pairs checked` +
    (args.tier === 2
      ? `; tier-2 information: ${totals.lostAckedRecoveries} recoveries lost ${totals.lostAckedRecords} acknowledged records, ${totals.typedErrors} runs ended in a typed error`
      : ''),
);
totals.seconds = seconds;
if (args.json) console.log(JSON.stringify(totals));
process.exitCode = totals.violations > 0 ? 1 : 0;
