// Metrics on a real log: the batch shape in stats(), every diagnostics channel with its payload,
// and the slow-sync warning with its bound of one warning per interval.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import fs from 'node:fs';
import path from 'node:path';
import { constants } from 'node:os';
import { NativeIo, SLOW_SYNC_WARNING_CODE, Wal, WalIoError, channels } from '../dist/index.js';
import { LogEvents } from '../dist/writer/channels.js';
import { SLOW_SYNC_WARNING_INTERVAL_MS, SlowSyncWarning } from '../dist/writer/slow-sync-warning.js';
import { SLOW_SYNC_WARNING_MS_DEFAULT, SLOW_SYNC_WARNING_MS_MAX } from '../dist/writer/options.js';
import { SEGMENT_NAME, recordSpanBytes, walkSegment } from './helpers/format.mjs';
import { hookedIo } from './helpers/hooked-io.mjs';
import { payloadFor, tempDir } from './helpers/tmp.mjs';

const OBSERVABILITY_DOC = fs.readFileSync(new URL('../docs/observability.md', import.meta.url), 'utf8');

/** The text of the section of docs/observability.md headed `heading`, up to the next heading. */
function docSection(heading) {
  const start = OBSERVABILITY_DOC.indexOf(`${heading}\n`);
  assert.ok(start >= 0, `docs/observability.md has the section ${heading}`);
  const end = OBSERVABILITY_DOC.indexOf('\n#', start + heading.length);
  return OBSERVABILITY_DOC.slice(start, end < 0 ? undefined : end);
}

/** The field names a section's table lists in its first column (`a`, `b` in one cell count as two). */
function documentedFields(heading) {
  const fields = new Set();
  for (const line of docSection(heading).split('\n')) {
    if (!line.startsWith('| `')) continue;
    for (const m of line.split('|')[1].matchAll(/`([^`]+)`/g)) fields.add(m[1]);
  }
  return fields;
}

/**
 * Subscribes to every channel for the rest of the test and collects the events of `dir` by
 * channel name (other tests' logs publish on the same channels). Once the test is done, every
 * field of every event it got must be one docs/observability.md lists for that channel.
 * @returns {Record<string, any[]>}
 */
function collect(t, dir) {
  /** @type {Record<string, any[]>} */
  const seen = {};
  for (const name of Object.values(channels)) {
    seen[name] = [];
    const onMessage = (message) => {
      if (message.dir === dir) seen[name].push(message);
    };
    diagnosticsChannel.subscribe(name, onMessage);
    t.after(() => {
      diagnosticsChannel.unsubscribe(name, onMessage);
      const documented = documentedFields(`### \`${name}\``);
      for (const event of seen[name]) {
        for (const field of Object.keys(event)) assert.ok(documented.has(field), `docs/observability.md lists ${name}'s field ${field}`);
      }
    });
  }
  return seen;
}

