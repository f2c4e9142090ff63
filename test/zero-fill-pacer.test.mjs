// The pacing of the next segment's zero-fill (src/segment/zero-fill-pacer.ts): the pacer's rules
// against a writer the test plays, then a log on real files whose Io holds completions back, so
// that a batch is known to be waiting while the fill asks for its turn.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { NativeIo, Wal } from '../dist/index.js';
import { ZERO_FILL_CHUNK_BYTES } from '../dist/segment/segment-file.js';
import { ZeroFillAborted, ZeroFillPacer } from '../dist/segment/zero-fill-pacer.js';
import { hookedIo } from './helpers/hooked-io.mjs';
import { payloadFor, tempDir } from './helpers/tmp.mjs';

const KIB = 1024;
const MIB = 1024 * KIB;
/** The chunk the unit tests ask turns for; the pacer takes any size (the real fill uses ZERO_FILL_CHUNK_BYTES). */
const CHUNK = 256 * KIB;
const PREPARED = 'wal-prepared.seg.tmp';

/** Lets `count` turns of the event loop pass (setImmediate callbacks queued meanwhile run). */
async function turns(count) {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** A turn's promise with its state readable at once. */
function watch(promise) {
  const state = { granted: false, error: null };
  promise.then(
    () => (state.granted = true),
    (err) => (state.error = err),
  );
  return state;
}

test('the sizes the fill is paced in', () => {
  // 1 MiB: bench/results/2026-12-02-zero-fill-chunk.md.
  assert.equal(ZERO_FILL_CHUNK_BYTES, MIB);
});

test('an idle writer lets the fill go chunk after chunk, each a turn after it asked', async () => {
  const pacer = new ZeroFillPacer();
  pacer.attach({ busy: false });
  const pace = pacer.begin(4 * CHUNK, 64 * MIB);
  for (let chunk = 0; chunk < 4; chunk++) {
    const turn = watch(pace.turn(CHUNK));
    await Promise.resolve();
    assert.equal(turn.granted, false, 'idleness is judged on a later turn, after appends made in reaction to a completion');
    await turns(1);
    assert.equal(turn.granted, true, `chunk ${chunk} went out while the writer was idle`);
  }
  pace.end();
});

test('a busy writer: no chunk until a batch completes, none while a batch waits, and only as the schedule asks', async () => {
  const writer = { busy: true };
  const pacer = new ZeroFillPacer();
  pacer.attach(writer);
  // 1 MiB to fill before the log has used half of 1 MiB of room: 2 bytes of zeros per byte logged.
  // The deadline, 80 % of the room, asks for 1/0.8 bytes per byte logged.
  const pace = pacer.begin(MIB, MIB);
  let turn = watch(pace.turn(CHUNK));
  await turns(5);
  assert.equal(turn.granted, false, 'no chunk while the writer is busy and no batch completed');
  pacer.batchComplete(64 * KIB, true);
  await turns(2);
  assert.equal(turn.granted, false, 'a batch waits behind the one in flight: schedule credit 128 KiB is not a chunk anyway');
  pacer.batchComplete(64 * KIB, false);
  await turns(1);
  assert.equal(turn.granted, true, 'schedule credit 256 KiB and nothing waiting: one chunk');

  turn = watch(pace.turn(CHUNK));
  // Schedule credit 400 KiB, deadline credit 1.25 × (64 + 64 + 200) - 256 = 154 KiB: a batch waits.
  pacer.batchComplete(200 * KIB, true);
  await turns(2);
  assert.equal(turn.granted, false, 'ahead of the deadline, a waiting batch goes first');
  // Deadline credit 154 + 1.25 × 100 = 279 KiB: the fill is behind by a chunk, and goes even
  // though a batch waits.
  pacer.batchComplete(100 * KIB, true);
  await turns(1);
  assert.equal(turn.granted, true, 'behind the deadline: one chunk');

  pace.end();
});

test('a writer that goes idle after a completion: the chunk goes a turn later, unless it is busy again by then', async () => {
  const writer = { busy: true };
  const pacer = new ZeroFillPacer();
  pacer.attach(writer);
  const pace = pacer.begin(MIB, 64 * MIB);
  const turn = watch(pace.turn(CHUNK));
  // No credit to speak of: only idleness can let the chunk go.
  writer.busy = false;
  pacer.batchComplete(512, false);
  writer.busy = true;
  await turns(2);
  assert.equal(turn.granted, false, 'busy again by the time the idle check ran');
  writer.busy = false;
  pacer.batchComplete(512, false);
  await turns(1);
  assert.equal(turn.granted, true, 'still idle a turn after the completion');
  pace.end();
});

/**
 * Runs a fill of `sizeBytes` like prepareSegment (chunks, then the final sync's turn) against a
 * writer that is always busy and completes batches of `advanceBytes`; returns how many batches
 * had completed when the fill's last turn was granted.
 */
async function batchesUntilFilled(sizeBytes, roomBytes, advanceBytes, batchWaiting) {
  const pacer = new ZeroFillPacer();
  pacer.attach({ busy: true });
  const pace = pacer.begin(sizeBytes, roomBytes);
  let done = false;
  const fill = (async () => {
    for (let offsetBytes = 0; offsetBytes < sizeBytes; offsetBytes += CHUNK) await pace.turn(CHUNK);
    await pace.turn(0);
    done = true;
  })();
  let batches = 0;
  while (!done) {
    batches += 1;
    assert.ok(batches <= roomBytes / advanceBytes, 'the fill finished before the room ran out');
    pacer.batchComplete(advanceBytes, batchWaiting);
    // The grant comes on nextTick; the fill takes it and asks for the next turn.
    await new Promise((resolve) => process.nextTick(resolve));
    await Promise.resolve();
    await Promise.resolve();
  }
  await fill;
  pace.end();
  return batches;
}

test('the fill is done once the log has used half its room, or 80 % of it while batches always wait', async () => {
  const sizeBytes = 4 * MIB;
  const roomBytes = 8 * MIB;
  const advanceBytes = 16 * KIB;
  // One byte of zeros per byte logged: 4 MiB of zeros after 256 batches; the final sync's turn at the next.
  assert.equal(await batchesUntilFilled(sizeBytes, roomBytes, advanceBytes, false), (4 * MIB) / advanceBytes + 1);
  // 4/6.4 bytes of zeros per byte logged, granted only on the deadline's credit: the last chunk,
  // and with it the final sync's turn, at the first batch past 80 % of the room (409.6 batches).
  assert.equal(await batchesUntilFilled(sizeBytes, roomBytes, advanceBytes, true), Math.ceil((0.8 * roomBytes) / advanceBytes));
});

test('behind the deadline, chunks follow one another without waiting for a completion', async () => {
  const pacer = new ZeroFillPacer();
  pacer.attach({ busy: true });
  // 1 MiB of zeros before 80 % of 1 MiB of room is used: 1.25 bytes of zeros per byte logged.
  const pace = pacer.begin(MIB, MIB);
  const first = watch(pace.turn(CHUNK));
  // One batch of 900 KiB, a batch waiting behind it: 1125 KiB of deadline credit, 4 chunks' worth.
  pacer.batchComplete(900 * KIB, true);
  await turns(1);
  assert.equal(first.granted, true);
  for (let chunk = 1; chunk < 4; chunk++) {
    const next = watch(pace.turn(CHUNK));
    await Promise.resolve();
    assert.equal(next.granted, true, `chunk ${chunk} goes at once on the credit left`);
  }
  const fifth = watch(pace.turn(CHUNK));
  await turns(2);
  assert.equal(fifth.granted, false, 'the credit is spent: the next chunk waits for a completion');
  pace.end();
});

test('a rollover waiting for the fill lifts the pacing; closing rejects a waiting turn and every later one', async () => {
  const pacer = new ZeroFillPacer();
  pacer.attach({ busy: true });
  let pace = pacer.begin(MIB, 64 * MIB);
  const waiting = watch(pace.turn(CHUNK));
  await turns(2);
  assert.equal(waiting.granted, false);
  pacer.hurry();
  await Promise.resolve();
  assert.equal(waiting.granted, true, 'hurry grants the waiting turn');
  const next = watch(pace.turn(CHUNK));
  await Promise.resolve();
  assert.equal(next.granted, true, 'and every later one at once');
  pace.end();

  pace = pacer.begin(MIB, 64 * MIB);
  const paced = watch(pace.turn(CHUNK));
  await turns(2);
  assert.equal(paced.granted, false, 'the next fill is paced again');
  assert.throws(() => pace.turn(CHUNK), { name: 'AssertionError' }, 'one turn at a time: one chunk in flight');
  pacer.close();
  await Promise.resolve();
  assert.ok(paced.error instanceof ZeroFillAborted, 'close rejects the waiting turn');
  await assert.rejects(pace.turn(CHUNK), ZeroFillAborted);
  pace.end();
});

test('a fill with no room left (the active segment is sealed) is not paced', async () => {
  const pacer = new ZeroFillPacer();
  pacer.attach({ busy: true });
  const pace = pacer.begin(MIB, 0);
  const turn = watch(pace.turn(CHUNK));
  await Promise.resolve();
  assert.equal(turn.granted, true);
  pace.end();
});

/**
 * A log on real files whose Io reports every write: chunks of the prepared segment's fill and
 * the writer's batches (durable writes to segment files), each with what else was in flight when
 * it was submitted. `holdChunk` and `holdBatch` hold the next such completion back until released.
 */
function recordingLog(dir, options) {
  const native = NativeIo.create({ backend: 'auto', syncMethod: 'linked-fdatasync', queueDepth: 256 });
  const state = {
    chunksInFlight: 0,
    batchesInFlight: 0,
    chunks: [],
    batches: 0,
    /** Set while a batch's completion is held: another batch is then waiting to be submitted. */
    batchHeld: false,
    holdChunk: false,
    holdBatch: false,
    releases: [],
    renamed: false,
  };
  const isChunk = (info) => path.basename(info.path) === PREPARED && !info.durable;
  const isBatch = (info) => /^wal-\d{20}-\d{10}\.seg$/.test(path.basename(info.path)) && info.durable && info.fileOffsetBytes > 0;
  const hold = () =>
    new Promise((resolve) => {
      state.releases.push(resolve);
    });
  const io = hookedIo(native, {
    write: (info) => {
      if (isChunk(info)) {
        // The first segment of a new log is filled during open, before a writer exists; the
        // paced fill is the one after the first segment was named.
        const paced = state.renamed;
        state.chunks.push({ paced, chunksInFlight: state.chunksInFlight, batchesInFlight: state.batchesInFlight, batchHeld: state.batchHeld });
        state.chunksInFlight += 1;
        if (paced && state.holdChunk) {
          state.holdChunk = false;
          return hold();
        }
      } else if (isBatch(info)) {
        state.batchesInFlight += 1;
        state.batches += 1;
        if (state.holdBatch) {
          state.holdBatch = false;
          state.batchHeld = true;
          return hold().then(() => {
            state.batchHeld = false;
          });
        }
      }
      return undefined;
    },
    writeDone: (info) => {
      if (isChunk(info)) state.chunksInFlight -= 1;
      else if (isBatch(info)) state.batchesInFlight -= 1;
    },
  });
  const renameOf = io.rename;
  const wrapped = new Proxy(io, {
    get(target, prop) {
      if (prop === 'rename') {
        return async (fromPath, toPath) => {
          await renameOf(fromPath, toPath);
          state.renamed = true;
        };
      }
      return Reflect.get(target, prop);
    },
  });
  return { state, native, open: () => Wal.open(dir, { ...options, io: wrapped }) };
}

/** Waits, turn by turn, for `condition`; fails after `turnsMax` turns. */
async function until(condition, what, turnsMax = 100_000) {
  for (let i = 0; i < turnsMax; i++) {
    if (condition()) return;
    await turns(1);
  }
  assert.fail(`never happened: ${what}`);
}

test('on real files: no chunk while a batch waits, one chunk at a time, and rollovers under load keep every record', async (t) => {
  const dir = tempDir(t);
  const segmentSizeBytes = 4 * MIB;
  const sealed = [];
  const { state, native, open } = recordingLog(dir, {
    segmentSizeBytes,
    batchBytesMax: 64 * KIB,
    onSegmentSealed: (info) => {
      sealed.push(info);
    },
  });
  state.holdChunk = true;
  const wal = await open();
  if (!wal.directIo) t.diagnostic('this file system refused O_DIRECT; the pacing is the same with buffered writes');
  await until(() => state.releases.length === 1, 'the first chunk of the next segment is submitted');

  // A batch in flight, held, and records encoded behind it: a batch waits to be submitted.
  state.holdBatch = true;
  const first = wal.append(payloadFor(0, 1000));
  await until(() => state.batchHeld, 'the first batch is submitted');
  const behind = Array.from({ length: 10 }, (_, i) => wal.append(payloadFor(1 + i, 1000)));
  state.releases.shift()();
  await turns(50);
  assert.equal(state.chunks.filter((c) => c.paced).length, 1, 'the fill asked for its next turn and got none while a batch waited');
  state.releases.shift()();
  assert.equal(await first, 1);
  assert.deepEqual(
    await Promise.all(behind),
    Array.from({ length: 10 }, (_, i) => 2 + i),
  );

  // Load until three segments are sealed: 32 producers of 1000-byte records (about 4,000 per segment).
  const producers = 32;
  let next = 11;
  const byLsn = new Map(Array.from({ length: 11 }, (_, i) => [i + 1, i]));
  await Promise.all(
    Array.from({ length: producers }, async () => {
      while (sealed.length < 3) {
        const id = next++;
        byLsn.set(await wal.append(payloadFor(id, 1000)), id);
      }
    }),
  );
  const stats = await wal.stats();
  await wal.close();
  await native.close();

  const paced = state.chunks.filter((c) => c.paced);
  assert.deepEqual(
    paced.filter((c) => c.chunksInFlight > 0),
    [],
    'never two chunks in flight',
  );
  assert.deepEqual(
    paced.filter((c) => c.batchHeld),
    [],
    'no chunk submitted while a batch waited behind a held one',
  );
  assert.deepEqual(
    paced.filter((c) => c.batchesInFlight > 1),
    [],
    'at most the one batch the writer just submitted beside a chunk',
  );
  assert.ok(
    paced.some((c) => c.batchesInFlight === 1),
    'some chunks went out beside the load (the paced path ran, not only the idle one)',
  );
  // Every sealed segment was preallocated in full, and three fills ran to their end.
  assert.ok(paced.length >= 3 * (segmentSizeBytes / ZERO_FILL_CHUNK_BYTES), `${paced.length} paced chunks`);
  for (const info of sealed) assert.equal(info.sizeBytes, segmentSizeBytes, `${info.path} was zero-filled to the segment size`);

  const reopened = await Wal.open(dir, { segmentSizeBytes, batchBytesMax: 64 * KIB });
  let lsn = 0;
  for await (const record of reopened.read()) {
    lsn += 1;
    assert.equal(record.lsn, lsn);
    assert.deepEqual(record.payload, payloadFor(byLsn.get(lsn), 1000), `LSN ${lsn}`);
  }
  assert.equal(lsn, stats.durableLsn, 'every acknowledged record is read back, in order');
  assert.equal(lsn, byLsn.size);
  await reopened.close();
});

test('close stops a fill that waits for its turn, and gives its space back', async (t) => {
  const dir = tempDir(t);
  const { state, native, open } = recordingLog(dir, { segmentSizeBytes: 4 * MIB, batchBytesMax: 64 * KIB });
  state.holdChunk = true;
  const wal = await open();
  await until(() => state.releases.length === 1, 'the first chunk of the next segment is submitted');
  state.holdBatch = true;
  const appended = wal.append(payloadFor(0, 100));
  await until(() => state.batchHeld, 'the batch is submitted');
  state.releases.shift()();
  await turns(10);
  assert.equal(state.chunks.filter((c) => c.paced).length, 1, 'the fill waits for its turn behind the busy writer');

  const closed = wal.close();
  state.releases.shift()();
  assert.equal(await appended, 1, 'an append made before close is still made durable');
  await closed;
  await native.close();
  assert.equal(state.chunks.filter((c) => c.paced).length, 1, 'no chunk after close');
  assert.equal(fs.statSync(path.join(dir, PREPARED)).size, 0, 'the stopped fill gave back what it had filled');

  const reopened = await Wal.open(dir, { segmentSizeBytes: 4 * MIB, batchBytesMax: 64 * KIB });
  assert.equal(reopened.nextLsn, 2);
  await reopened.close();
});
