// Does the benchmark's event-loop-delay probe slow what it watches? One producer appends 128 B
// records to a fresh ringwal log (defaults: io_uring, O_DIRECT, depth 1), each awaited, for a
// fixed time, while perf_hooks.monitorEventLoopDelay runs with a given timer period (or not at
// all). One child process per trial, the periods interleaved round by round. A benchmark, not a test.
//
//   node bench/runtime-probe-timer.mjs [directory] [rounds]   (default ./ringwal-bench-data, 3)
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const WARM_UP_APPENDS = 500;
const TRIAL_MS = 2000;
const PAYLOAD_BYTES = 128;
const PERIODS_MS = [0, 1, 5, 10, 20];

async function child(directory, periodMs) {
  const { Wal } = await import('../dist/index.js');
  rmSync(directory, { recursive: true, force: true });
  const histogram = periodMs > 0 ? monitorEventLoopDelay({ resolution: periodMs }) : null;
  histogram?.enable();
  const wal = await Wal.open(directory);
  const payload = Buffer.alloc(PAYLOAD_BYTES, 7);
  for (let i = 0; i < WARM_UP_APPENDS; i++) await wal.append(payload);
  const latenciesUs = [];
  const startMs = performance.now();
  while (performance.now() - startMs < TRIAL_MS) {
    const sentMs = performance.now();
    await wal.append(payload);
    latenciesUs.push((performance.now() - sentMs) * 1000);
  }
  const seconds = (performance.now() - startMs) / 1000;
  const { syncLatencyUs } = await wal.stats();
  await wal.close();
  histogram?.disable();
  rmSync(directory, { recursive: true, force: true });
  latenciesUs.sort((a, b) => a - b);
  const at = (q) => Math.round(latenciesUs[Math.min(latenciesUs.length - 1, Math.floor(latenciesUs.length * q))]);
  process.stdout.write(
    JSON.stringify({ periodMs, appendsPerSecond: Math.round(latenciesUs.length / seconds), p50Us: at(0.5), p99Us: at(0.99), syncP50Us: syncLatencyUs.p50 }) +
      '\n',
  );
}

if (process.argv[2] === '--child') {
  await child(process.argv[3], Number(process.argv[4]));
} else {
  const directory = process.argv[2] ?? './ringwal-bench-data';
  const rounds = Number(process.argv[3] ?? 3);
  const rows = [];
  for (let round = 1; round <= rounds; round++) {
    for (const periodMs of PERIODS_MS) {
      const run = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', directory, String(periodMs)], { encoding: 'utf8' });
      if (run.status !== 0) throw new Error(`trial failed: ${run.stderr}`);
      rows.push({ round, ...JSON.parse(run.stdout) });
    }
  }
  console.table(
    rows.map((r) => ({
      round: r.round,
      timer: r.periodMs === 0 ? 'none' : `${r.periodMs} ms`,
      'appends/s': r.appendsPerSecond,
      'p50 µs': r.p50Us,
      'p99 µs': r.p99Us,
      'sync p50 µs': r.syncP50Us,
    })),
  );
  console.log(JSON.stringify({ kernel: (await import('node:os')).release(), directory, rows }));
}
