import {
  diskProbeIds,
  measureDiskQd1,
  measureDiskQd1Append,
  measureDiskQd1Mib,
  measureDiskSequentialQd1,
  measureDiskSequentialQd4,
} from '../../dist/bench/index.js';

// The disk's own limits, from src/bench/disk-limits.ts (compiled to dist/bench), the same probes
// `ringwal bench` runs, so that both report the same numbers for the same disk. Not a store: each
// workload id is one probe.

/** The synced probes run as long as the single-producer workload: 5 s (1 s quick). */
const syncedDurationMs = (quick) => (quick ? 1000 : 5000);
/** The sequential probes write 512 MB (64 MB quick), capped at the suite's 15 s (3 s quick). */
const sequential = (quick, durationMs) => ({ bytesMax: quick ? 64e6 : 512e6, durationMsMax: durationMs ?? (quick ? 3000 : 15_000) });

/**
 * @param {string} dir
 * @param {string} workload one of diskProbeIds
 * @param {boolean} quick
 * @param {number} [durationMsAsked] --seconds of the trial: the duration of the synced probes, the cap of the sequential ones
 */
export async function measure(dir, workload, quick, durationMsAsked) {
  // checkInteger in the probes wants whole milliseconds; --seconds may be a fraction.
  const durationMs = durationMsAsked === undefined ? undefined : Math.max(1, Math.round(durationMsAsked));
  switch (workload) {
    case 'qd1':
      return measureDiskQd1(dir, durationMs ?? syncedDurationMs(quick));
    case 'qd1-append':
      return measureDiskQd1Append(dir, durationMs ?? syncedDurationMs(quick));
    case 'qd1-1mib':
      return measureDiskQd1Mib(dir, durationMs ?? syncedDurationMs(quick));
    case 'sequential-qd1':
      return measureDiskSequentialQd1(dir, sequential(quick, durationMs));
    case 'sequential-qd4':
      return measureDiskSequentialQd4(dir, sequential(quick, durationMs));
    default:
      throw new Error(`unknown disk workload ${workload}; known: ${diskProbeIds.join(', ')}`);
  }
}
