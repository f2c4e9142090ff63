// ringwal as a user gets it: the packed tarball installed into a scratch project. There the
// README's simulated-disk example, taken from the README itself, runs as written, with
// `ringwal/sim` resolved through the package's exports; its types check with tsc; and the
// package holds no test code. Installed without install scripts, so no addon is built: the
// simulated disk needs none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './helpers/tmp.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

/** The first ```js block after `heading` in the README. */
function readmeExample(heading) {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf(heading));
  const match = /```js\n([\s\S]*?)```/.exec(section);
  assert.ok(match !== null, `a js example under ${heading}`);
  return match[1];
}

test('the packed package: ringwal/sim imports, its README example runs and its types check', (t) => {
  const scratch = tempDir(t, 'ringwal-scratch-');
  const packed = execFileSync(NPM, ['pack', '--silent', '--pack-destination', scratch], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n').at(-1);
  const tarball = path.join(scratch, packed);
  const listing = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n');
  assert.ok(listing.includes('package/dist/sim/index.js') && listing.includes('package/dist/sim/index.d.ts'), 'ringwal/sim and its types are shipped');
  assert.ok(listing.includes('package/LICENSE'), 'the license is shipped');
  assert.deepEqual(
    listing.filter((f) => /harness\/|\/(oracle|workload|sim-run|damaged-open)\.|dist-test|\.test\.|^package\/test\//.test(f)),
    [],
    'no test code is shipped',
  );

  fs.writeFileSync(path.join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
  execFileSync(NPM, ['install', '--ignore-scripts', '--no-audit', '--no-fund', tarball], { cwd: scratch, stdio: 'pipe' });
  assert.equal(fs.existsSync(path.join(scratch, 'node_modules', 'ringwal', 'build')), false, 'no addon was built');

  // Without the addon, a log on the real disk says how to build it, under its own code.
  const noAddon = execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      "import { Wal } from 'ringwal'; try { await Wal.open('log'); } catch (err) { console.log(JSON.stringify({ code: err.code, message: err.message })); }",
    ],
    { cwd: scratch, encoding: 'utf8', timeout: 60_000 },
  );
  const missing = JSON.parse(noAddon.trim());
  assert.equal(missing.code, 'WAL_ERR_ADDON_MISSING');
  assert.match(missing.message, /npm rebuild ringwal/);
  assert.match(missing.message, /npm install-scripts approve ringwal/);
  // The bin finds the package's own package.json from where it is installed.
  const version = execFileSync(path.join(scratch, 'node_modules', '.bin', 'ringwal'), ['--version'], { encoding: 'utf8' });
  assert.equal(version, `${JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version}\n`);

  fs.writeFileSync(path.join(scratch, 'example.mjs'), readmeExample('## Testing your own code on a simulated disk'));
  const out = execFileSync(process.execPath, ['example.mjs'], { cwd: scratch, encoding: 'utf8', timeout: 60_000 });
  const lines = out.trim().split('\n');
  assert.ok(lines.length === 100 || lines.length === 101, `${lines.length} records after the crash`);
  lines.slice(0, 100).forEach((line, i) => assert.equal(line, `${i + 1} put k${i}`, 'every acknowledged record survived'));
  if (lines.length === 101) assert.equal(lines[100], '101 in flight at the crash');

  fs.writeFileSync(
    path.join(scratch, 'check.ts'),
    [
      "import { Wal, type WalOptions, type WalRecord } from 'ringwal';",
      "import { Prng, SimDisk, SimIo, drawFaultRates, type FaultRates } from 'ringwal/sim';",
      'const rng = new Prng(1);',
      'const rates: FaultRates = drawFaultRates(rng, 1);',
      'const io = new SimIo({ disk: new SimDisk(rates, rng.fork()), rng: rng.fork() });',
      'const options: WalOptions = { io, segmentSizeBytes: 64 * 1024 };',
      "export async function first(): Promise<WalRecord | undefined> { const wal = await Wal.open('/x', options); for await (const r of wal.read()) return r; return undefined; }",
      '// @ts-expect-error: SimIo needs a disk',
      'export const broken = new SimIo({ rng });',
    ].join('\n'),
  );
  execFileSync(
    process.execPath,
    [
      TSC,
      '--noEmit',
      '--strict',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--target',
      'es2022',
      '--typeRoots',
      path.join(ROOT, 'node_modules', '@types'),
      '--types',
      'node',
      'check.ts',
    ],
    { cwd: scratch, stdio: 'pipe' },
  );
});
