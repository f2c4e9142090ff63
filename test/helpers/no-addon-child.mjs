// Runs in a child where no addon can load (test/helpers/no-addon.mjs): simulator seeds and fuzz
// cases must run all the same (unencrypted: encryption is native code), and only the native Io
// may try the addon. Prints one JSON line.
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { runSeed, RUN_DEFAULTS } from '../../dist-test/harness/sim-run.js';
import { buildLog, openDamaged } from '../../dist-test/harness/damaged-open.js';
import { Wal, WalError } from '../../dist/index.js';

const result = { violations: [], crashRecoveries: 0, fuzzOutcomes: {}, attemptsBeforeWal: 0, walError: null };
for (const [tier, runs] of /** @type {const} */ ([
  [1, 40],
  [2, 15],
])) {
  for (let seed = 1; seed <= runs; seed++) {
    // Encryption runs in native code: these seeds run unencrypted.
    const r = await runSeed(seed, { ...RUN_DEFAULTS, tier, encryption: false });
    if (r.violation !== null) result.violations.push(`tier ${tier} seed ${seed}: ${r.violation}`);
    result.crashRecoveries += r.crashRecoveries;
  }
}
const payloads = Array.from({ length: 30 }, (_, i) => new Uint8Array(50 + i).fill(i));
const files = await buildLog([payloads.slice(0, 10), payloads.slice(10)], 4096);
const [name, clean] = [...files][0];
for (let bit = 4096 * 8; bit < 4096 * 8 + 200 * 8; bit += 37) {
  const damaged = clean.slice();
  damaged[bit >>> 3] ^= 1 << (bit & 7);
  const outcome = await openDamaged(new Map([[name, damaged]]), 4096);
  const kind = outcome.kind !== 'error' ? outcome.kind : outcome.error instanceof WalError ? outcome.error.code : `not a WalError: ${outcome.error}`;
  result.fuzzOutcomes[kind] = (result.fuzzOutcomes[kind] ?? 0) + 1;
}
result.attemptsBeforeWal = globalThis.__addonLoadAttempts;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringwal-no-addon-'));
try {
  await Wal.open(dir);
} catch (err) {
  result.walError = { code: err.code, backend: err.backend, message: err.message };
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(`${JSON.stringify(result)}\n`);
