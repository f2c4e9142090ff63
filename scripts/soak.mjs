#!/usr/bin/env node
// Runs simulator seeds until stopped (Ctrl-C), alternating tier 1 and tier 2, and prints every
// violation with the command that replays it: `npm run soak [-- --seed S]`. The default start
// seed is drawn from the clock here, outside the simulator, and printed so a session can resume.
import { runSeed, RUN_DEFAULTS } from '../dist-test/harness/sim-run.js';
import { SEED_MAX } from '../dist/sim/prng.js';

/** Runs between progress lines: about one line every half minute on a laptop core. */
const REPORT_EVERY_RUNS = 2000;

const at = process.argv.indexOf('--seed');
let seed = at >= 0 ? Number(process.argv[at + 1]) : Date.now() % SEED_MAX;
if (!Number.isSafeInteger(seed) || seed < 0 || seed > SEED_MAX) {
  process.stderr.write('usage: npm run soak [-- --seed S]\n');
  process.exit(2);
}
let stopping = false;
process.on('SIGINT', () => (stopping = true));
console.log(`soak from seed ${seed}; Ctrl-C to stop`);
const startedMs = performance.now();
let runs = 0;
let crashRecoveries = 0;
let violations = 0;
while (!stopping) {
  for (const tier of /** @type {const} */ ([1, 2])) {
    const r = await runSeed(seed, { ...RUN_DEFAULTS, tier });
    runs += 1;
    crashRecoveries += r.crashRecoveries;
    if (r.violation !== null) {
      violations += 1;
      console.log(`VIOLATION seed ${seed} (tier ${tier}, trace ${r.trace}): ${r.violation}\n  reproduce: ${r.reproduce}`);
    }
  }
  seed = seed === SEED_MAX ? 0 : seed + 1;
  if (runs % REPORT_EVERY_RUNS === 0) {
    const minutes = (performance.now() - startedMs) / 60_000;
    console.log(`${runs} runs, ${crashRecoveries} crash recoveries, ${violations} violations, ${minutes.toFixed(1)} min; next seed ${seed}`);
  }
}
console.log(`stopped before seed ${seed}: ${runs} runs, ${crashRecoveries} crash recoveries, ${violations} violations`);
process.exitCode = violations > 0 ? 1 : 0;
