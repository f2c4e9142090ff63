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
import assert from 'node:assert/strict';
import { WalClosedError, WalReadInvalidatedError } from '../errors.js';
import type { AlignedBuffer, IoFile } from '../io/io.js';
import type { DurableBytesSink } from './group-commit.js';
import {
  readSegments,
  whereText,
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
  readonly tail: TailCache;
  /** An aligned buffer for the follower's scans, reused round after round. */
  scanBuffer(): AlignedBuffer;
  plan(segments: readonly SegmentToRead[], fromLsn: number, filter: RecordFilter, progress: ReadProgress, check: (where: string | number) => void): ReadPlan;
}

class FollowAborted extends Error {}

/** The ring moved past the bytes a round was reading from memory: the next round reads the file. */
class TailOverrun extends Error {}

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
  const scanBuffer = log.scanBuffer();
  const stopped = (): boolean => log.closed || signal?.aborted === true;
  log.tail.followers += 1;
  try {
    yield* rounds();
  } finally {
    log.tail.followers -= 1;
  }

  async function* rounds(): AsyncGenerator<WalRecord | WalRecordHeader, void, undefined> {
    for (;;) {
      if (stopped() || next > filter.toLsn) return;
      const durableLsn = log.durableLsn;
      if (next > durableLsn) {
        await log.durable.next(signal);
      } else {
        const roundEpoch = log.truncationEpoch;
        const segments = log.snapshot();
        const plan = log.plan(segments, next, filter, progress, (where) => {
          if (signal?.aborted === true) throw new FollowAborted();
          if (log.truncationEpoch !== roundEpoch) throw new WalReadInvalidatedError(whereText(where));
          if (log.closed) throw new WalClosedError();
        });
        plan.scanBuffer = scanBuffer;
        const active = segments[segments.length - 1];
        // Caught up in the active segment: the bytes since the last round are in memory.
        plan.fileFor = (segment) =>
          segment === active && progress.path === segment.path && progress.position !== null
            ? log.tail.fileOf(segment.header.segmentId, segment.path, progress.position.offsetBytes, segment.endBytes, segment.header.blockSizeBytes)
            : null;
        try {
          for await (const record of readSegments(plan)) {
            next = record.lsn + 1;
            yield record;
          }
          // Records the filter skipped were passed too.
          next = Math.max(next, Math.min(durableLsn, filter.toLsn) + 1);
        } catch (err) {
          if (err instanceof FollowAborted) return;
          // progress still says where the last complete scan step ended: resume from there.
          if (err instanceof TailOverrun) continue;
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
}

/**
 * The durable bytes of the active segment's last batches, for followers that are caught up: a
 * round near the durable end scans them from memory instead of reading the device, whose reads
 * would queue behind the log's own syncs. Bounded: the oldest batches are dropped beyond
 * `TAIL_CACHE_BYTES_MAX`, and a follower behind what is left reads the files as before.
 * The bytes are what the writer wrote and the device acknowledged; the scanner checks them
 * exactly as it checks bytes read back (one reader model).
 */
export const TAIL_CACHE_BYTES_MAX = 8 * 1024 * 1024;

export class TailCache implements DurableBytesSink {
  /**
   * The bytes of [startBytes, endBytes) of segment `segmentId`, file offset f at index
   * f mod the ring's size: batches are copied in as they become durable, without allocating.
   */
  private ring: Uint8Array | null = null;
  private segmentId = -1;
  private startBytes = 0;
  private endBytes = 0;
  /** Grows at every clear: a file of an older generation reads nothing any more. */
  private generation = 0;
  /** Followers reading: the writer copies its batches only while there is one. */
  followers = 0;

  get wanted(): boolean {
    return this.followers > 0;
  }

  publish(segmentId: number, fileOffsetBytes: number, bytes: Uint8Array): void {
    const ring = (this.ring ??= new Uint8Array(TAIL_CACHE_BYTES_MAX));
    // A new segment, or a batch that does not continue the cached bytes (after a truncation):
    // start again from it.
    if (segmentId !== this.segmentId || fileOffsetBytes > this.endBytes || fileOffsetBytes < this.startBytes) this.clear(segmentId, fileOffsetBytes);
    // A batch larger than the ring keeps only its end.
    const skipBytes = Math.max(0, bytes.byteLength - ring.byteLength);
    copyIntoRing(ring, fileOffsetBytes + skipBytes, bytes.subarray(skipBytes));
    // The writer only moves forward between truncations: the newest batch ends the cached bytes.
    this.endBytes = fileOffsetBytes + bytes.byteLength;
    this.startBytes = Math.max(this.startBytes, this.endBytes - ring.byteLength);
  }

  /** Forgets everything (a truncation moved the writer). */
  clear(segmentId = -1, fromBytes = 0): void {
    this.generation += 1;
    this.segmentId = segmentId;
    this.startBytes = fromBytes;
    this.endBytes = fromBytes;
  }

  /**
   * A read-only file holding [fromBytes rounded down to a block, toBytes) of the segment; null
   * unless all of it is cached. It reads from the ring: valid until the next publish, so a
   * round uses it at once (a round's scan steps run before the next completion is handled).
   */
  fileOf(segmentId: number, path: string, fromBytes: number, toBytes: number, blockBytes: number): IoFile | null {
    const baseBytes = Math.floor(fromBytes / blockBytes) * blockBytes;
    if (this.ring === null || segmentId !== this.segmentId || baseBytes < this.startBytes || toBytes > this.endBytes || toBytes <= baseBytes) return null;
    const endBytes = this.endBytes;
    const generation = this.generation;
    // Later batches may wrap the ring over these bytes while the consumer holds the round up.
    const intact = (fromBytes2: number): boolean => this.generation === generation && fromBytes2 >= this.startBytes;
    return new MemoryFile(path, blockBytes, baseBytes, endBytes, this.ring, intact);
  }
}

function copyIntoRing(ring: Uint8Array, fileOffsetBytes: number, bytes: Uint8Array): void {
  const at = fileOffsetBytes % ring.byteLength;
  const firstBytes = Math.min(bytes.byteLength, ring.byteLength - at);
  ring.set(bytes.subarray(0, firstBytes), at);
  if (firstBytes < bytes.byteLength) ring.set(bytes.subarray(firstBytes), 0);
}

/** Bytes of a file held in a TailCache ring, from `baseBytes` to `endBytes`: what a scanner needs of an IoFile, read only. */
class MemoryFile implements IoFile {
  readonly direct = false;
  readonly syncMethod = 'linked-fdatasync' as const;

  constructor(
    readonly path: string,
    readonly alignmentBytes: number,
    private readonly baseBytes: number,
    private readonly endBytes: number,
    private readonly ring: Uint8Array,
    private readonly intact: (fromBytes: number) => boolean,
  ) {}

  read(buffer: AlignedBuffer, bufferOffsetBytes: number, lengthBytes: number, fileOffsetBytes: number): Promise<number> {
    assert(fileOffsetBytes >= this.baseBytes, 'a scan of cached bytes starts inside them');
    if (!this.intact(fileOffsetBytes)) return Promise.reject(new TailOverrun());
    const gotBytes = Math.max(0, Math.min(lengthBytes, this.endBytes - fileOffsetBytes));
    const ring = this.ring;
    const at = fileOffsetBytes % ring.byteLength;
    const firstBytes = Math.min(gotBytes, ring.byteLength - at);
    buffer.bytes.set(ring.subarray(at, at + firstBytes), bufferOffsetBytes);
    if (firstBytes < gotBytes) buffer.bytes.set(ring.subarray(0, gotBytes - firstBytes), bufferOffsetBytes + firstBytes);
    return Promise.resolve(gotBytes);
  }

  write(): Promise<void> {
    return Promise.reject(new Error('cached segment bytes are read only'));
  }

  datasync(): Promise<void> {
    return Promise.resolve();
  }

  dropCache(): Promise<void> {
    return Promise.resolve();
  }

  sizeBytes(): Promise<number> {
    return Promise.resolve(this.endBytes);
  }

  truncate(): Promise<void> {
    return Promise.reject(new Error('cached segment bytes are read only'));
  }

  allocate(): Promise<void> {
    return Promise.reject(new Error('cached segment bytes are read only'));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
