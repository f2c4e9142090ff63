/**
 * Live reads: `wal.follow()` yields every record once it is durable, while the writer goes on.
 *
 * A follower never asks the writer to keep anything for it. It reads the durable prefix from the
 * files, in rounds: a round reads from where the last one stopped up to the durable end as it was
 * when the round began (the segment scan resumes at its byte position, so a round costs what it
 * reads, not the segment), then the follower waits for the durable end to move. A slow consumer
 * therefore costs the writer nothing: the records it has not read yet are on disk, and it reads
 * them when it gets there (backpressure is the consumer's own pace). One definition of a valid
 * record for every reader: the rounds run the same scanner and checks as `read`.
 *
 * Truncations: a truncateAfter that cuts records this follower has passed (yielded or filtered
 * out) stops it with WAL_ERR_READ_INVALIDATED, as does a truncateBefore that removes records it
 * has not reached; any other truncation only makes the next round scan its segment from the
 * start. A close ends it cleanly, as does an abort of its signal.
 */
import { WalClosedError, WalReadInvalidatedError } from '../errors.js';
import {
  readSegments,
  type ReadPlan,
  type ReadProgress,
  type RecordFilter,
  type SegmentToRead,
  type WalRecord,
  type WalRecordHeader,
} from '../read/log-reader.js';

/** Wakes the followers waiting for the durable end to move: after each batch, each truncation, at close. */
export class DurableSignal {
  private waiters: (() => void)[] = [];

  /** Resolves at the next wake, or when `signal` aborts. */
  next(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal?.aborted === true) {
        resolve();
        return;
      }
      const onAbort = (): void => wake();
      const wake = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(wake);
    });
  }

  wake(): void {
    if (this.waiters.length === 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

/** A truncateAfter that removed what was above `keptLsn`, numbered as the truncation epoch it ran in. */
export interface CutRecord {
  epoch: number;
  keptLsn: number;
}

/** Cuts remembered for followers to compare their position with; an older follower is invalidated. */
export const CUTS_REMEMBERED_MAX = 1024;

/** What a follower needs of its log. */
export interface FollowedLog {
  readonly closed: boolean;
  readonly durableLsn: number;
  readonly firstLsn: number;
  readonly truncationEpoch: number;
  /** Settles once no truncation is running or queued ahead of the call. */
  truncationsDone(): Promise<void>;
  /** The cuts of truncation epochs after `epoch`, or null when some of them are no longer remembered. */
  cutsAfter(epoch: number): readonly CutRecord[] | null;
  snapshot(): readonly SegmentToRead[];
  readonly durable: DurableSignal;
  plan(segments: readonly SegmentToRead[], fromLsn: number, filter: RecordFilter, progress: ReadProgress, check: (what: string) => void): ReadPlan;
}

class FollowAborted extends Error {}

export async function* follow(
  log: FollowedLog,
  fromLsn: number,
  filter: RecordFilter,
  signal: AbortSignal | undefined,
): AsyncGenerator<WalRecord | WalRecordHeader, void, undefined> {
  await log.truncationsDone();
  // The next LSN to pass: below the log's first LSN there is nothing to wait for.
  let next = Math.max(fromLsn, log.firstLsn);
  let epoch = log.truncationEpoch;
  const progress: ReadProgress = { path: null, nextLsn: next, position: null };
  const stopped = (): boolean => log.closed || signal?.aborted === true;
  for (;;) {
    if (stopped() || next > filter.toLsn) return;
    const durableLsn = log.durableLsn;
    if (next > durableLsn) {
      await log.durable.next(signal);
    } else {
      const roundEpoch = log.truncationEpoch;
      const plan = log.plan(log.snapshot(), next, filter, progress, (what) => {
        if (signal?.aborted === true) throw new FollowAborted();
        if (log.truncationEpoch !== roundEpoch) throw new WalReadInvalidatedError(what);
        if (log.closed) throw new WalClosedError();
      });
      try {
        for await (const record of readSegments(plan)) {
          next = record.lsn + 1;
          yield record;
        }
        // Records the filter skipped were passed too.
        next = Math.max(next, Math.min(durableLsn, filter.toLsn) + 1);
      } catch (err) {
        if (err instanceof FollowAborted) return;
        if (err instanceof WalClosedError && log.closed) return;
        if (!(err instanceof WalReadInvalidatedError)) throw err;
      }
    }
    if (log.truncationEpoch !== epoch) {
      await log.truncationsDone();
      const cuts = log.cutsAfter(epoch);
      if (cuts === null) throw new WalReadInvalidatedError(`more than ${CUTS_REMEMBERED_MAX} truncations ran while this follower was behind`);
      for (const cut of cuts) {
        if (cut.keptLsn < next - 1)
          throw new WalReadInvalidatedError(`truncateAfter(${cut.keptLsn}) cut records this follower had passed (up to LSN ${next - 1})`);
      }
      if (next < log.firstLsn)
        throw new WalReadInvalidatedError(`truncateBefore removed LSNs ${next} to ${log.firstLsn - 1}, which this follower had not read`);
      epoch = log.truncationEpoch;
      // The segment may have been rewritten or replaced: scan it from its start next time.
      progress.path = null;
      progress.position = null;
    }
  }
}
