/**
 * A log-linear latency histogram in the manner of HdrHistogram: fixed memory, microsecond
 * resolution, and a relative error below 1/1024 (three significant digits) at every magnitude.
 *
 * Layout of `counts`:
 *
 *   index 0 .. 2047            one bucket per microsecond (exact)
 *   index 2048 + (e-1)*1024 + (v >> e) - 1024, for e = 1 .. 21
 *                              1024 buckets per power of two, each 2^e microseconds wide
 *
 * A million latencies or a billion cost the same ~190 KB, and recording never allocates, so the
 * histogram can sit on the hot path of a benchmark without disturbing what it measures.
 */

// 2048 exact buckets keep the relative error of every wider bucket under 1/1024.
const subBucketCount = 2048;
const subBucketHalfCount = subBucketCount / 2;
const subBucketBits = 11;

/**
 * One hour is far above any latency a write-ahead log can show and below 2^32 µs, so bucket
 * arithmetic stays on 32-bit integers. Larger values are clamped into the last bucket; `maxUs`
 * still keeps the exact largest value.
 */
export const latencyUsHighest = 3_600_000_000;

const exponentMax = 32 - subBucketBits;
const bucketCount = subBucketCount + exponentMax * subBucketHalfCount;

export interface LatencySummary {
  count: number;
  meanUs: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
}

export class LatencyHistogram {
  // Float64 rather than Uint32 so that a count can pass 2^32 without wrapping (exact to 2^53).
  private readonly counts = new Float64Array(bucketCount);
  count = 0;
  sumUs = 0;
  minUs = Infinity;
  maxUs = 0;

  /** Records one latency in microseconds; fractions are truncated to whole microseconds. */
  record(valueUs: number): void {
    if (!(valueUs >= 0)) throw new RangeError(`latency must be a number >= 0, got ${valueUs}`);
    const clampedUs = Math.min(Math.floor(valueUs), latencyUsHighest);
    this.counts[indexOf(clampedUs)]! += 1;
    this.count += 1;
    this.sumUs += valueUs;
    if (valueUs < this.minUs) this.minUs = valueUs;
    if (valueUs > this.maxUs) this.maxUs = valueUs;
  }

  /** Records a latency measured between two `process.hrtime.bigint()` readings. */
  recordSinceNs(startNs: bigint, endNs: bigint): void {
    this.record(Number(endNs - startNs) / 1000);
  }

  /**
   * The value at or below which `percentile` percent of the recorded values lie. It reports the
   * top of the bucket (never above the exact maximum) so that a tail is never understated.
   */
  valueAtPercentileUs(percentile: number): number {
    if (!(percentile >= 0 && percentile <= 100)) {
      throw new RangeError(`percentile must be in [0, 100], got ${percentile}`);
    }
    if (this.count === 0) return 0;
    // The epsilon keeps float error from pushing an exact rank up by one (0.999 * 1000 = 999.0000000000001).
    const rank = Math.max(1, Math.ceil((percentile / 100) * this.count - 1e-9));
    let seen = 0;
    for (let index = 0; index < bucketCount; index++) {
      seen += this.counts[index]!;
      if (seen < rank) continue;
      // The bucket holding clamped values has no useful top; the exact maximum is the honest answer.
      const highestUs = highestValueOf(index);
      return highestUs >= latencyUsHighest ? this.maxUs : Math.min(highestUs, this.maxUs);
    }
    return this.maxUs;
  }

  /** Adds every value of `other` to this histogram, as if they had been recorded here. */
  merge(other: LatencyHistogram): void {
    for (let index = 0; index < bucketCount; index++) this.counts[index]! += other.counts[index]!;
    this.count += other.count;
    this.sumUs += other.sumUs;
    this.minUs = Math.min(this.minUs, other.minUs);
    this.maxUs = Math.max(this.maxUs, other.maxUs);
  }

  summary(): LatencySummary {
    return {
      count: this.count,
      meanUs: this.count === 0 ? 0 : this.sumUs / this.count,
      p50Us: this.valueAtPercentileUs(50),
      p99Us: this.valueAtPercentileUs(99),
      p999Us: this.valueAtPercentileUs(99.9),
      maxUs: this.maxUs,
    };
  }
}

function indexOf(valueUs: number): number {
  if (valueUs < subBucketCount) return valueUs;
  // The shift that brings the value into [1024, 2048): one less than its bit length minus 11.
  const exponent = 32 - Math.clz32(valueUs) - subBucketBits;
  const subBucket = Math.floor(valueUs / 2 ** exponent);
  return subBucketCount + (exponent - 1) * subBucketHalfCount + (subBucket - subBucketHalfCount);
}

function highestValueOf(index: number): number {
  if (index < subBucketCount) return index;
  const exponent = Math.floor((index - subBucketCount) / subBucketHalfCount) + 1;
  const subBucket = ((index - subBucketCount) % subBucketHalfCount) + subBucketHalfCount;
  return (subBucket + 1) * 2 ** exponent - 1;
}
