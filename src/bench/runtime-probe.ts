/**
 * Where latency comes from, beside the store: how late this process's event loop ran and how long
 * the garbage collector stopped it, over one workload's measured window. Every workload records
 * them (WorkloadResult.runtime), so the peer comparison and `ringwal bench` both report them.
 *
 * A store's append cannot resolve while the event loop is blocked, so a loop delay or GC pause of
 * several milliseconds shows up in the p99 of every store alike; the null store's row shows how
 * much of it the harness makes on its own.
 */
import { monitorEventLoopDelay, performance, PerformanceObserver, type IntervalHistogram, type PerformanceEntry } from 'node:perf_hooks';

export interface EventLoopDelaySummary {
  /** Timer callbacks seen in the window: one per timer period when the loop is free, fewer when it is blocked. */
  samples: number;
  /** How much later than due the timer ran; an idle loop reads about 0.1 ms. */
  p50Us: number;
  p99Us: number;
  maxUs: number;
}

export interface GcSummary {
  /** Collections that started inside the window (scavenges and mark-compacts alike). */
  count: number;
  pauseMsTotal: number;
  pauseMsMax: number;
}

export interface RuntimeDiagnostics {
  eventLoopDelay: EventLoopDelaySummary;
  gc: GcSummary;
}

/**
 * The timer's period. 1 ms, the finest Node's monitor takes, sees a stall of a few milliseconds
 * (what an open-loop p99 is made of) as such, but a loop that sleeps between completions pays
 * for it: with a 1 ms timer armed, a QD1 io_uring write+fdatasync through the addon took p50
 * 247-257 µs instead of 161-190 µs on this VM, with 5, 10 or 20 ms no slower than none
 * (bench/results/2026-12-02-runtime-probe-timer.md). So only a workload whose loop never sleeps
 * (the open loop, which pumps with setImmediate) uses 1 ms; the closed and bulk loops use Node's
 * default, 10 ms, and their rows are not slowed by the probe that describes them.
 */
export type ProbeResolutionMs = 1 | 10;
export const busyLoopResolutionMs: ProbeResolutionMs = 1;
export const sleepingLoopResolutionMs: ProbeResolutionMs = 10;
/**
 * Node's monitor records the time between two of its timer callbacks, so nothing is recorded
 * before the second one: a stall at the very start of the window would be lost. Waiting for a
 * few of them before the window opens makes the first stall count.
 */
const warmUpTimerPeriods = 3;
const NS_PER_US = 1000;

export class RuntimeProbe {
  private readonly gcEntries: PerformanceEntry[] = [];
  private readonly observer = new PerformanceObserver((list) => this.gcEntries.push(...list.getEntries()));
  private readonly startMs = performance.now();

  private constructor(
    private readonly histogram: IntervalHistogram,
    private readonly resolutionMs: ProbeResolutionMs,
  ) {
    this.observer.observe({ entryTypes: ['gc'] });
  }

  /** Starts both probes; the window opens when the returned promise resolves (a few ms later). */
  static async start(resolutionMs: ProbeResolutionMs): Promise<RuntimeProbe> {
    const histogram = monitorEventLoopDelay({ resolution: resolutionMs });
    histogram.enable();
    await new Promise((resolve) => setTimeout(resolve, warmUpTimerPeriods * resolutionMs));
    return new RuntimeProbe(histogram, resolutionMs);
  }

  /** Closes the window without a summary, for a workload that failed: nothing is left enabled. */
  discard(): void {
    this.histogram.disable();
    this.observer.disconnect();
  }

  /** Closes the window and summarises it; call it once, right when the measurement ends. */
  async stop(): Promise<RuntimeDiagnostics> {
    const stopMs = performance.now();
    this.histogram.disable();
    // GC entries reach observers asynchronously; one turn of the loop delivers those still queued.
    await new Promise((resolve) => setImmediate(resolve));
    this.gcEntries.push(...this.observer.takeRecords());
    this.observer.disconnect();
    const pauses = this.gcEntries.filter((entry) => entry.startTime >= this.startMs && entry.startTime <= stopMs).map((entry) => entry.duration);
    return {
      eventLoopDelay: delaySummary(this.histogram, this.resolutionMs),
      gc: { count: pauses.length, pauseMsTotal: pauses.reduce((sum, ms) => sum + ms, 0), pauseMsMax: pauses.reduce((max, ms) => Math.max(max, ms), 0) },
    };
  }
}

function delaySummary(histogram: IntervalHistogram, resolutionMs: number): EventLoopDelaySummary {
  const samples = histogram.count;
  // Each value is the whole interval between two callbacks; what is late is the part beyond it.
  const lateUs = (intervalNs: number): number => (samples === 0 ? 0 : Math.max(0, intervalNs / NS_PER_US - resolutionMs * 1000));
  return { samples, p50Us: lateUs(histogram.percentile(50)), p99Us: lateUs(histogram.percentile(99)), maxUs: lateUs(histogram.max) };
}
