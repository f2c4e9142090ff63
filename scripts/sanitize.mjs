#!/usr/bin/env node
// The sanitizer build: the addon compiled with -Werror, AddressSanitizer and UndefinedBehavior-
// Sanitizer (any report aborts), then the tests that drive the native code run against it, in
// node with the ASan runtime preloaded (node itself is not instrumented, so leak detection, which
// would report node's own allocations, is off).
//
//   npm run test:sanitize          build/sanitize/ringwal.node, then the native-facing tests
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = path.join(ROOT, 'build', 'sanitize', 'ringwal.node');
/** The tests that run native code: the addon itself, failures through it, the Wal over it. */
const TESTS = ['native', 'aead', 'key-ring', 'encryption', 'faults', 'fallback', 'durability', 'wal', 'crash'].map((t) => `test/${t}.test.mjs`);

const nodeInclude = path.resolve(process.execPath, '..', '..', 'include', 'node');
const sources = fs
  .readdirSync(path.join(ROOT, 'native'))
  .filter((f) => f.endsWith('.c'))
  .map((f) => path.join('native', f));
fs.mkdirSync(path.dirname(OUT), { recursive: true });
const flags = [
  '-shared',
  '-fPIC',
  '-std=gnu11',
  '-O1',
  '-g',
  '-fno-omit-frame-pointer',
  '-Wall',
  '-Wextra',
  '-Werror',
  '-fsanitize=address,undefined',
  '-fno-sanitize-recover=all',
  '-DNAPI_VERSION=8',
];
execFileSync('gcc', [...flags, `-I${nodeInclude}`, ...sources, '-o', OUT], { cwd: ROOT, stdio: 'inherit' });
console.log(`built ${path.relative(ROOT, OUT)} with ${flags.join(' ')}`);

const asan = execFileSync('gcc', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).trim();
const run = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-timeout=600000', ...TESTS], {
  cwd: ROOT,
  stdio: 'inherit',
  env: {
    ...process.env,
    LD_PRELOAD: asan,
    ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1:halt_on_error=1',
    UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
    RINGWAL_NATIVE_BINDING: OUT,
  },
});
process.exitCode = run.status ?? 1;
