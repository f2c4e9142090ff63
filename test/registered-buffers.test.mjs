// The writer's two batch buffers are registered with the io_uring ring (WRITE_FIXED), through
// Io.registerBuffers: at open, deferred while requests are in flight, as many as RLIMIT_MEMLOCK
// allows, and never on the thread pool. The numbers that justify it are in
// bench/results/2026-12-02-fixed-buffers.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NativeIo, Wal } from '../dist/index.js';
import { loadNativeBinding } from '../dist/io/native-binding.js';
import { payloadFor, tempDir } from './helpers/tmp.mjs';

const native = loadNativeBinding();
const ERRNO = os.constants.errno;
const BLOCK_BYTES = 4096;

// The real binding, with backendRegisterBuffers replaced by `register(real, handle, buffers)`;
// every call's buffer count is kept in `counts`.
function bindingWith(register) {
  const counts = [];
  const binding = {
    ...native,
    backendRegisterBuffers(handle, buffers) {
      counts.push(buffers.length);
      return register(native.backendRegisterBuffers, handle, buffers);
    },
  };
  return { binding, counts };
}

// A NativeIo of exactly this backend, closed after the test; null (the test skipped) where
// io_uring is unavailable.
function openIo(t, backend, nativeBinding) {
  let io;
  try {
    io = NativeIo.create({ backend, syncMethod: 'linked-fdatasync', queueDepth: 8, nativeBinding });
  } catch (err) {
    if (err.code !== 'WAL_ERR_BACKEND_UNAVAILABLE') throw err;
    t.skip(`${backend} unavailable here: ${err.message}`);
    return null;
  }
  t.after(() => io.close());
  return io;
}

/** The buffers `io`'s ring has registered; fails the test if `io` is not an open ring. */
function fixedBuffersOf(io) {
  const info = io.info();
  assert.ok(typeof info === 'object' && 'fixedBuffers' in info, `not an open ring: ${JSON.stringify(info)}`);
  return info.fixedBuffers;
}

test("Wal.open registers the writer's batch buffers (one per batch in flight, and one) with the ring, and the log works from them", async (t) => {
  const io = openIo(t, 'io_uring');
  if (io === null) return;
  assert.equal(fixedBuffersOf(io), 0, 'nothing registered before the writer exists');
  const dir = tempDir(t);
  const wal = await Wal.open(dir, { io, batchesInFlightMax: 2 });
  assert.equal(fixedBuffersOf(io), 3, 'every batch buffer registered (2 in flight, and one to fill)');
  const lsns = await Promise.all(Array.from({ length: 300 }, (_, i) => wal.append(payloadFor(i, 4000))));
  assert.deepEqual(
    lsns,
    Array.from({ length: 300 }, (_, i) => i + 1),
  );
  await wal.close();
  const reopened = await Wal.open(dir);
  let n = 0;
  for await (const record of reopened.read()) assert.deepEqual(record.payload, payloadFor(n++, 4000));
  assert.equal(n, 300);
  await reopened.close();
});

test('registration waits until nothing is in flight, then takes', async (t) => {
  const io = openIo(t, 'io_uring');
  if (io === null) return;
  const file = await io.openFile(path.join(tempDir(t), 'data'), { create: true, direct: 'auto', readOnly: false });
  t.after(() => file.close());
  const big = io.allocAligned(32 << 20, BLOCK_BYTES);
  const batch = [io.allocAligned(BLOCK_BYTES, BLOCK_BYTES), io.allocAligned(BLOCK_BYTES, BLOCK_BYTES)];
  const inFlight = file.write(big, 0, 32 << 20, 0, true);
  io.registerBuffers(batch);
  assert.equal(fixedBuffersOf(io), 0, 'not while a write is in flight');
  await inFlight;
  assert.equal(fixedBuffersOf(io), 2, 'registered at the completion that left the ring idle');
  batch[0].bytes.fill(0x5a);
  await file.write(batch[0], 0, BLOCK_BYTES, 0, true);
  assert.deepEqual(fs.readFileSync(file.path).subarray(0, BLOCK_BYTES), Buffer.alloc(BLOCK_BYTES, 0x5a), 'a write from a registered buffer');
  io.registerBuffers([]);
  assert.equal(fixedBuffersOf(io), 0, 'an empty set unregisters');
});

test('past RLIMIT_MEMLOCK (ENOMEM) fewer buffers are registered; any other refusal leaves the writes as they were', async (t) => {
  const memlock = bindingWith((register, handle, buffers) => (buffers.length > 1 ? -ERRNO.ENOMEM : register(handle, buffers)));
  const io = openIo(t, 'io_uring', memlock.binding);
  if (io === null) return;
  const wal = await Wal.open(tempDir(t), { io, batchesInFlightMax: 2 });
  assert.deepEqual(memlock.counts, [3, 2, 1], 'all three refused, then two, then one');
  assert.equal(fixedBuffersOf(io), 1);
  assert.equal(await wal.append(payloadFor(1)), 1);
  await wal.close();

  const refused = bindingWith(() => -ERRNO.EINVAL);
  const plain = openIo(t, 'io_uring', refused.binding);
  const other = await Wal.open(tempDir(t), { io: plain, batchesInFlightMax: 2 });
  assert.deepEqual(refused.counts, [3], 'tried once: only ENOMEM gets better with fewer buffers');
  assert.equal(fixedBuffersOf(plain), 0);
  assert.equal(await other.append(payloadFor(2)), 1);
  await other.close();
});

test('the thread pool registers nothing: its pwrite takes any memory', async (t) => {
  const { binding, counts } = bindingWith((register, handle, buffers) => register(handle, buffers));
  const io = openIo(t, 'threadpool', binding);
  const wal = await Wal.open(tempDir(t), { io });
  assert.deepEqual(counts, [], 'backendRegisterBuffers was never called');
  assert.equal(await wal.append(payloadFor(1)), 1);
  await wal.close();
});