/** Collects the process warnings of one code (the warning event comes a tick after emitWarning). */
function collectWarnings(t, code) {
  const warnings = [];
  const onWarning = (warning) => {
    if (warning.code === code) warnings.push(warning);
  };
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  return warnings;
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/** Appends `rounds` groups of `perRound` concurrent records; returns the payloads in LSN order. */
async function appendRounds(wal, rounds, perRound, offset = 0) {
  const payloads = [];
  for (let r = 0; r < rounds; r++) {
    const round = Array.from({ length: perRound }, (_, i) => payloadFor(offset + r * perRound + i));
    payloads.push(...round);
    await Promise.all(round.map((p) => wal.append(p)));
  }
  return payloads;
}

test('the channel names are the ringwal:<event> names docs/observability.md lists', () => {
  assert.deepEqual(channels, {
    batchDurable: 'ringwal:batch-durable',
    rollover: 'ringwal:rollover',
    truncation: 'ringwal:truncation',
    recovery: 'ringwal:recovery',
    failure: 'ringwal:failure',
    slowSync: 'ringwal:slow-sync',
  });
  assert.ok(Object.isFrozen(channels));
  for (const [key, name] of Object.entries(channels)) {
    assert.ok(docSection('## Channels').includes(`| \`${key}\` | \`${name}\` |`), `the channel table lists ${key}`);
    assert.ok(documentedFields(`### \`${name}\``).has('dir'), `docs/observability.md has a payload table for ${name}`);
  }
});

test('nothing is published while a channel has no subscriber', async (t) => {
  const channel = diagnosticsChannel.channel(channels.batchDurable);
  let published = 0;
  // Counts the calls whatever the subscribers: an own property shadows the prototype's publish.
  channel.publish = () => void (published += 1);
  t.after(() => delete (/** @type {any} */ (channel).publish));
  const dir = tempDir(t);
  const wal = await Wal.open(dir);
  t.after(() => wal.close());
  await appendRounds(wal, 3, 10);
  assert.equal(published, 0, 'no subscriber: no payload built, nothing published');
  const onMessage = () => undefined;
  diagnosticsChannel.subscribe(channels.batchDurable, onMessage);
  t.after(() => diagnosticsChannel.unsubscribe(channels.batchDurable, onMessage));
  await appendRounds(wal, 3, 10, 30);
  assert.ok(published >= 3, `${published} batches published once subscribed`);
});

test('stats() reports the shape of the batches, consistent with the counters and with the batch events', async (t) => {
  const dir = tempDir(t);
  const seen = collect(t, dir);
  const wal = await Wal.open(dir);
  t.after(() => wal.close());
  const empty = await wal.stats();
  assert.deepEqual(empty.recordsPerBatch, { mean: 0, max: 0 }, 'zeros before the first batch, not NaN');
  assert.deepEqual(empty.recordBytesPerBatch, { mean: 0, max: 0 });
  assert.equal(empty.batchesInFlight, 0);

  const payloads = await appendRounds(wal, 5, 40);
  await wal.appendBatch(Array.from({ length: 100 }, (_, i) => payloadFor(200 + i)));
  for (let i = 0; i < 100; i++) payloads.push(payloadFor(200 + i));
  const s = await wal.stats();
  const expectedRecordBytes = payloads.reduce((sum, p) => sum + recordSpanBytes(p.byteLength), 0);

  assert.equal(s.records, 300);
  assert.equal(s.recordBytes, expectedRecordBytes, 'the log holds exactly these records');
  assert.ok(s.batches >= 6 && s.batches <= 300, `${s.batches} batches: at least one per round`);
  assert.ok(Math.abs(s.recordsPerBatch.mean * s.batches - s.records) < 1e-6, 'mean records per batch × batches = records');
  assert.ok(Math.abs(s.recordBytesPerBatch.mean * s.batches - expectedRecordBytes) < 1e-6, 'mean bytes per batch × batches = record bytes');
  assert.ok(s.recordsPerBatch.max >= 100, 'the appendBatch went in one batch');
  assert.ok(s.recordsPerBatch.max >= s.recordsPerBatch.mean);
  assert.ok(s.recordBytesPerBatch.max >= s.recordBytesPerBatch.mean);
  assert.ok(s.recordBytesPerBatch.max <= expectedRecordBytes);
  assert.equal(s.batchesInFlight, 0, 'every append resolved: nothing in flight');
  assert.equal(s.batchesInFlightPeak, 1);
  assert.equal(s.syncLatencyUs.count, s.batches, 'one latency per batch');
  assert.ok(s.syncLatencyUs.p50 <= s.syncLatencyUs.p99 && s.syncLatencyUs.p99 <= s.syncLatencyUs.max);
  assert.ok(['io_uring', 'threadpool'].includes(s.backend));
  assert.equal(typeof s.directIo, 'boolean');
  assert.ok(['linked-fdatasync', 'rwf-dsync'].includes(s.syncMethod));
  assert.deepEqual(new Set(Object.keys(s)), documentedFields('## stats()'), 'docs/observability.md lists exactly the fields of stats()');

  const batches = seen[channels.batchDurable];
  assert.equal(batches.length, s.batches, 'one batch-durable event per batch');
  let nextLsn = 1;
  for (const b of batches) {
    assert.equal(b.firstLsn, nextLsn, 'the events come in LSN order, one batch after another');
    assert.equal(b.records, b.lastLsn - b.firstLsn + 1);
    assert.equal(b.segmentId, 1);
    assert.ok(b.writtenBytes > 0 && b.writtenBytes % 512 === 0, 'whole blocks');
    assert.ok(b.writtenBytes >= b.recordBytes);
    assert.ok(Number.isInteger(b.syncLatencyUs) && b.syncLatencyUs >= 0);
    nextLsn = b.lastLsn + 1;
  }
  assert.equal(nextLsn, 301);
  assert.equal(
    batches.reduce((sum, b) => sum + b.recordBytes, 0),
    expectedRecordBytes,
  );
  assert.equal(Math.max(...batches.map((b) => b.records)), s.recordsPerBatch.max);
  assert.equal(Math.max(...batches.map((b) => b.recordBytes)), s.recordBytesPerBatch.max);
});

test('batchesInFlight counts the batches submitted and not yet durable', async (t) => {
  const dir = tempDir(t);
  const native = NativeIo.create({ backend: 'threadpool', syncMethod: 'linked-fdatasync', queueDepth: 64 });
  t.after(() => native.close());
  /** @type {(value?: unknown) => void} */
  let release = () => undefined;
  let holding = false;
  const io = hookedIo(native, {
    write: ({ durable }) => (holding && durable ? { hold: new Promise((resolve) => (release = resolve)) } : undefined),
  });
  const wal = await Wal.open(dir, { io });
  t.after(() => wal.close());
  holding = true;
  const pending = wal.append(payloadFor(0));
  while ((await wal.stats()).batchesInFlight === 0) await nextTurn();
  const during = await wal.stats();
  assert.equal(during.batchesInFlight, 1);
  assert.equal(during.batches, 0, 'not durable yet');
  holding = false;
  release();
  assert.equal(await pending, 1);
  const after = await wal.stats();
  assert.equal(after.batchesInFlight, 0);
  assert.equal(after.batches, 1);
  assert.equal(after.batchesInFlightPeak, 1);
});

test('rollover, truncateBefore and truncateAfter publish what they did', async (t) => {
  const dir = tempDir(t);
  const seen = collect(t, dir);
  const sealedInfos = [];
  const wal = await Wal.open(dir, { segmentSizeBytes: 64 * 1024, onSegmentSealed: (info) => void sealedInfos.push(info) });
  t.after(() => wal.close());
  for (let i = 0; i < 40; i++) await wal.appendBatch(Array.from({ length: 10 }, (_, k) => payloadFor(i * 10 + k, 1000)));
  const before = await wal.stats();
  assert.ok(before.segmentCount >= 5, `${before.segmentCount} segments`);

  const rollovers = seen[channels.rollover];
  assert.equal(rollovers.length, before.segmentCount - 1, 'one rollover per segment begun');
  assert.deepEqual(
    rollovers.map((r) => [r.sealedSegmentId, r.sealedLastLsn]),
    sealedInfos.map((info) => [info.segmentId, info.lastLsn]),
    'each rollover names the segment it sealed and where it ended',
  );
  for (let i = 0; i < rollovers.length; i++) {
    const r = rollovers[i];
    assert.equal(r.reason, 'segment-full');
    assert.equal(r.nextSegmentId, r.sealedSegmentId + 1);
    if (i > 0) assert.equal(r.sealedSegmentId, rollovers[i - 1].nextSegmentId, 'each sealed segment is the one the rollover before began');
  }

  // Everything below the third sealed segment's end goes: its segment and the two before it.
  const cutLsn = sealedInfos[2].lastLsn + 1;
  const removed = await wal.truncateBefore(cutLsn);
  assert.equal(removed.segmentsRemoved, 3);
  const [tb] = seen[channels.truncation];
  assert.deepEqual(tb, {
    dir,
    kind: 'before',
    lsn: cutLsn,
    firstLsn: wal.firstLsn,
    recordsRemoved: wal.firstLsn - 1,
    segmentsRemoved: removed.segmentsRemoved,
    bytesRemoved: removed.bytesRemoved,
  });
  assert.equal(wal.firstLsn, cutLsn);
  assert.ok(tb.bytesRemoved > 0);

  // Cut back into the sealed segment before the active one: the active one goes whole.
  const segmentsBeforeCut = (await wal.stats()).segmentCount;
  const durableBeforeCut = wal.durableLsn;
  const keptLsn = sealedInfos[sealedInfos.length - 1].firstLsn + 2;
  await wal.truncateAfter(keptLsn);
  const segmentsAfterCut = (await wal.stats()).segmentCount;
  const ta = seen[channels.truncation][1];
  assert.deepEqual(ta, {
    dir,
    kind: 'after',
    lsn: keptLsn,
    nextLsn: keptLsn + 1,
    recordsRemoved: durableBeforeCut - keptLsn,
    segmentsRemoved: segmentsBeforeCut - segmentsAfterCut,
  });
  assert.equal(ta.segmentsRemoved, 1, 'the active segment was removed; the sealed one it cut into was replaced');
  assert.equal(await wal.append(payloadFor(9999)), keptLsn + 1);

  // A cut at the durable end removes nothing, and says so.
  await wal.truncateAfter(wal.durableLsn);
  assert.deepEqual(seen[channels.truncation][2], { dir, kind: 'after', lsn: keptLsn + 1, nextLsn: keptLsn + 2, recordsRemoved: 0, segmentsRemoved: 0 });
  assert.equal(seen[channels.truncation].length, 3);
  assert.equal(seen[channels.failure].length, 0);
});

test('a key rotation that begins a segment publishes a rollover of its own reason', async (t) => {
  const dir = tempDir(t);
  const seen = collect(t, dir);
  const wal = await Wal.open(dir, { encryption: { key: Buffer.alloc(32, 1), keyId: 1 } });
  t.after(() => wal.close());
  await appendRounds(wal, 1, 5);
  await wal.rotateKey({ keyId: 2, key: Buffer.alloc(32, 2) });
  assert.equal(await wal.append(payloadFor(5)), 6);
  assert.deepEqual(seen[channels.rollover], [{ dir, reason: 'key-rotation', sealedSegmentId: 1, sealedLastLsn: 5, nextSegmentId: 2 }]);
  assert.equal(seen[channels.batchDurable].at(-1).segmentId, 2, 'the next batch went to the new segment');
});

test('every open publishes what recovery found, a torn tail included', async (t) => {
  const dir = tempDir(t);
  const seen = collect(t, dir);
  let wal = await Wal.open(dir);
  await appendRounds(wal, 1, 3);
  await wal.close();
  const [fresh] = seen[channels.recovery];
  assert.equal(fresh.nextLsn, 1, 'a new log: recovery of its empty first segment');
  assert.equal(fresh.recordCount, 0);
  assert.equal(fresh.tornTail, null);

  const segPath = path.join(dir, SEGMENT_NAME);
  const { endBytes, blockSizeBytes } = walkSegment(fs.readFileSync(segPath));
  // Garbage in the block after the last record: what a torn write of a next batch leaves.
  const garbageAtBytes = Math.ceil(endBytes / blockSizeBytes) * blockSizeBytes;
  const fd = fs.openSync(segPath, 'r+');
  fs.writeSync(fd, Buffer.alloc(300, 0xc7), 0, 300, garbageAtBytes);
  fs.fsyncSync(fd);
  fs.closeSync(fd);

  wal = await Wal.open(dir);
  t.after(() => wal.close());
  assert.equal(seen[channels.recovery].length, 2);
  const torn = seen[channels.recovery][1];
  assert.deepEqual(torn, {
    dir,
    segmentPath: segPath,
    recordCount: 3,
    nextLsn: 4,
    endBytes,
    tornTail: wal.recovery.tornTail,
    restoredFromDoubleWrite: false,
  });
  assert.equal(torn.tornTail.offsetBytes, endBytes);
  assert.notEqual(torn.tornTail, wal.recovery.tornTail, 'a copy: a subscriber cannot change wal.recovery');
});

test('a failed sync publishes the failure once, with the durable LSN before it', async (t) => {
  const dir = tempDir(t);
  const seen = collect(t, dir);
  const io = NativeIo.create({ backend: 'threadpool', syncMethod: 'linked-fdatasync', queueDepth: 64 });
  t.after(() => io.close());
  const wal = await Wal.open(dir, { io });
  t.after(() => wal.close().catch(() => undefined));
  await appendRounds(wal, 1, 50);
  io.injectFault('fdatasync', 1, constants.errno.EIO);
  const failed = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => wal.append(payloadFor(50 + i))));
  assert.ok(failed.every((r) => r.status === 'rejected'));
  await assert.rejects(wal.append(payloadFor(99)), { code: 'WAL_ERR_DURABILITY_LOST' });
  const failures = seen[channels.failure];
  assert.equal(failures.length, 1, 'the log fails once; later refusals are not new failures');
  assert.equal(failures[0].durableLsn, 50);
  assert.ok(failures[0].error instanceof WalIoError);
  assert.equal(failures[0].error.errnoName, 'EIO');
  assert.equal(failures[0].error.syscall, 'fdatasync');
  assert.equal(seen[channels.batchDurable].at(-1).lastLsn, 50, 'no batch is durable after the failure');
});

