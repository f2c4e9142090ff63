import { closeSync, constants, fdatasyncSync, openSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { LatencyHistogram, measurementOf } from '../../dist/bench/index.js';

// The disk's own limits, measured with the least software possible between Node and the device:
// synchronous O_DIRECT pwrite + fdatasync. Every store in the table pays at least this.

const blockBytes = 4096;
// QD1 rewrites a small region that was written and synced first, so that each fdatasync flushes
// only data (no block allocation, no size change) as a preallocated WAL segment would.
const qd1RegionBytes = 1024 * 1024;
const sequentialWriteBytes = 1024 * 1024;

/**
 * O_DIRECT needs a buffer aligned to the logical block size. The addon's allocAligned gives one;
 * until the addon is built, WebAssembly memory does too, because V8 reserves it on page boundaries.
 */
function alignedBuffer(sizeBytes) {
  try {
    const addon = createRequire(import.meta.url)('../../build/Release/ringwal.node');
    const buffer = addon.allocAligned(sizeBytes, blockBytes);
    if (typeof buffer === 'number') throw new Error(`allocAligned failed with errno ${-buffer}`);
    return { bytes: new Uint8Array(buffer), source: 'addon allocAligned' };
  } catch (error) {
    if (error.code !== 'MODULE_NOT_FOUND') throw error;
    const wasmPageBytes = 65536;
    const memory = new WebAssembly.Memory({ initial: Math.ceil(sizeBytes / wasmPageBytes) });
    return { bytes: new Uint8Array(memory.buffer, 0, sizeBytes), source: 'WebAssembly.Memory (addon not built)' };
  }
}

function openDirect(path) {
  return openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_DIRECT, 0o644);
}

/** 4 KiB O_DIRECT write + fdatasync, one at a time: the rate of a log with no group commit. */
export function measureQd1(dir, durationMs) {
  const { bytes, source } = alignedBuffer(qd1RegionBytes);
  bytes.fill(0xa5);
  const fd = openDirect(join(dir, 'qd1'));
  try {
    writeSync(fd, bytes, 0, qd1RegionBytes, 0);
    fdatasyncSync(fd);
    const blocks = qd1RegionBytes / blockBytes;
    const measurement = syncedWritesFor(fd, durationMs, (write) => {
      const offsetBytes = (write % blocks) * blockBytes;
      writeSync(fd, bytes, offsetBytes, blockBytes, offsetBytes);
    });
    return { kind: 'disk-qd1', ...measurement, bufferSource: source };
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes one block (`writeOne(index)`) then fdatasyncs, one at a time, for `durationMs`: the
 * latency of each pair and the rate of them.
 */
function syncedWritesFor(fd, durationMs, writeOne) {
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
  return measurementOf(writes, blockBytes, nowNs - startNs, histogram);
}

/**
 * 4 KiB O_DIRECT write + fdatasync one at a time, each one past the end of the file, so that every
 * fdatasync must also commit a new file size (and a block allocation) to the file system journal:
 * the rate of a log that does not preallocate and syncs once per block. Next to `qd1` it shows
 * whether this disk and file system make an extending sync dearer than an overwrite at all.
 */
export function measureQd1Append(dir, durationMs) {
  const { bytes, source } = alignedBuffer(blockBytes);
  bytes.fill(0xa5);
  const fd = openDirect(join(dir, 'qd1-append'));
  try {
    const measurement = syncedWritesFor(fd, durationMs, (write) => writeSync(fd, bytes, 0, blockBytes, write * blockBytes));
    return { kind: 'disk-qd1-append', ...measurement, bufferSource: source };
  } finally {
    closeSync(fd);
  }
}

/** 1 MiB O_DIRECT writes back to back, one fdatasync at the end: the device's write bandwidth. */
export function measureSequential(dir, totalBytes) {
  const { bytes, source } = alignedBuffer(sequentialWriteBytes);
  bytes.fill(0x5a);
  const fd = openDirect(join(dir, 'sequential'));
  try {
    const histogram = new LatencyHistogram();
    const writes = Math.ceil(totalBytes / sequentialWriteBytes);
    const startNs = process.hrtime.bigint();
    for (let i = 0; i < writes; i++) {
      const sentNs = process.hrtime.bigint();
      writeSync(fd, bytes, 0, sequentialWriteBytes, i * sequentialWriteBytes);
      histogram.recordSinceNs(sentNs, process.hrtime.bigint());
    }
    fdatasyncSync(fd);
    const measurement = measurementOf(writes, sequentialWriteBytes, process.hrtime.bigint() - startNs, histogram);
    return { kind: 'disk-sequential', ...measurement, bufferSource: source };
  } finally {
    closeSync(fd);
  }
}
