import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseBenchArgs } from '../dist/cli/bench-options.js';
import { main } from '../dist/cli/main.js';
import { UsageError } from '../dist/cli/usage-error.js';

function capture() {
  const text = { stdout: '', stderr: '' };
  const output = {
    stdout: {
      write: (chunk) => {
        text.stdout += chunk;
        return true;
      },
    },
    stderr: {
      write: (chunk) => {
        text.stderr += chunk;
        return true;
      },
      isTTY: false,
    },
  };
  return { output, text };
}

test('defaults run every workload with ringwal defaults', () => {
  const options = parseBenchArgs([]);
  assert.deepEqual(options.kinds, ['closed', 'open', 'bulk']);
  assert.equal(options.dir, 'ringwal-bench-data');
  assert.equal(options.backend, 'auto');
  assert.equal(options.directIo, 'auto');
  assert.equal(options.syncMethod, 'linked-fdatasync');
  assert.equal(options.json, false);
  assert.equal(options.quick, false);
  assert.equal(options.producers, undefined);
});

test('flags are parsed and checked', () => {
  const options = parseBenchArgs([
    '--workload',
    'closed',
    '--workload',
    'bulk',
    '--producers',
    '1,64',
    '--records',
    '1_000',
    '--seconds',
    '0.5',
    '--rate',
    '2000',
    '--backend',
    'threadpool',
    '--direct-io',
    'off',
    '--sync-method',
    'rwf-dsync',
    '--json',
    '--quick',
    '--dir',
    '/tmp/x',
  ]);
  assert.deepEqual(options.kinds, ['closed', 'bulk']);
  assert.deepEqual(options.producers, [1, 64]);
  assert.equal(options.recordsMax, 1000);
  assert.equal(options.durationMs, 500);
  assert.equal(options.ratePerS, 2000);
  assert.equal(options.backend, 'threadpool');
  assert.equal(options.directIo, 'off');
  assert.equal(options.syncMethod, 'rwf-dsync');
  assert.equal(options.json, true);
  assert.equal(options.quick, true);
  assert.equal(options.dir, '/tmp/x');
});

test('bad values and unknown flags are usage errors', () => {
  for (const argv of [
    ['--frob'],
    ['--workload', 'fast'],
    ['--producers', '0'],
    ['--producers', '1,x'],
    ['--producers', '65537'],
    ['--records', '-5'],
    ['--records', '1.5'],
    ['--seconds', '0'],
    ['--seconds', 'soon'],
    ['--rate', ''],
    ['--backend', 'epoll'],
    ['--direct-io', 'yes'],
    ['--sync-method', 'fsync'],
    ['stray'],
    ['--records'],
  ]) {
    assert.throws(() => parseBenchArgs(argv), UsageError, argv.join(' '));
  }
});

test('help at top level, per verb and through the help verb', async () => {
  for (const argv of [['--help'], ['-h'], ['help'], ['help', 'bench'], ['bench', '--help'], ['help', '--help']]) {
    const { output, text } = capture();
    assert.equal(await main(argv, output), 0, argv.join(' '));
    assert.match(text.stdout, /^usage: ringwal/);
    assert.equal(text.stderr, '');
  }
});

test('unknown verbs and flags exit 2 with a clear message', async () => {
  for (const [argv, message] of /** @type {Array<[string[], RegExp]>} */ ([
    [['frob'], /unknown command 'frob'/],
    [['--frob'], /unknown option '--frob'/],
    [['bench', '--frob'], /Unknown option '--frob'[\s\S]*ringwal bench --help/],
    [['help', 'frob'], /unknown command 'frob'/],
  ])) {
    const { output, text } = capture();
    assert.equal(await main(argv, output), 2, argv.join(' '));
    assert.match(text.stderr, message);
    assert.equal(text.stdout, '');
  }
});

test('no verb prints the usage and exits 2', async () => {
  const { output, text } = capture();
  assert.equal(await main([], output), 2);
  assert.match(text.stdout, /commands:/);
});

