// The disk probes of the benchmark (src/bench/disk-limits.ts) return sane shapes on a real file:
// run for a few tens of milliseconds each in a directory under the repository (bench/tmp/, on the
// repository's disk rather than a tmpfs), with no claim about how fast the disk is.
import assert from 'node:assert/strict';
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  measureDiskLimits,
  measureDiskQd1,
  measureDiskQd1Append,
  measureDiskQd1Mib,
  measureDiskSequentialQd1,
  measureDiskSequentialQd4,
} from '../dist/bench/index.js';

const BENCH_TMP = fileURLToPath(new URL('../bench/tmp/', import.meta.url));
const MIB = 1024 * 1024;

/** A fresh directory under bench/tmp/, removed after the test; null where O_DIRECT is refused. */
function probeDir(t) {
  mkdirSync(BENCH_TMP, { recursive: true });
  const dir = mkdtempSync(join(BENCH_TMP, 'test-disk-limits-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  try {
    closeSync(openSync(join(dir, 'o-direct-check'), constants.O_RDWR | constants.O_CREAT | constants.O_DIRECT, 0o644));
  } catch (error) {
    if (error.code === 'EINVAL') return null;
    throw error;
  }
  return dir;
}

function assertShape(measurement, { kind, writeBytes, queueDepth, syncEachWrite }) {
  assert.equal(measurement.kind, kind);
  assert.equal(measurement.writeBytes, writeBytes, kind);
  assert.equal(measurement.queueDepth, queueDepth, kind);
  assert.equal(measurement.syncEachWrite, syncEachWrite, kind);
  assert.ok(measurement.records >= 1, `${kind}: ${measurement.records} writes`);
  assert.equal(measurement.payloadBytes, measurement.records * writeBytes, kind);
  assert.equal(measurement.latency.count, measurement.records, `${kind}: one latency per write`);
  assert.ok(measurement.elapsedMs > 0, kind);
  const rate = measurement.records / (measurement.elapsedMs / 1000);
  assert.ok(Math.abs(measurement.recordsPerS - rate) <= rate * 1e-9, `${kind}: records/s is writes ÷ elapsed`);
  assert.ok(Math.abs(measurement.mbPerS - measurement.payloadBytes / 1e6 / (measurement.elapsedMs / 1000)) <= measurement.mbPerS * 1e-9, kind);
  const { p50Us, p99Us, maxUs } = measurement.latency;
  assert.ok(p50Us > 0 && p50Us <= p99Us && p99Us <= maxUs * (1 + 1 / 1024), `${kind}: p50 ${p50Us} ≤ p99 ${p99Us} ≤ max ${maxUs}`);
  assert.match(measurement.bufferSource, /allocAligned/);
}

test('the synced probes: 4 KiB and 1 MiB overwrites and 4 KiB appends, each with its fdatasync, one at a time', (t) => {
  const dir = probeDir(t);
  if (dir === null) return t.skip('this file system refuses O_DIRECT');
  assertShape(measureDiskQd1(dir, 50), { kind: 'disk-qd1', writeBytes: 4096, queueDepth: 1, syncEachWrite: true });
  assertShape(measureDiskQd1Mib(dir, 50), { kind: 'disk-qd1-1mib', writeBytes: MIB, queueDepth: 1, syncEachWrite: true });
  assertShape(measureDiskQd1Append(dir, 50), { kind: 'disk-qd1-append', writeBytes: 4096, queueDepth: 1, syncEachWrite: true });
});

test('the sequential probes write exactly the bytes asked for, in whole 1 MiB writes, at queue depth 1 and 4', async (t) => {
  const dir = probeDir(t);
  if (dir === null) return t.skip('this file system refuses O_DIRECT');
  // The time cap is far above what 8 MiB takes on any disk, so the byte count is what stops them.
  const options = { bytesMax: 8 * MIB - 1, durationMsMax: 60_000 };
  const qd1 = measureDiskSequentialQd1(dir, options);
  assertShape(qd1, { kind: 'disk-sequential-qd1', writeBytes: MIB, queueDepth: 1, syncEachWrite: false });
  assert.equal(qd1.records, 8, 'rounded up to whole writes');
  const qd4 = await measureDiskSequentialQd4(dir, options);
  assertShape(qd4, { kind: 'disk-sequential-qd4', writeBytes: MIB, queueDepth: 4, syncEachWrite: false });
  assert.equal(qd4.records, 8);
  assert.match(qd4.bufferSource, /libuv pool/);
});

test('measureDiskLimits runs the three limits of ringwal bench and reports each', async (t) => {
  const dir = probeDir(t);
  if (dir === null) return t.skip('this file system refuses O_DIRECT');
  const limits = await measureDiskLimits(dir, { syncedDurationMs: 30, sequential: { bytesMax: 4 * MIB, durationMsMax: 60_000 } });
  assert.deepEqual(Object.keys(limits), ['qd1', 'qd1Mib', 'sequentialQd4']);
  assert.ok(limits.qd1.ok && limits.qd1Mib.ok && limits.sequentialQd4.ok);
  assert.equal(limits.qd1.kind, 'disk-qd1');
  assert.equal(limits.qd1Mib.kind, 'disk-qd1-1mib');
  assert.equal(limits.sequentialQd4.kind, 'disk-sequential-qd4');
  assert.equal(limits.sequentialQd4.records, 4);
});

test('a probe never writes over a file that is there, and a failed probe is reported, not thrown, by measureDiskLimits', async (t) => {
  const dir = probeDir(t);
  if (dir === null) return t.skip('this file system refuses O_DIRECT');
  writeFileSync(join(dir, 'disk-qd1'), 'not the probe’s');
  assert.throws(() => measureDiskQd1(dir, 10), { code: 'EEXIST' });
  const limits = await measureDiskLimits(dir, { syncedDurationMs: 10, sequential: { bytesMax: MIB, durationMsMax: 60_000 } });
  assert.ok(limits.qd1.ok === false);
  assert.match(limits.qd1.error, /EEXIST/);
  assert.ok(limits.qd1Mib.ok);
  assert.equal(limits.qd1Mib.kind, 'disk-qd1-1mib');
});

test('durations and sizes out of range are refused before anything is written', async (t) => {
  const dir = probeDir(t);
  if (dir === null) return t.skip('this file system refuses O_DIRECT');
  assert.throws(() => measureDiskQd1(dir, 0), RangeError);
  assert.throws(() => measureDiskQd1Mib(dir, 1.5), RangeError);
  assert.throws(() => measureDiskQd1Append(dir, 3_600_001), RangeError);
  assert.throws(() => measureDiskSequentialQd1(dir, { bytesMax: 0, durationMsMax: 10 }), RangeError);
  await assert.rejects(measureDiskSequentialQd4(dir, { bytesMax: MIB, durationMsMax: -1 }), RangeError);
  assert.deepEqual(readdirSync(dir), ['o-direct-check'], 'no probe file was made');
});
