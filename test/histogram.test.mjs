// The bench's latency histogram is Node's HdrHistogram (perf_hooks.createHistogram) in named
// units: these tests pin the units, the precision the reports rely on, and the edge cases the
// wrapper adds (an empty histogram, bad input).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LatencyHistogram } from '../dist/bench/histogram.js';

/** Three significant digits: every reported value within 1/1024 of the true one, never below it. */
function assertNear(reportedUs, trueUs, what) {
  assert.ok(reportedUs >= trueUs && (reportedUs - trueUs) / trueUs < 1 / 1024, `${what}: ${trueUs} µs reported as ${reportedUs} µs`);
}

test('nanoseconds in, microseconds out, percentiles within 1/1024', () => {
  const histogram = new LatencyHistogram();
  for (let valueUs = 1; valueUs <= 1000; valueUs++) histogram.recordNs(valueUs * 1000);
  assert.equal(histogram.count, 1000);
  assertNear(histogram.valueAtPercentileUs(50), 500, 'p50');
  assertNear(histogram.valueAtPercentileUs(99), 990, 'p99');
  assertNear(histogram.valueAtPercentileUs(99.9), 999, 'p99.9');
  assertNear(histogram.valueAtPercentileUs(100), 1000, 'p100');
  const summary = histogram.summary();
  assert.equal(summary.count, 1000);
  assertNear(summary.maxUs, 1000, 'max');
  assert.ok(Math.abs(summary.meanUs - 500.5) / 500.5 < 1 / 1024, `mean ${summary.meanUs}`);
});

test('large values keep three significant digits, up to hours', () => {
  for (const valueUs of [3_000, 123_456, 7_654_321, 987_654_321, 5_000_000_000]) {
    const histogram = new LatencyHistogram();
    histogram.recordNs(valueUs * 1000);
    assertNear(histogram.valueAtPercentileUs(100), valueUs, 'p100');
    assertNear(histogram.summary().maxUs, valueUs, 'max');
  }
});

test('recordSinceNs takes two hrtime.bigint() readings; a reading in the same nanosecond counts as 1 ns', () => {
  const histogram = new LatencyHistogram();
  histogram.recordSinceNs(10n, 10n + 250_000n);
  histogram.recordSinceNs(7n, 7n);
  assert.equal(histogram.count, 2);
  assertNear(histogram.valueAtPercentileUs(100), 250, 'p100');
  assert.equal(histogram.valueAtPercentileUs(50), 0.001);
});

test('merge adds counts', () => {
  const a = new LatencyHistogram();
  const b = new LatencyHistogram();
  for (let i = 0; i < 99; i++) a.recordNs(100_000);
  b.recordNs(90_000_000);
  a.merge(b);
  assert.equal(a.count, 100);
  assertNear(a.valueAtPercentileUs(99), 100, 'p99');
  assertNear(a.valueAtPercentileUs(100), 90_000, 'p100');
  assert.equal(b.count, 1, 'the other histogram is unchanged');
});

test('an empty histogram reports zeros, not NaN', () => {
  assert.deepEqual(new LatencyHistogram().summary(), { count: 0, meanUs: 0, p50Us: 0, p99Us: 0, p999Us: 0, maxUs: 0 });
});

test('negative, NaN and out-of-range inputs are rejected', () => {
  const histogram = new LatencyHistogram();
  for (const bad of [-1, Number.NaN, Infinity, 2 ** 60]) assert.throws(() => histogram.recordNs(bad), RangeError, String(bad));
  for (const bad of [0, 101, -0.1, Number.NaN]) assert.throws(() => histogram.valueAtPercentileUs(bad), RangeError, String(bad));
  assert.equal(histogram.count, 0, 'nothing was recorded');
});
