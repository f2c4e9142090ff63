/**
 * The disk's own limits, measured with the least software possible between Node and the device:
 * O_DIRECT writes from an aligned buffer, fdatasync, nothing else. Every store in a comparison
 * pays at least this, so a store's rate divided by the matching limit says how much of the disk
 * it reaches. `ringwal bench` and the peer comparison (bench/systems/disk.js) both run these, so
 * their numbers agree.
 *
 * The synchronous probes (`qd1`, `qd1-append`, `qd1-1mib`, `sequential-qd1`) block the event
 * loop on purpose: one call at a time is queue depth 1 with no scheduling between the calls.
 * `sequential-qd4` needs four writes in flight, so it uses async `fs.write`, which runs each
 * write on a thread of libuv's pool (four threads unless UV_THREADPOOL_SIZE says otherwise): the
 * simplest way to keep four O_DIRECT writes in flight from Node without the addon's ring.
 */
import assert from 'node:assert/strict';
import { closeSync, constants, fdatasync, fdatasyncSync, openSync, write, writeSync } from 'node:fs';
import { join } from 'node:path';
import { loadNativeBinding } from '../io/native-binding.js';
import { LatencyHistogram } from './histogram.js';
import { checkInteger, durationMsMax } from './limits.js';
import { measurementOf, type Measurement } from './workload-result.js';

export type DiskProbeId = 'qd1' | 'qd1-append' | 'qd1-1mib' | 'sequential-qd1' | 'sequential-qd4';
export const diskProbeIds: readonly DiskProbeId[] = ['qd1', 'qd1-append', 'qd1-1mib', 'sequential-qd1', 'sequential-qd4'];

/** A disk probe's numbers: records are writes, latency is per write (with its fdatasync where each write has one). */
export interface DiskMeasurement extends Measurement {
  kind: `disk-${DiskProbeId}`;
  writeBytes: number;
  queueDepth: number;
  /** Whether every write is followed by its own fdatasync; otherwise one fdatasync ends the run, inside the time. */
  syncEachWrite: boolean;
  bufferSource: string;
}

/** The block of O_DIRECT on ext4 and XFS with 4 KiB pages: the smallest write a log makes. */
export const diskBlockBytes = 4096;
/** 1 MiB writes: the size of a bulk batch (256 × 4 KiB), large enough that per-call costs vanish. */
export const diskLargeWriteBytes = 1024 * 1024;
/**
 * The small overwrites cycle through 1 MiB written and synced beforehand, so that each fdatasync
 * flushes data only (no block allocation, no size change), as in a preallocated WAL segment.
 */
const qd1RegionBytes = 1024 * 1024;
/**
 * The 1 MiB overwrites cycle through 16 MiB written beforehand. Each write is flushed before the
 * next one, so a small region gives a cache nothing to merge, and laying it down costs a few
 * tens of milliseconds.
 */
const largeRegionBytes = 16 * 1024 * 1024;
/** Writes in flight for `sequential-qd4`: one per thread of libuv's default pool. */
export const sequentialQueueDepth = 4;
/** 2^40 bytes (a tebibyte) is only a guard against a mistyped size. */
const sequentialBytesMax = 2 ** 40;

export interface SequentialProbeOptions {
  /** Bytes to write (rounded up to whole 1 MiB writes); the run also stops at `durationMsMax`. */
  bytesMax: number;
  durationMsMax: number;
}

/** How long each probe runs when `ringwal bench` measures the limits next to its own rows. */
export interface DiskLimitsOptions {
  syncedDurationMs: number;
  sequential: SequentialProbeOptions;
}

/** A few seconds in all: next to ringwal's own rows, not a study of the disk. */
export const diskLimitsDefaults: DiskLimitsOptions = {
  syncedDurationMs: 2000,
  sequential: { bytesMax: 256 * 1024 * 1024, durationMsMax: 3000 },
};
export const diskLimitsQuick: DiskLimitsOptions = {
  syncedDurationMs: 500,
  sequential: { bytesMax: 64 * 1024 * 1024, durationMsMax: 1000 },
};

/** One probe of `measureDiskLimits`: its measurement, or why it failed (O_DIRECT refused on tmpfs, say). */
export type DiskProbeOutcome = (DiskMeasurement & { ok: true }) | { ok: false; error: string };

