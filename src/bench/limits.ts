/**
 * Bounds on workload options. They exist to turn a typo (an extra zero) into a clear error
 * instead of a run that exhausts memory or never ends.
 */

/** Each producer is a pending promise chain; past this the run measures the scheduler, not the store. */
export const producersMax = 65_536;
/** A billion records is hours of work even at ringwal's best rate. */
export const recordsMax = 1_000_000_000;
/** One hour: a benchmark longer than that belongs to a soak test, not to this suite. */
export const durationMsMax = 3_600_000;
/** 64 KiB is far above the workloads' 128 B and 4 KiB and keeps the pool of 1024 records at 64 MiB. */
export const recordSizeBytesMax = 64 * 1024;
/**
 * The open loop keeps one byte per scheduled send to know which ones finished; 50 million sends
 * bound that to 50 MB (10 s at 5 million records/s).
 */
export const openLoopSendsMax = 50_000_000;

export function checkInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
  return value;
}