test('the bin shim runs the CLI and passes the exit code through', () => {
  const bin = fileURLToPath(new URL('../bin/ringwal.js', import.meta.url));
  const help = spawnSync(process.execPath, [bin, 'bench', '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--sync-method/);
  const wrong = spawnSync(process.execPath, [bin, 'bench', '--workload', 'fast'], { encoding: 'utf8' });
  assert.equal(wrong.status, 2);
  assert.match(wrong.stderr, /--workload must be one of closed, open, bulk/);
});

test('--version and -V print the version of package.json, through the bin shim too', async () => {
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  assert.match(version, /^\d+\.\d+\.\d+/);
  for (const flag of ['--version', '-V']) {
    const { output, text } = capture();
    assert.equal(await main([flag], output), 0, flag);
    assert.equal(text.stdout, `${version}\n`);
    assert.equal(text.stderr, '');
  }
  const { output, text } = capture();
  assert.equal(await main(['--version', 'bench'], output), 2);
  assert.match(text.stderr, /--version takes no arguments/);
  const bin = fileURLToPath(new URL('../bin/ringwal.js', import.meta.url));
  const shown = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' });
  assert.equal(shown.status, 0, shown.stderr);
  assert.equal(shown.stdout, `${version}\n`);
});

test('bench runs ringwal next to the null store and the disk limits of the same run, and reports ratios and targets', async () => {
  const benchTmp = fileURLToPath(new URL('../bench/tmp/', import.meta.url));
  mkdirSync(benchTmp, { recursive: true });
  const dir = join(mkdtempSync(join(benchTmp, 'test-cli-')), 'data');
  try {
    const { output, text } = capture();
    // The smallest run that has every kind of row: a few hundred records, tenths of a second each.
    const argv = ['bench', '--quick', '--json', '--dir', dir, '--producers', '1', '--records', '300', '--seconds', '0.2', '--rate', '2000'];
    assert.equal(await main(argv, output), 0, text.stderr);
    const report = JSON.parse(text.stdout);
    assert.deepEqual(
      report.workloads.map((w) => w.id),
      ['closed-1', 'open', 'bulk'],
    );
    assert.deepEqual(
      report.null.map((w) => w.id),
      ['closed-1', 'open', 'bulk'],
      'the null store ran every workload ringwal ran',
    );
    for (const workload of report.workloads) {
      assert.ok(workload.writer.batches >= 1 && workload.writer.records === workload.records, `${workload.id}: the writer's batches`);
      assert.ok(workload.runtime.eventLoopDelay.samples >= 0, `${workload.id}: the runtime probe`);
      assert.ok(workload.ratios.overNull > 0, `${workload.id} × null`);
    }
    const byId = Object.fromEntries(report.workloads.map((w) => [w.id, w]));
    assert.equal(typeof byId.open.ratios.p99OverNullMs, 'number');
    assert.deepEqual(Object.keys(report.disk), ['qd1', 'qd1Mib', 'sequentialQd4']);
    const diskOk = Object.values(report.disk).every((probe) => probe.ok);
    if (diskOk) {
      assert.ok(byId['closed-1'].ratios.overDisk > 0 && byId.bulk.ratios.overDisk > 0 && byId.bulk.ratios.overDiskQd4 > 0);
    }
    assert.equal(report.targets.length, 8);
    const peerChecks = report.targets.filter((check) => /lmdb|better-sqlite3/.test(check.target));
    assert.deepEqual(
      peerChecks.map((check) => check.verdict),
      ['not measured', 'not measured', 'not measured'],
      'no peer ran, so no peer check is met',
    );
    const closed256 = report.targets.find((check) => check.target.startsWith('256 producers'));
    assert.equal(closed256.verdict, 'not measured', 'closed-256 did not run');
    assert.equal(existsSync(dir), false, 'the bench directory is removed');
  } finally {
    rmSync(dirname(dir), { recursive: true, force: true });
  }
});

test('bench --key-file runs its workloads on an encrypted log; a key file that breaks a rule fails with WAL_ERR_KEY_FILE', async (t) => {
  const benchTmp = fileURLToPath(new URL('../bench/tmp/', import.meta.url));
  mkdirSync(benchTmp, { recursive: true });
  const root = mkdtempSync(join(benchTmp, 'test-cli-key-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const keyFile = join(root, 'bench.key');
  writeFileSync(keyFile, Buffer.alloc(32, 0x5a), { mode: 0o600 });
  chmodSync(keyFile, 0o600);
  const argv = [
    'bench',
    '--quick',
    '--json',
    '--dir',
    join(root, 'data'),
    '--workload',
    'closed',
    '--producers',
    '1',
    '--records',
    '200',
    '--key-file',
    keyFile,
    '--key-id',
    '3',
  ];
  const { output, text } = capture();
  assert.equal(await main(argv, output), 0, text.stderr);
  const report = JSON.parse(text.stdout);
  assert.equal(report.encrypted, true);
  assert.equal(report.workloads[0].records, 200);
  assert.equal(parseBenchArgs(['--key-file', keyFile]).keyId, 1, 'key id 1 by default');
  assert.throws(() => parseBenchArgs(['--key-id', '0']), UsageError);
  chmodSync(keyFile, 0o644);
  const refused = capture();
  assert.notEqual(await main(argv, refused.output).catch(() => 1), 0);
  assert.match(refused.text.stderr + refused.text.stdout, /WAL_ERR_KEY_FILE|permissions/);
  assert.doesNotMatch(refused.text.stderr, /5a5a5a5a|WlpaWlpa/, 'never the key');
});
