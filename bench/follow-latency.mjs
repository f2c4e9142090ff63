// How soon wal.follow() delivers a record after its append resolved, at a fixed append rate.
// A benchmark, not a test.
//
//   node bench/follow-latency.mjs [directory] [records/s] [seconds]   (default ./ringwal-bench-data, 10000, 5)
//
// Protocol: a fresh log with the defaults; an open loop issues appends of 128 B at the rate
// (every send that is due whenever the loop gets control, pumped with setImmediate); each
// append's resolution time is kept by LSN; one follower, started before the first append,
// notes when it yields each LSN. Delay = yield time − resolution time (negative when the
// follower saw the record before the append's own continuation ran: both wait for the same
// completion). The first 200 ms are left out (warm-up).
import { rmSync } from 'node:fs';
import { Wal } from '../dist/index.js';

const directory = process.argv[2] ?? './ringwal-bench-data';
const ratePerS = Number(process.argv[3] ?? 10_000);
const seconds = Number(process.argv[4] ?? 5);
const WARM_UP_MS = 200;
const PAYLOAD = Buffer.alloc(128, 1);

rmSync(directory, { recursive: true, force: true });
const wal = await Wal.open(directory);
const resolvedMs = new Map();
const yieldedMs = new Map();
const controller = new AbortController();
const following = process.env.NO_FOLLOW
  ? Promise.resolve()
  : (async () => {
      for await (const rec of wal.follow({ signal: controller.signal, payloads: false })) yieldedMs.set(rec.lsn, performance.now());
    })();
const startMs = performance.now();
const endMs = startMs + seconds * 1000;
let sent = 0;
const pending = [];
await new Promise((resolve) => {
  const pump = () => {
    const nowMs = performance.now();
    const due = Math.min(Math.floor(((nowMs - startMs) * ratePerS) / 1000), Math.floor(seconds * ratePerS));
    while (sent < due) {
      sent += 1;
      const sentMs = performance.now();
      pending.push(wal.append(PAYLOAD).then((lsn) => resolvedMs.set(lsn, { atMs: performance.now(), sentMs })));
    }
    if (nowMs < endMs) setImmediate(pump);
    else resolve();
  };
  pump();
});
await Promise.all(pending);
const lastLsn = wal.durableLsn;
while (!process.env.NO_FOLLOW && !yieldedMs.has(lastLsn)) await new Promise((resolve) => setTimeout(resolve, 1));
controller.abort();
await following;
const stats = await wal.stats();
await wal.close();
rmSync(directory, { recursive: true, force: true });
const delaysUs = [];
const appendUs = [];
for (const [lsn, { atMs, sentMs }] of resolvedMs) {
  if (sentMs - startMs < WARM_UP_MS) continue;
  delaysUs.push((yieldedMs.get(lsn) - atMs) * 1000);
  appendUs.push((atMs - sentMs) * 1000);
}
const pct = (xs, q) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]);
};
const result = {
  ratePerS,
  seconds,
  records: delaysUs.length,
  followDelayUs: { p50: pct(delaysUs, 0.5), p99: pct(delaysUs, 0.99), max: pct(delaysUs, 1) },
  appendLatencyUs: { p50: pct(appendUs, 0.5), p99: pct(appendUs, 0.99) },
  batches: stats.batches,
  syncLatencyUs: stats.syncLatencyUs,
};
console.log(JSON.stringify(result));
