import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
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
