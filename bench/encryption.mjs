#!/usr/bin/env node
// Encryption at rest against the same log unencrypted (issue 11's targets): 4,096 closed-loop
// producers of 128-byte records, bulk 4 KiB appendBatch, and replay of a 1 GB log. Trials
// interleave plain and encrypted round by round (the order reversed every other round), the
// write workloads one process per trial through bench/trial.js; the key comes from a key file
// made for the run (mode 0600). Reports each variant's median and encrypted ÷ plain.
//
//   node bench/encryption.mjs [--rounds 3] [--replay-mb 1024] [--workloads closed-4096,bulk,replay] [--dir ./ringwal-bench-data] [--quick]
//
// Results: bench/results/<date>-encryption.{json,md}.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Wal } from '../dist/index.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    'replay-mb': { type: 'string', default: '1024' },
    dir: { type: 'string', default: './ringwal-bench-data' },
    workloads: { type: 'string', default: 'closed-4096,bulk,replay' },
    quick: { type: 'boolean', default: false },
  },
  strict: true,
});
const rounds = Number(values.rounds);
const replayMb = Number(values['replay-mb']);
const trialPath = new URL('./trial.js', import.meta.url).pathname;
const keyDir = mkdtempSync(join(tmpdir(), 'ringwal-bench-key-'));
const keyFile = join(keyDir, 'bench.key');
writeFileSync(keyFile, randomBytes(32), { mode: 0o600 });
const VARIANTS = { plain: {}, encrypted: { encryption: { keyFile, keyId: 1 } } };

/** One write trial in its own process; its JSON line. */
function writeTrial(workload, variant) {
  const args = [trialPath, '--system', 'ringwal', '--workload', workload, '--wal-options', JSON.stringify(VARIANTS[variant])];
  if (values.quick) args.push('--quick');
  const run = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 180_000 });
  const line = run.stdout.trim().split('\n').pop() ?? '';
  const r = JSON.parse(line);
  if (!r.ok) throw new Error(`${workload} ${variant}: ${r.error}`);
  return { recordsPerS: r.recordsPerS, mbPerS: r.mbPerS, p99Us: r.latency.p99Us };
}

/** Writes a log of about `replayMb` MB of 128-byte records, then times open and one full read (O_DIRECT: no page cache). */
async function replayTrial(variant) {
  rmSync(values.dir, { recursive: true, force: true });
  const options = { ...VARIANTS[variant] };
  const wal = await Wal.open(values.dir, options);
  const batch = Array.from({ length: 8192 }, (_, i) => Buffer.alloc(128, i));
  for (let bytes = 0; bytes < replayMb * 1e6; bytes += 8192 * 128) await wal.appendBatch(batch);
  await wal.close();
  const startMs = performance.now();
  const reopened = await Wal.open(values.dir, options);
  let records = 0;
  let payloadBytes = 0;
  for await (const rec of reopened.read()) {
    records += 1;
    payloadBytes += rec.payload.byteLength;
  }
  const seconds = (performance.now() - startMs) / 1000;
  await reopened.close();
  rmSync(values.dir, { recursive: true, force: true });
  return { recordsPerS: records / seconds, mbPerS: payloadBytes / 1e6 / seconds, p99Us: NaN };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const workloads = values.workloads.split(',');
const results = [];
try {
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? ['plain', 'encrypted'] : ['encrypted', 'plain'];
    for (const workload of workloads) {
      for (const variant of order) {
        const r = workload === 'replay' ? await replayTrial(variant) : writeTrial(workload, variant);
        results.push({ round, workload, variant, ...r });
        process.stderr.write(`round ${round} ${workload} ${variant}: ${Math.round(r.recordsPerS)} rec/s, ${r.mbPerS.toFixed(1)} MB/s\n`);
      }
    }
  }
} finally {
  rmSync(keyDir, { recursive: true, force: true });
}

const fmt = (x, digits = 0) => (Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '—');
const targets = { 'closed-4096': 0.8, bulk: 0.7, replay: 0.7 };
const lines = [
  `# Encrypted ÷ plain, ${new Date().toISOString()} (Node ${process.version})`,
  '',
  `\`node bench/encryption.mjs --rounds ${rounds} --replay-mb ${replayMb} --workloads ${values.workloads}${values.quick ? ' --quick' : ''}\`: median of ${rounds} interleaved rounds; write workloads one process per trial (bench/trial.js), replay of a ${replayMb} MB log of 128-byte records (open + one full read, O_DIRECT).`,
  '',
  '| workload | plain rec/s | encrypted rec/s | plain MB/s | encrypted MB/s | encrypted ÷ plain | target | rounds (encrypted ÷ plain) |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
];
for (const workload of workloads) {
  const of = (variant) => results.filter((r) => r.workload === workload && r.variant === variant);
  const plain = median(of('plain').map((r) => r.recordsPerS));
  const enc = median(of('encrypted').map((r) => r.recordsPerS));
  const perRound = of('encrypted').map((r) => r.recordsPerS / of('plain').find((p) => p.round === r.round).recordsPerS);
  lines.push(
    `| ${workload} | ${fmt(plain)} | ${fmt(enc)} | ${fmt(median(of('plain').map((r) => r.mbPerS)), 1)} | ${fmt(median(of('encrypted').map((r) => r.mbPerS)), 1)} | ${fmt(enc / plain, 2)} | ≥ ${targets[workload]} | ${perRound.map((x) => fmt(x, 2)).join(' / ')} |`,
  );
}
const text = `${lines.join('\n')}\n`;
process.stdout.write(text);
const resultsDir = new URL('./results/', import.meta.url).pathname;
mkdirSync(resultsDir, { recursive: true });
const stem = `${resultsDir}${new Date().toISOString().slice(0, 10)}-encryption${values.quick ? '-quick' : ''}`;
writeFileSync(`${stem}.json`, `${JSON.stringify(results, null, 1)}\n`);
writeFileSync(`${stem}.md`, text);
process.stderr.write(`kept ${stem}.{json,md}\n`);