/** The limits a store's rows are divided by. */
export interface DiskLimits {
  /** 4 KiB O_DIRECT write + fdatasync at queue depth 1: the rate of a log that syncs every record alone. */
  qd1: DiskProbeOutcome;
  /** 1 MiB O_DIRECT write + fdatasync at queue depth 1: the bandwidth of a log that syncs every 1 MiB batch alone. */
  qd1Mib: DiskProbeOutcome;
  /** 1 MiB O_DIRECT writes, four in flight, one fdatasync at the end: the device's write bandwidth. */
  sequentialQd4: DiskProbeOutcome;
}

interface AlignedBytes {
  bytes: Uint8Array;
  source: string;
}

/** O_DIRECT needs memory aligned to the logical block size; the addon's allocAligned gives it (mmap, so page-aligned). */
function alignedBytes(sizeBytes: number, fill: number): AlignedBytes {
  const buffer = loadNativeBinding().allocAligned(sizeBytes, diskBlockBytes);
  if (typeof buffer === 'number') throw new Error(`allocAligned(${sizeBytes}) failed with errno ${-buffer}`);
  return { bytes: new Uint8Array(buffer).fill(fill), source: 'addon allocAligned' };
}

/** A new file (never one that exists: the probe must not write over anything) opened for O_DIRECT writes. */
function openDirect(path: string): number {
  return openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_DIRECT, 0o644);
}

function checkDuration(durationMs: number): number {
  return checkInteger('disk probe duration (ms)', durationMs, 1, durationMsMax);
}

/**
 * O_DIRECT refuses (EINVAL) a write whose offset, length or memory is off the block grid. The
 * buffers come from allocAligned, so a view whose byteOffset is on the grid has its address on it.
 */
function assertOnBlockGrid(bytes: Uint8Array, lengthBytes: number, offsetBytes: number): void {
  assert(offsetBytes % diskBlockBytes === 0, `offset ${offsetBytes} is not a multiple of ${diskBlockBytes}`);
  assert(lengthBytes % diskBlockBytes === 0, `length ${lengthBytes} is not a multiple of ${diskBlockBytes}`);
  assert(bytes.byteOffset % diskBlockBytes === 0, `buffer offset ${bytes.byteOffset} is not a multiple of ${diskBlockBytes}`);
  assert(lengthBytes <= bytes.byteLength, `length ${lengthBytes} is beyond the buffer's ${bytes.byteLength} bytes`);
}

/** Writes all of `bytes` at `offsetBytes`, on as many calls as a short write takes. */
function writeFullSync(fd: number, bytes: Uint8Array, lengthBytes: number, offsetBytes: number): void {
  assertOnBlockGrid(bytes, lengthBytes, offsetBytes);
  let doneBytes = 0;
  while (doneBytes < lengthBytes) {
    const written = writeSync(fd, bytes, doneBytes, lengthBytes - doneBytes, offsetBytes + doneBytes);
    if (written <= 0) throw new Error(`write at ${offsetBytes + doneBytes} wrote ${written} bytes`);
    doneBytes += written;
  }
}

/**
 * Runs `writeOne(index)` then fdatasync, one pair at a time, for `durationMs`: the latency of
 * each pair and their rate.
 */
function syncedWritesFor(fd: number, durationMs: number, writeBytes: number, writeOne: (index: number) => void): Measurement {
  const histogram = new LatencyHistogram();
  const startNs = process.hrtime.bigint();
  const deadlineNs = startNs + BigInt(durationMs) * 1_000_000n;
  let writes = 0;
  let nowNs = startNs;
  while (nowNs < deadlineNs) {
    writeOne(writes);
    fdatasyncSync(fd);
    const doneNs = process.hrtime.bigint();
    histogram.recordSinceNs(nowNs, doneNs);
    nowNs = doneNs;
    writes += 1;
  }
  return measurementOf(writes, writeBytes, nowNs - startNs, histogram);
}

/** Overwrites of `writeBytes` each followed by fdatasync, cycling through a region written and synced first. */
function syncedOverwrites(path: string, kind: DiskMeasurement['kind'], writeBytes: number, regionBytes: number, durationMs: number): DiskMeasurement {
  const { bytes, source } = alignedBytes(regionBytes, 0xa5);
  const fd = openDirect(path);
  try {
    writeFullSync(fd, bytes, regionBytes, 0);
    fdatasyncSync(fd);
    const slots = regionBytes / writeBytes;
    const measurement = syncedWritesFor(fd, durationMs, writeBytes, (index) => {
      const offsetBytes = (index % slots) * writeBytes;
      writeFullSync(fd, bytes.subarray(offsetBytes), writeBytes, offsetBytes);
    });
    return { kind, ...measurement, writeBytes, queueDepth: 1, syncEachWrite: true, bufferSource: source };
  } finally {
    closeSync(fd);
  }
}

