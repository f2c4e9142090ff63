// The format, the simulated disk, the simulator and the fuzzer need no native addon: a child
// process in which loading any .node file throws runs simulator seeds and fuzz cases, and only a
// Wal over the native Io tries to load the addon, failing with a typed error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const PRELOAD = fileURLToPath(new URL('./helpers/no-addon.mjs', import.meta.url));
const CHILD = fileURLToPath(new URL('./helpers/no-addon-child.mjs', import.meta.url));

test('simulator seeds and fuzz cases run in a process where the addon cannot be loaded', () => {
  const child = spawnSync(process.execPath, ['--import', PRELOAD, CHILD], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(child.status, 0, child.stderr);
  const result = JSON.parse(child.stdout.trim().split('\n').at(-1));
  assert.deepEqual(result.violations, []);
  assert.ok(result.crashRecoveries > 100, `${result.crashRecoveries} crash recoveries checked`);
  const fuzzCases = Object.values(result.fuzzOutcomes).reduce((a, b) => a + b, 0);
  assert.equal(fuzzCases, 44);
  assert.deepEqual(
    Object.keys(result.fuzzOutcomes).filter((k) => k !== 'records' && k !== 'WAL_ERR_CORRUPT'),
    [],
    JSON.stringify(result.fuzzOutcomes),
  );
  assert.equal(result.attemptsBeforeWal, 0, 'neither the simulator nor the fuzzer tried to load the addon');
  assert.equal(result.walError?.code, 'WAL_ERR_BACKEND_UNAVAILABLE');
  assert.equal(result.walError?.backend, 'native');
  assert.match(result.walError?.message, /cannot be loaded/);
});