test('a slow write and sync is published on the slow-sync channel', async (t) => {
  const dir = tempDir(t);
  const seen = collect(t, dir);
  const warnings = collectWarnings(t, SLOW_SYNC_WARNING_CODE);
  const native = NativeIo.create({ backend: 'threadpool', syncMethod: 'linked-fdatasync', queueDepth: 64 });
  t.after(() => native.close());
  const delayMs = 300;
  let slow = false;
  const io = hookedIo(native, {
    write: ({ durable }) => (slow && durable ? new Promise((resolve) => setTimeout(resolve, delayMs)) : undefined),
  });
  const wal = await Wal.open(dir, { io, slowSyncWarningMs: 100 });
  t.after(() => wal.close());
  slow = true;
  const lsn = await wal.append(payloadFor(0));
  slow = false;
  await nextTurn();
  const event = seen[channels.slowSync].find((e) => e.firstLsn === lsn);
  assert.ok(event !== undefined, 'the delayed batch is reported');
  assert.equal(event.lastLsn, lsn);
  assert.equal(event.thresholdMs, 100);
  assert.ok(event.syncLatencyUs >= delayMs * 1000 * 0.9, `${event.syncLatencyUs} µs`);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0].message, /took \d+\.\d ms, above slowSyncWarningMs \(100 ms\)/);
  assert.ok(warnings[0].message.includes(dir));
});

