import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LatencyHistogram } from '../dist/bench/histogram.js';

test('small values are exact', () => {
  const histogram = new LatencyHistogram();
  for (let valueUs = 1; valueUs <= 1000; valueUs++) histogram.record(valueUs);
  assert.equal(histogram.valueAtPercentileUs(50), 500);
  assert.equal(histogram.valueAtPercentileUs(99), 990);
  assert.equal(histogram.valueAtPercentileUs(99.9), 999);
  assert.equal(histogram.valueAtPercentileUs(100), 1000);
  assert.equal(histogram.count, 1000);
});

test('large values stay within 1/1024 and never above the maximum', () => {
  const histogram = new LatencyHistogram();
  const valuesUs = [3_000, 123_456, 7_654_321, 987_654_321];
  for (const valueUs of valuesUs) {
    histogram.record(valueUs);
    const reportedUs = histogram.valueAtPercentileUs(100);
    assert.ok(Math.abs(reportedUs - valueUs) / valueUs < 1 / 1024, `${valueUs} reported as ${reportedUs}`);
    assert.ok(reportedUs <= valueUs);
  }
  const summary = histogram.summary();
  assert.equal(summary.maxUs, 987_654_321);
  assert.equal(summary.count, 4);
});

test('each recorded value is reported at or above itself, so tails are not understated', () => {
  const histogram = new LatencyHistogram();
  histogram.record(10_000);
  histogram.record(10_001);
  histogram.record(50_000);
  assert.ok(histogram.valueAtPercentileUs(34) >= 10_001);
  assert.ok(histogram.valueAtPercentileUs(66) >= 10_001 && histogram.valueAtPercentileUs(66) < 10_020);
});

test('values past one hour are clamped but the exact maximum is kept', () => {
  const histogram = new LatencyHistogram();
  histogram.record(5_000_000_000);
  assert.equal(histogram.maxUs, 5_000_000_000);
  assert.equal(histogram.valueAtPercentileUs(50), 5_000_000_000);
});

test('merge adds counts', () => {
  const a = new LatencyHistogram();
  const b = new LatencyHistogram();
  for (let i = 0; i < 99; i++) a.record(100);
  b.record(90_000);
  a.merge(b);
  assert.equal(a.count, 100);
  assert.equal(a.valueAtPercentileUs(99), 100);
  assert.ok(a.valueAtPercentileUs(100) >= 90_000);
  assert.equal(a.summary().maxUs, 90_000);
});

test('an empty histogram reports zeros', () => {
  assert.deepEqual(new LatencyHistogram().summary(), { count: 0, meanUs: 0, p50Us: 0, p99Us: 0, p999Us: 0, maxUs: 0 });
});

test('negative, NaN and out-of-range inputs are rejected', () => {
  const histogram = new LatencyHistogram();
  assert.throws(() => histogram.record(-1), RangeError);
  assert.throws(() => histogram.record(Number.NaN), RangeError);
  assert.throws(() => histogram.valueAtPercentileUs(101), RangeError);
  assert.throws(() => histogram.valueAtPercentileUs(-0.1), RangeError);
});
