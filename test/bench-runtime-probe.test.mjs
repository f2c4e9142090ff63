// The runtime probe of the benchmark (src/bench/runtime-probe.ts) reports what blocked this
// process during a window: a stall of the event loop made on purpose must show as a delay at least
// that long, and garbage made on purpose as collections. Lower bounds only: a loaded machine can
// make either larger, never smaller.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { busyLoopResolutionMs, RuntimeProbe, sleepingLoopResolutionMs } from '../dist/bench/index.js';

function busyWaitMs(ms) {
  const endMs = performance.now() + ms;
  while (performance.now() < endMs);
}

for (const resolutionMs of [busyLoopResolutionMs, sleepingLoopResolutionMs]) {
  test(`a 40 ms stall of the event loop is a delay of at least 40 ms less one timer period with a ${resolutionMs} ms timer, above the p50 of the free loop around it`, async () => {
    const probe = await RuntimeProbe.start(resolutionMs);
    await sleep(20);
    busyWaitMs(40);
    await sleep(20);
    const { eventLoopDelay } = await probe.stop();
    assert.ok(eventLoopDelay.samples >= 2, `${eventLoopDelay.samples} samples`);
    // The stall may begin up to one period after a callback, and only the part beyond the period
    // counts as late: at least 40 ms − one period, less a few ms for the clocks' granularity.
    const lateUsMin = (40 - resolutionMs - 4) * 1000;
    assert.ok(eventLoopDelay.maxUs >= lateUsMin, `max ${eventLoopDelay.maxUs} µs < ${lateUsMin}`);
    assert.ok(eventLoopDelay.p50Us <= eventLoopDelay.p99Us && eventLoopDelay.p99Us <= eventLoopDelay.maxUs, JSON.stringify(eventLoopDelay));
    assert.ok(eventLoopDelay.p50Us < eventLoopDelay.maxUs, 'most of the window the loop was free');
  });
}

test('garbage made inside the window is counted as collections with their pauses', async () => {
  const probe = await RuntimeProbe.start(busyLoopResolutionMs);
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