test('with slowSyncWarningMs 0 every batch is slow: each is published, one warning is emitted in the interval', async (t) => {
  const dir = tempDir(t);
  const seen = collect(t, dir);
  const warnings = collectWarnings(t, SLOW_SYNC_WARNING_CODE);
  const wal = await Wal.open(dir, { slowSyncWarningMs: 0 });
  t.after(() => wal.close());
  for (let i = 0; i < 5; i++) await wal.append(payloadFor(i));
  await nextTurn();
  const s = await wal.stats();
  assert.equal(s.batches, 5, 'one append at a time: five batches');
  assert.deepEqual(
    seen[channels.slowSync].map((e) => [e.firstLsn, e.lastLsn, e.thresholdMs]),
    [1, 2, 3, 4, 5].map((lsn) => [lsn, lsn, 0]),
  );
  assert.equal(warnings.length, 1, 'a slow disk warns once per interval, not once per batch');
  assert.doesNotMatch(warnings[0].message, /since the last warning/, 'the first warning has no warning before it');
});

test('slowSyncWarningMs null publishes nothing and warns of nothing', async (t) => {
  const dir = tempDir(t);
  const seen = collect(t, dir);
  const warnings = collectWarnings(t, SLOW_SYNC_WARNING_CODE);
  const native = NativeIo.create({ backend: 'threadpool', syncMethod: 'linked-fdatasync', queueDepth: 64 });
  t.after(() => native.close());
  // Every write is held 20 ms, far above a threshold of 0: off stays silent all the same.
  const io = hookedIo(native, { write: ({ durable }) => (durable ? new Promise((resolve) => setTimeout(resolve, 20)) : undefined) });
  const wal = await Wal.open(dir, { io, slowSyncWarningMs: null });
  t.after(() => wal.close());
  for (let i = 0; i < 3; i++) await wal.append(payloadFor(i));
  await nextTurn();
  assert.equal(seen[channels.batchDurable].length, 3, 'the batches were published');
  assert.equal(seen[channels.slowSync].length, 0);
  assert.equal(warnings.length, 0);
});

