// The runtime probe of the benchmark (src/bench/runtime-probe.ts) reports what blocked this
// process during a window: a stall of the event loop made on purpose must show as a delay at least
// that long, and garbage made on purpose as collections. Lower bounds only: a loaded machine can
// make either larger, never smaller.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { RuntimeProbe } from '../dist/bench/index.js';

function busyWaitMs(ms) {
  const endMs = performance.now() + ms;
  while (performance.now() < endMs);
}

test('a 40 ms stall of the event loop is a delay of at least 35 ms, above the p50 of the free loop around it', async () => {
  const probe = await RuntimeProbe.start();
  await sleep(20);
  busyWaitMs(40);
  await sleep(20);
  const { eventLoopDelay } = await probe.stop();
  assert.ok(eventLoopDelay.samples >= 2, `${eventLoopDelay.samples} samples`);
  assert.ok(eventLoopDelay.maxUs >= 35_000, `max ${eventLoopDelay.maxUs} µs`);
  assert.ok(eventLoopDelay.p50Us <= eventLoopDelay.p99Us && eventLoopDelay.p99Us <= eventLoopDelay.maxUs, JSON.stringify(eventLoopDelay));
  assert.ok(eventLoopDelay.p50Us < eventLoopDelay.maxUs, 'most of the window the loop was free');
});

test('garbage made inside the window is counted as collections with their pauses', async () => {
  const probe = await RuntimeProbe.start();
  // About 200 MB of short-lived objects: many times the young generation, so scavenges must run.
  let keep = [];
  for (let i = 0; i < 4_000_000; i++) {
    keep.push({ i, text: `record ${i}` });
    if (keep.length > 1000) keep = [];
  }
  const { gc } = await probe.stop();
  assert.ok(gc.count >= 1, `${gc.count} collections`);
  assert.ok(gc.pauseMsMax > 0 && gc.pauseMsMax <= gc.pauseMsTotal, JSON.stringify(gc));
});