/** 4 KiB O_DIRECT write + fdatasync, one at a time: the rate of a log with no group commit. */
export function measureDiskQd1(dir: string, durationMs: number): DiskMeasurement {
  return syncedOverwrites(join(dir, 'disk-qd1'), 'disk-qd1', diskBlockBytes, qd1RegionBytes, checkDuration(durationMs));
}

/**
 * 1 MiB O_DIRECT write + fdatasync, one at a time: what a log that writes and syncs one 1 MiB
 * batch at a time can reach, and so what bulk appends of 256 × 4 KiB per batch are held to.
 */
export function measureDiskQd1Mib(dir: string, durationMs: number): DiskMeasurement {
  return syncedOverwrites(join(dir, 'disk-qd1-1mib'), 'disk-qd1-1mib', diskLargeWriteBytes, largeRegionBytes, checkDuration(durationMs));
}

/**
 * 4 KiB O_DIRECT write + fdatasync one at a time, each one past the end of the file, so that every
 * fdatasync must also commit a new file size (and a block allocation) to the file system journal:
 * the rate of a log that does not preallocate and syncs once per block. Next to `qd1` it shows
 * whether this disk and file system make an extending sync dearer than an overwrite at all.
 */
export function measureDiskQd1Append(dir: string, durationMs: number): DiskMeasurement {
  const runMs = checkDuration(durationMs);
  const { bytes, source } = alignedBytes(diskBlockBytes, 0xa5);
  const fd = openDirect(join(dir, 'disk-qd1-append'));
  try {
    const measurement = syncedWritesFor(fd, runMs, diskBlockBytes, (index) => writeFullSync(fd, bytes, diskBlockBytes, index * diskBlockBytes));
    return { kind: 'disk-qd1-append', ...measurement, writeBytes: diskBlockBytes, queueDepth: 1, syncEachWrite: true, bufferSource: source };
  } finally {
    closeSync(fd);
  }
}

function checkSequential(options: SequentialProbeOptions): { writes: number; durationMs: number } {
  const bytesMax = checkInteger('disk probe bytes', options.bytesMax, 1, sequentialBytesMax);
  return { writes: Math.ceil(bytesMax / diskLargeWriteBytes), durationMs: checkDuration(options.durationMsMax) };
}

/**
 * 1 MiB O_DIRECT writes back to back into a new file, one at a time, then one fdatasync (in the
 * time): the bandwidth of one writer that extends its file, as a log without preallocation does.
 */
export function measureDiskSequentialQd1(dir: string, options: SequentialProbeOptions): DiskMeasurement {
  const { writes: writesMax, durationMs } = checkSequential(options);
  const { bytes, source } = alignedBytes(diskLargeWriteBytes, 0x5a);
  const fd = openDirect(join(dir, 'disk-sequential-qd1'));
  try {
    const histogram = new LatencyHistogram();
    const startNs = process.hrtime.bigint();
    const deadlineNs = startNs + BigInt(durationMs) * 1_000_000n;
    let writes = 0;
    let sentNs = startNs;
    while (writes < writesMax && sentNs < deadlineNs) {
      writeFullSync(fd, bytes, diskLargeWriteBytes, writes * diskLargeWriteBytes);
      const doneNs = process.hrtime.bigint();
      histogram.recordSinceNs(sentNs, doneNs);
      sentNs = doneNs;
      writes += 1;
    }
    fdatasyncSync(fd);
    const measurement = measurementOf(writes, diskLargeWriteBytes, process.hrtime.bigint() - startNs, histogram);
    return { kind: 'disk-sequential-qd1', ...measurement, writeBytes: diskLargeWriteBytes, queueDepth: 1, syncEachWrite: false, bufferSource: source };
  } finally {
    closeSync(fd);
  }
}

function writeAsync(fd: number, bytes: Uint8Array, lengthBytes: number, offsetBytes: number): Promise<number> {
  assertOnBlockGrid(bytes, lengthBytes, offsetBytes);
  return new Promise((resolve, reject) => {
    write(fd, bytes, 0, lengthBytes, offsetBytes, (error, written) => (error === null ? resolve(written) : reject(error)));
  });
}

function fdatasyncAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (error) => (error === null ? resolve() : reject(error))));
}

/**
 * 1 MiB O_DIRECT writes with four in flight (async `fs.write` on libuv's pool), no sync per
 * write, one fdatasync at the end, inside the time: the device's write bandwidth when a writer
 * keeps it busy. The writes go over a region written and synced first (not timed), because ext4
 * serialises O_DIRECT writes that extend a file or fill holes under the inode lock, which would
 * make four writes in flight run one at a time; over written blocks they run side by side, as they
 * would in a preallocated segment. The region is as large as the run (no block written twice), so
 * a cache below cannot merge the writes.
 */
export async function measureDiskSequentialQd4(dir: string, options: SequentialProbeOptions): Promise<DiskMeasurement> {
  const { writes: writesMax, durationMs } = checkSequential(options);
  const { bytes, source } = alignedBytes(diskLargeWriteBytes, 0x5a);
  const fd = openDirect(join(dir, 'disk-sequential-qd4'));
  try {
    // Lay down the region, under the same time cap: a slow disk measures a smaller region.
    const layDeadlineNs = process.hrtime.bigint() + BigInt(durationMs) * 1_000_000n;
    let regionWrites = 0;
    while (regionWrites < writesMax && process.hrtime.bigint() < layDeadlineNs) {
      writeFullSync(fd, bytes, diskLargeWriteBytes, regionWrites * diskLargeWriteBytes);
      regionWrites += 1;
    }
    fdatasyncSync(fd);

    const histogram = new LatencyHistogram();
    const startNs = process.hrtime.bigint();
    const deadlineNs = startNs + BigInt(durationMs) * 1_000_000n;
    let next = 0;
    let writes = 0;
    let failed = false;
    const lane = async (): Promise<void> => {
      while (!failed && next < regionWrites) {
        const sentNs = process.hrtime.bigint();
        if (sentNs >= deadlineNs) return;
        const offsetBytes = next * diskLargeWriteBytes;
        next += 1;
        // Four writes read from the one buffer at once: the kernel only reads it, so they may share it.
        const written = await writeAsync(fd, bytes, diskLargeWriteBytes, offsetBytes).catch((error: unknown) => {
          failed = true;
          throw error;
        });
        // An O_DIRECT write of whole blocks into allocated space is not cut short but by an error.
        if (written !== diskLargeWriteBytes) {
          failed = true;
          throw new Error(`O_DIRECT write at ${offsetBytes} wrote ${written} of ${diskLargeWriteBytes} bytes`);
        }
        histogram.recordSinceNs(sentNs, process.hrtime.bigint());
        writes += 1;
      }
    };
    // allSettled, not all: the descriptor is closed below only once no write is in flight on it.
    const outcomes = await Promise.allSettled(Array.from({ length: sequentialQueueDepth }, lane));
    for (const outcome of outcomes) if (outcome.status === 'rejected') throw outcome.reason;
    await fdatasyncAsync(fd);
    const measurement = measurementOf(writes, diskLargeWriteBytes, process.hrtime.bigint() - startNs, histogram);
    return {
      kind: 'disk-sequential-qd4',
      ...measurement,
      writeBytes: diskLargeWriteBytes,
      queueDepth: sequentialQueueDepth,
      syncEachWrite: false,
      bufferSource: `${source}, libuv pool (${process.env.UV_THREADPOOL_SIZE ?? 4} threads)`,
    };
  } finally {
    closeSync(fd);
  }
}

/**
 * The three limits the ratios of `ringwal bench` divide by, one after another in `dir` (which must
 * be on the disk under test). A probe that fails (O_DIRECT refused on tmpfs, say) is reported as
 * its error so that the rest of the run still stands.
 */
export async function measureDiskLimits(dir: string, options: DiskLimitsOptions = diskLimitsDefaults): Promise<DiskLimits> {
  const attempt = async (probe: () => DiskMeasurement | Promise<DiskMeasurement>): Promise<DiskProbeOutcome> => {
    try {
      return { ok: true, ...(await probe()) };
    } catch (error) {
      return { ok: false, error: error instanceof Error ? error.message : String(error) };
    }
  };
  return {
    qd1: await attempt(() => measureDiskQd1(dir, options.syncedDurationMs)),
    qd1Mib: await attempt(() => measureDiskQd1Mib(dir, options.syncedDurationMs)),
    sequentialQd4: await attempt(() => measureDiskSequentialQd4(dir, options.sequential)),
  };
}