test('the slow-sync warning comes again once the interval has passed, with the count it left out', async (t) => {
  const warnings = collectWarnings(t, SLOW_SYNC_WARNING_CODE);
  let nowMs = 1000;
  const dir = '/nowhere/metrics-clock';
  const seen = collect(t, dir);
  const warning = new SlowSyncWarning(new LogEvents(dir), 5, () => nowMs);
  const ms = 1_000_000;
  warning.check(5 * ms, 1, 1);
  assert.equal(seen[channels.slowSync].length, 0, 'exactly the threshold is not slow');
  warning.check(6 * ms, 2, 2);
  nowMs += SLOW_SYNC_WARNING_INTERVAL_MS - 1;
  warning.check(7 * ms, 3, 3);
  warning.check(8 * ms, 4, 4);
  await nextTurn();
  assert.equal(warnings.length, 1, 'one warning within the interval');
  assert.match(warnings[0].message, /took 6\.0 ms/);
  nowMs += 1;
  warning.check(9 * ms, 5, 5);
  await nextTurn();
  assert.equal(warnings.length, 2, 'the next one once the interval has passed');
  assert.match(warnings[1].message, /took 9\.0 ms.*2 more slow batches since the last warning/);
  assert.deepEqual(
    seen[channels.slowSync].map((e) => [e.firstLsn, e.syncLatencyUs]),
    [
      [2, 6000],
      [3, 7000],
      [4, 8000],
      [5, 9000],
    ],
    'the channel gets every slow batch, warned of or not',
  );
});

test('slowSyncWarningMs is checked: null, or an integer ms in [0, max]', async (t) => {
  assert.equal(SLOW_SYNC_WARNING_MS_DEFAULT, 1000);
  for (const bad of [-1, 1.5, SLOW_SYNC_WARNING_MS_MAX + 1, '100', Number.NaN, false]) {
    await assert.rejects(Wal.open(tempDir(t), { slowSyncWarningMs: /** @type {any} */ (bad) }), (/** @type {any} */ err) => {
      assert.equal(err.code, 'WAL_ERR_INVALID_ARGUMENT');
      assert.match(err.message, /slowSyncWarningMs/);
      assert.match(err.message, /null \(off\) or an integer in \[0, 120000\]/);
      return true;
    });
  }
  for (const good of [0, SLOW_SYNC_WARNING_MS_MAX, null, undefined]) {
    const wal = await Wal.open(tempDir(t), { slowSyncWarningMs: good });
    await wal.close();
  }
});
