/**
 * The latencies of one benchmark run: Node's own HdrHistogram (`perf_hooks.createHistogram`),
 * recording nanoseconds to three significant digits (a relative error below 1/1024 at every
 * magnitude), in fixed memory and without allocating per value. This class only names the units:
 * it takes nanoseconds and reports microseconds, and it reports zeros, not NaN, when empty.
 */
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

export interface LatencySummary {
  count: number;
  meanUs: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
}

/** Significant decimal digits the histogram keeps (HdrHistogram's `figures`). */
const SIGNIFICANT_FIGURES = 3;
const NS_PER_US = 1000;

export class LatencyHistogram {
  private readonly histogram: RecordableHistogram = createHistogram({ figures: SIGNIFICANT_FIGURES });

  /**
   * Records one latency in nanoseconds. HdrHistogram counts integers from 1 up: a fraction is
   * truncated, and a latency below 1 ns (two clock readings in the same nanosecond) counts as 1 ns.
   */
  recordNs(latencyNs: number): void {
    if (!(latencyNs >= 0 && latencyNs <= Number.MAX_SAFE_INTEGER)) throw new RangeError(`latency must be a number of nanoseconds >= 0, got ${latencyNs}`);
    this.histogram.record(Math.max(1, Math.trunc(latencyNs)));
  }

  /** Records a latency measured between two `process.hrtime.bigint()` readings. */
  recordSinceNs(startNs: bigint, endNs: bigint): void {
    this.recordNs(Number(endNs - startNs));
  }

  get count(): number {
    return this.histogram.count;
  }

  /** The value at or below which `percentile` percent (0 < percentile <= 100) of the latencies lie. */
  valueAtPercentileUs(percentile: number): number {
    if (!(percentile > 0 && percentile <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${percentile}`);
    return this.count === 0 ? 0 : this.histogram.percentile(percentile) / NS_PER_US;
  }

  /** Adds every latency of `other` to this histogram, as if they had been recorded here. */
  merge(other: LatencyHistogram): void {
    this.histogram.add(other.histogram);
  }

  summary(): LatencySummary {
    const empty = this.count === 0;
    return {
      count: this.count,
      meanUs: empty ? 0 : this.histogram.mean / NS_PER_US,
      p50Us: this.valueAtPercentileUs(50),
      p99Us: this.valueAtPercentileUs(99),
      p999Us: this.valueAtPercentileUs(99.9),
      maxUs: empty ? 0 : this.histogram.max / NS_PER_US,
    };
  }
}
