// Tests of the native addon (build/Release/ringwal.node) against a real ext4 file system.
// Run with: node --test test/native.test.mjs (after node-gyp rebuild).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from './helpers/random.mjs';

// The built addon, or another build named by RINGWAL_NATIVE_BINDING (npm run test:sanitize).
const addonPath = process.env.RINGWAL_NATIVE_BINDING ?? fileURLToPath(new URL('../build/Release/ringwal.node', import.meta.url));
const native = createRequire(import.meta.url)(addonPath);
/** statfs magic of btrfs (linux/magic.h). */
const BTRFS_MAGIC = 0x9123683e;

const ERRNO = os.constants.errno;
const PAGE_BYTES = 4096;
const O_DIRECT_FLAGS = fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_DIRECT;
const SYSCALL = { write: 1, fdatasync: 2, read: 3, fsync: 4 };

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringwal-native-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
let fileCounter = 0;

function tempFile(t, flags = O_DIRECT_FLAGS) {
  const file = path.join(dir, `f${fileCounter++}`);
  const fd = fs.openSync(file, flags);
  t.after(() => fs.closeSync(fd));
  return { file, fd };
}

function filledBuffer(sizeBytes, seed) {
  const buffer = native.allocAligned(sizeBytes, PAGE_BYTES);
  assert.ok(buffer instanceof ArrayBuffer);
  const bytes = new Uint8Array(buffer);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return buffer;
}

// Wraps a ring ('ring': the io_uring backend) or a pool ('pool': the thread pool) so each request
// is a promise of its one completion.
// Every completion must match exactly one outstanding reqId: a second one fails the test.
function open(kind, depth) {
  const completions = new Int32Array(3 * depth);
  const waiting = new Map();
  const unexpected = [];
  const onCompletions = (count) => {
    assert.ok(count >= 1 && count <= depth, `count ${count}`);
    for (let i = 0; i < count; i++) {
      const [reqId, result, syscall] = completions.subarray(3 * i, 3 * i + 3);
      const resolve = waiting.get(reqId);
      if (resolve === undefined) unexpected.push(reqId);
      else {
        waiting.delete(reqId);
        resolve({ result, syscall });
      }
    }
  };
  const handle = native.backendCreate(kind === 'ring' ? 'io_uring' : 'threadpool', depth, completions, onCompletions);
  if (typeof handle === 'number') return { error: handle };
  let nextReqId = 1;
  const submit = (call, ...args) => {
    const reqId = nextReqId++;
    const ret = call(handle, reqId, ...args);
    if (ret !== 0) return { ret };
    return { ret, done: new Promise((resolve) => waiting.set(reqId, resolve)), reqId };
  };
  return {
    handle,
    unexpected,
    waiting,
    write: (fd, buffer, bufferOffset, length, fileOffset, durability) => submit(native.backendWrite, fd, buffer, bufferOffset, length, fileOffset, durability),
    read: (fd, buffer, bufferOffset, length, fileOffset) => submit(native.backendRead, fd, buffer, bufferOffset, length, fileOffset),
    fsync: (fd, datasync) => submit(native.backendFsync, fd, datasync),
    injectFault: (syscall, countdown, errno) => native.testing.injectFault(handle, syscall, countdown, errno),
    info: () => native.testing.info(handle),
    close: () => native.backendClose(handle),
  };
}

// Skips (with the reason) where the kernel or a sandbox refuses io_uring, never passes silently.
function openRing(t, depth) {
  const ring = open('ring', depth);
  if (ring.error === -ERRNO.ENOSYS || ring.error === -ERRNO.EPERM) {
    t.skip(`io_uring unavailable here (backendCreate('io_uring') returned ${ring.error})`);
    return null;
  }
  if ('error' in ring) assert.fail(`backendCreate('io_uring') failed with ${ring.error}`);
  return ring;
}

/** @typedef {Exclude<ReturnType<typeof open>, { error: number }>} Backend */

/** @returns {Backend} an open backend of `kind`; fails the test if it cannot be opened. */
function openOk(kind, depth) {
  const backend = open(kind, depth);
  if ('error' in backend) assert.fail(`backendCreate(${kind}) failed with ${backend.error}`);
  return backend;
}

/** @returns {Array<[string, Backend]>} the ring (unless io_uring is unavailable here) and the pool. */
function backends(t, depth) {
  const ring = openRing(t, depth);
  /** @type {Array<[string, Backend]>} */
  const list = ring === null ? [] : [['ring', ring]];
  list.push(['pool', openOk('pool', depth)]);
  return list;
}

async function writeOk(backend, fd, buffer, bufferOffset, length, fileOffset, durability) {
  const { ret, done } = backend.write(fd, buffer, bufferOffset, length, fileOffset, durability);
  assert.equal(ret, 0);
  assert.deepEqual(await done, { result: length, syscall: SYSCALL.write });
}

// ---------- CRC32C ----------

test('crc32c known vectors on both paths', () => {
  const vectors = [
    [Buffer.from('123456789'), 0xe3069283],
    [new Uint8Array(0), 0],
    [new Uint8Array(32), 0x8a9136aa],
    [new Uint8Array(32).fill(0xff), 0x62a8ab43],
  ];
  for (const [bytes, expected] of vectors) {
    assert.equal(native.testing.crc32c(bytes), expected);
    assert.equal(native.testing.crc32cPortable(bytes), expected);
  }
  assert.ok(['sse4.2', 'table'].includes(native.testing.crc32cImpl()));
});

test('crc32c active path equals the table path on random data, lengths and offsets', () => {
  const data = randomBytes(4096 + 64);
  for (let length = 0; length <= 600; length += 1) {
    const offset = length % 13;
    const view = data.subarray(offset, offset + length);
    assert.equal(native.testing.crc32c(view), native.testing.crc32cPortable(view), `length ${length} offset ${offset}`);
  }
  for (const length of [1023, 1024, 1025, 4096]) {
    const view = data.subarray(7, 7 + length);
    assert.equal(native.testing.crc32c(view), native.testing.crc32cPortable(view));
  }
});

test('crc32c seed continues a checksum', () => {
  const data = randomBytes(1000);
  const whole = native.testing.crc32c(data);
  for (const split of [0, 1, 7, 8, 9, 500, 1000]) {
    const first = native.testing.crc32c(data.subarray(0, split));
    assert.equal(native.testing.crc32c(data.subarray(split), first), whole);
    assert.equal(native.testing.crc32cPortable(data.subarray(split), native.testing.crc32cPortable(data.subarray(0, split))), whole);
  }
});

test('crc32c rejects wrong types', () => {
  assert.throws(() => native.testing.crc32c('abc'), TypeError);
  assert.throws(() => native.testing.crc32c(new Uint16Array(4)), TypeError);
  assert.throws(() => native.testing.crc32c(new Uint8Array(4), 'x'), TypeError);
});

test('crc32cRanges sums each range and checks bounds before writing', () => {
  const data = randomBytes(300);
  const ranges = new Uint32Array([0, 10, 10, 0, 5, 295, 299, 1]);
  const out = new Uint32Array(4);
  assert.equal(native.crc32cRanges(data, ranges, 4, out), 0);
  assert.deepEqual(
    [...out],
    [native.testing.crc32c(data.subarray(0, 10)), 0, native.testing.crc32c(data.subarray(5, 300)), native.testing.crc32c(data.subarray(299, 300))],
  );
  assert.equal(native.crc32cRanges(data, ranges, 0, out), 0);

  const untouched = new Uint32Array(3).fill(7);
  const outOfBounds = new Uint32Array([0, 1, 299, 2, 0, 1]);
  assert.equal(native.crc32cRanges(data, outOfBounds, 3, untouched), -ERRNO.EINVAL);
  assert.deepEqual([...untouched], [7, 7, 7]);
  const wrapping = new Uint32Array([0xffffffff, 2]);
  assert.equal(native.crc32cRanges(data, wrapping, 1, untouched), -ERRNO.EINVAL);
  assert.equal(native.crc32cRanges(data, ranges, 5, new Uint32Array(8)), -ERRNO.EINVAL, 'count > ranges/2');
  assert.equal(native.crc32cRanges(data, ranges, 4, new Uint32Array(3)), -ERRNO.EINVAL, 'count > out');
  assert.equal(native.crc32cRanges(data, ranges, -1, out), -ERRNO.EINVAL);
  assert.throws(() => native.crc32cRanges(data, new Int32Array(2), 1, out), TypeError);
  assert.throws(() => native.crc32cRanges(data, ranges, 1, new Int32Array(2)), TypeError);
});

// ---------- memory and files ----------

test('allocAligned returns aligned, zero-filled external memory', () => {
  for (const alignment of [512, 4096, 65536]) {
    const buffer = native.allocAligned(alignment * 3, alignment);
    assert.ok(buffer instanceof ArrayBuffer);
    assert.equal(buffer.byteLength, alignment * 3);
    assert.equal(native.testing.addressOf(buffer) % alignment, 0);
    assert.ok(new Uint8Array(buffer).every((byte) => byte === 0));
  }
});

test('allocAligned rejects bad sizes and alignments', () => {
  assert.equal(native.allocAligned(4096, 256), -ERRNO.EINVAL, 'alignment below 512');
  assert.equal(native.allocAligned(3000, 1000), -ERRNO.EINVAL, 'alignment not a power of two');
  assert.equal(native.allocAligned(4097, 4096), -ERRNO.EINVAL, 'size not a multiple');
  assert.equal(native.allocAligned(0, 4096), -ERRNO.EINVAL, 'size zero');
  assert.equal(native.allocAligned(2 ** 30 + 4096, 4096), -ERRNO.EINVAL, 'size above 1 GiB');
  assert.equal(native.allocAligned(-4096, 4096), -ERRNO.EINVAL, 'negative size');
  assert.equal(native.allocAligned(4096.5, 4096), -ERRNO.EINVAL, 'fractional size');
  assert.throws(() => native.allocAligned('4096', 4096), TypeError);
  assert.throws(() => native.testing.addressOf(new Uint8Array(4)), TypeError);
});

test('flock is non-blocking and exclusive across open file descriptions', (t) => {
  const a = tempFile(t, fs.constants.O_RDWR | fs.constants.O_CREAT);
  const b = fs.openSync(a.file, fs.constants.O_RDWR);
  try {
    assert.equal(native.flock(a.fd, true), 0);
    assert.equal(native.flock(b, true), -ERRNO.EWOULDBLOCK);
    assert.equal(native.flock(b, false), -ERRNO.EWOULDBLOCK);
  } finally {
    fs.closeSync(b);
  }
  assert.equal(native.flock(-1, true), -ERRNO.EBADF);
  assert.throws(() => native.flock(a.fd, 'yes'), TypeError);
});

test('fallocate reserves space and dioAlignment reports O_DIRECT alignment', (t) => {
  const f = tempFile(t);
  assert.equal(native.fallocate(f.fd, 0, 0, 1 << 20), 0);
  assert.equal(fs.fstatSync(f.fd).size, 1 << 20);
  assert.equal(native.fallocate(f.fd, 0, 0, 0), -ERRNO.EINVAL);
  assert.equal(native.fallocate(-1, 0, 0, 4096), -ERRNO.EBADF);
  const alignment = native.dioAlignment(f.fd);
  if (typeof alignment === 'number') {
    assert.equal(alignment, -ERRNO.EOPNOTSUPP);
  } else {
    assert.ok(alignment.memAlignBytes >= 1 && alignment.offsetAlignBytes >= 512, JSON.stringify(alignment));
  }
  assert.equal(native.dioAlignment(-1), -ERRNO.EBADF);
});

const FADV = { NORMAL: 0, SEQUENTIAL: 2, DONTNEED: 4, NOREUSE: 5 };

test('fadvise answers 0 for each advice and checks its arguments', (t) => {
  const f = tempFile(t, fs.constants.O_RDWR | fs.constants.O_CREAT);
  fs.writeSync(f.fd, randomBytes(64 * 1024));
  fs.fsyncSync(f.fd);
  for (let advice = FADV.NORMAL; advice <= FADV.NOREUSE; advice++) {
    assert.equal(native.fadvise(f.fd, 0, 0, advice), 0, `advice ${advice}`);
  }
  assert.equal(native.fadvise(f.fd, PAGE_BYTES, 2 * PAGE_BYTES, FADV.DONTNEED), 0, 'a range inside the file');
  assert.equal(native.fadvise(-1, 0, 0, FADV.DONTNEED), -ERRNO.EBADF);
  const closedFd = fs.openSync(f.file, 'r');
  fs.closeSync(closedFd);
  assert.equal(native.fadvise(closedFd, 0, 0, FADV.DONTNEED), -ERRNO.EBADF, 'a closed fd (the kernel says so)');
  assert.equal(native.fadvise(f.fd, 0, 0, 6), -ERRNO.EINVAL, 'advice past NOREUSE');
  assert.equal(native.fadvise(f.fd, 0, 0, -1), -ERRNO.EINVAL, 'negative advice');
  assert.equal(native.fadvise(f.fd, 0, 0, 4.5), -ERRNO.EINVAL, 'fractional advice');
  assert.equal(native.fadvise(f.fd, -1, 0, FADV.DONTNEED), -ERRNO.EINVAL, 'negative offset');
  assert.equal(native.fadvise(f.fd, 0, -1, FADV.DONTNEED), -ERRNO.EINVAL, 'negative length');
  assert.throws(() => native.fadvise(f.fd, 0, 0, 'DONTNEED'), TypeError);
});

test('fadvise DONTNEED drops the clean cached pages of a written and fsynced buffered file', (t) => {
  const f = tempFile(t, fs.constants.O_RDWR | fs.constants.O_CREAT);
  const sizeBytes = 1 << 20;
  fs.writeSync(f.fd, randomBytes(sizeBytes));
  fs.fsyncSync(f.fd);
  // fincore (util-linux) counts the file's pages in the page cache through mincore.
  const residentBytes = () => {
    const out = spawnSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', f.file], { encoding: 'utf8' });
    return out.error === undefined && out.status === 0 ? Number(out.stdout.trim()) : null;
  };
  const before = residentBytes();
  if (before === null) {
    t.skip('fincore (util-linux) is not installed, so the page cache cannot be inspected');
    return;
  }
  assert.equal(before, sizeBytes, 'the written pages are cached');
  assert.equal(native.fadvise(f.fd, 0, 0, FADV.DONTNEED), 0);
  assert.equal(residentBytes(), 0, 'clean pages are dropped at once');
});

// ---------- both backends: round trips ----------

test('write in every durability mode then read back byte for byte (ring and pool)', async (t) => {
  for (const [kind, backend] of backends(t, 8)) {
    const f = tempFile(t);
    const buffer = filledBuffer(3 * PAGE_BYTES, kind.length);
    for (const durability of [0, 1, 2]) {
      await writeOk(backend, f.fd, buffer, durability * PAGE_BYTES, PAGE_BYTES, durability * PAGE_BYTES, durability);
    }
    assert.deepEqual(fs.readFileSync(f.file), Buffer.from(buffer), kind);

    const readBack = native.allocAligned(4 * PAGE_BYTES, PAGE_BYTES);
    const { ret, done } = backend.read(f.fd, readBack, PAGE_BYTES, 2 * PAGE_BYTES, PAGE_BYTES);
    assert.equal(ret, 0);
    assert.deepEqual(await done, { result: 2 * PAGE_BYTES, syscall: SYSCALL.read });
    assert.deepEqual(Buffer.from(readBack, PAGE_BYTES, 2 * PAGE_BYTES), Buffer.from(buffer, PAGE_BYTES));

    const atEnd = backend.read(f.fd, readBack, 0, 2 * PAGE_BYTES, 2 * PAGE_BYTES);
    assert.deepEqual(await atEnd.done, { result: PAGE_BYTES, syscall: SYSCALL.read }, 'short read at end of file');

    const sync = backend.fsync(f.fd, true);
    assert.deepEqual(await sync.done, { result: 0, syscall: SYSCALL.fdatasync });
    const fullSync = backend.fsync(f.fd, false);
    assert.deepEqual(await fullSync.done, { result: 0, syscall: SYSCALL.fsync });
    assert.equal(backend.info().inFlight, 0);
    assert.deepEqual(backend.unexpected, []);
    assert.equal(backend.close(), 0);
  }
});

test('200 concurrent writes each complete once with their own reqId (ring and pool)', async (t) => {
  const count = 200;
  for (const [kind, backend] of backends(t, 256)) {
    const f = tempFile(t);
    const buffer = filledBuffer(count * PAGE_BYTES, 3);
    const requests = [];
    for (let i = 0; i < count; i++) {
      const durability = i % 3;
      const request = backend.write(f.fd, buffer, i * PAGE_BYTES, PAGE_BYTES, i * PAGE_BYTES, durability);
      assert.equal(request.ret, 0);
      requests.push(request);
    }
    assert.equal(backend.info().inFlight, count);
    const results = await Promise.all(requests.map((r) => r.done));
    for (const result of results) assert.deepEqual(result, { result: PAGE_BYTES, syscall: SYSCALL.write });
    assert.equal(backend.waiting.size, 0);
    assert.deepEqual(backend.unexpected, [], kind);
    assert.deepEqual(fs.readFileSync(f.file), Buffer.from(buffer));
    assert.equal(backend.close(), 0);
  }
});

test('ring queues linked pairs that do not fit in the SQ instead of failing', async (t) => {
  const ring = openRing(t, 4);
  if (ring === null) return;
  const f = tempFile(t);
  const buffer = filledBuffer(4 * PAGE_BYTES, 9);
  const info = ring.info();
  assert.equal(info.sqEntries, 4, 'four linked write+fsync pairs need eight SQEs');
  const requests = [0, 1, 2, 3].map((i) => ring.write(f.fd, buffer, i * PAGE_BYTES, PAGE_BYTES, i * PAGE_BYTES, 1));
  for (const request of requests) assert.equal(request.ret, 0);
  for (const result of await Promise.all(requests.map((r) => r.done))) {
    assert.deepEqual(result, { result: PAGE_BYTES, syscall: SYSCALL.write });
  }
  assert.deepEqual(fs.readFileSync(f.file), Buffer.from(buffer));
  assert.equal(ring.close(), 0);
});

test('a one-slot ring still submits a linked write+fsync pair', async (t) => {
  const ring = openRing(t, 1);
  if (ring === null) return;
  const f = tempFile(t);
  const buffer = filledBuffer(PAGE_BYTES, 4);
  for (let i = 0; i < 3; i++) await writeOk(ring, f.fd, buffer, 0, PAGE_BYTES, i * PAGE_BYTES, 1);
  assert.equal(ring.close(), 0);
});

test('a full request table answers -EBUSY (ring and pool)', async (t) => {
  for (const [, backend] of backends(t, 2)) {
    const f = tempFile(t);
    const buffer = filledBuffer(PAGE_BYTES, 1);
    const first = backend.write(f.fd, buffer, 0, PAGE_BYTES, 0, 1);
    const second = backend.write(f.fd, buffer, 0, PAGE_BYTES, PAGE_BYTES, 1);
    assert.equal(first.ret, 0);
    assert.equal(second.ret, 0);
    assert.equal(backend.write(f.fd, buffer, 0, PAGE_BYTES, 0, 0).ret, -ERRNO.EBUSY);
    assert.equal(backend.fsync(f.fd, true).ret, -ERRNO.EBUSY);
    assert.equal(backend.close(), -ERRNO.EBUSY, 'close while in flight');
    await Promise.all([first.done, second.done]);
    assert.equal(backend.write(f.fd, buffer, 0, PAGE_BYTES, 0, 0).ret, 0, 'slots come back');
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(backend.info().inFlight, 0);
    assert.equal(backend.close(), 0);
    assert.equal(backend.close(), 0, 'close twice');
    assert.equal(backend.write(f.fd, buffer, 0, PAGE_BYTES, 0, 0).ret, -ERRNO.EBADF, 'closed handle');
    assert.equal(backend.info(), -ERRNO.EBADF);
  }
});

// ---------- short reads ----------

test('a read that spans end of file returns exactly the bytes up to it (ring and pool)', async (t) => {
  const sizeBytes = 10_000; // not a multiple of the page, so the end of file is mid-page
  const content = randomBytes(sizeBytes);
  for (const [kind, backend] of backends(t, 4)) {
    const buffered = tempFile(t, fs.constants.O_RDWR | fs.constants.O_CREAT);
    fs.writeSync(buffered.fd, content, 0, sizeBytes, 0);
    const target = native.allocAligned(4 * PAGE_BYTES, PAGE_BYTES);
    const cases = [
      // [fileOffsetBytes, lengthBytes, expected bytes]
      [0, 4 * PAGE_BYTES, sizeBytes],
      [8192, PAGE_BYTES, sizeBytes - 8192],
      [1000, PAGE_BYTES, PAGE_BYTES],
      [0, sizeBytes, sizeBytes],
      [sizeBytes, PAGE_BYTES, 0],
    ];
    for (const [fileOffset, length, expected] of cases) {
      new Uint8Array(target).fill(0);
      const { ret, done } = backend.read(buffered.fd, target, 0, length, fileOffset);
      assert.equal(ret, 0);
      assert.deepEqual(await done, { result: expected, syscall: SYSCALL.read }, `${kind} ${fileOffset}+${length}`);
      assert.deepEqual(Buffer.from(target, 0, expected), content.subarray(fileOffset, fileOffset + expected));
    }

    // O_DIRECT: the rest after the bytes up to an unaligned end of file is asked at an unaligned
    // offset and address, which the file system answers with 0 (end of file), not -EINVAL.
    const direct = fs.openSync(buffered.file, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
    t.after(() => fs.closeSync(direct));
    const { done } = backend.read(direct, target, 0, 4 * PAGE_BYTES, 0);
    assert.deepEqual(await done, { result: sizeBytes, syscall: SYSCALL.read }, `${kind} O_DIRECT`);
    assert.deepEqual(Buffer.from(target, 0, sizeBytes), content);
    assert.deepEqual(backend.unexpected, []);
    assert.equal(backend.close(), 0);
  }
});

test('a short read before end of file is continued to the full length (ring and pool)', async (t) => {
  // /proc/kallsyms is megabytes long but answers one read with about a page (seq_file fills one
  // buffer per call): a real short read that is not the end of file.
  const source = '/proc/kallsyms';
  let fd;
  try {
    fd = fs.openSync(source, 'r');
  } catch (err) {
    t.skip(`cannot open ${source} (${err.code})`);
    return;
  }
  t.after(() => fs.closeSync(fd));
  const lengthBytes = 16 * PAGE_BYTES;
  const expected = Buffer.alloc(lengthBytes);
  const first = fs.readSync(fd, expected, 0, lengthBytes, 0);
  if (first === lengthBytes) {
    t.skip(`one read of ${source} answered all ${lengthBytes} bytes, so it cannot show a short read`);
    return;
  }
  for (let done = first; done < lengthBytes;) {
    const n = fs.readSync(fd, expected, done, lengthBytes - done, done);
    assert.ok(n > 0, `${source} is shorter than ${lengthBytes} bytes`);
    done += n;
  }
  for (const [kind, backend] of backends(t, 2)) {
    const target = native.allocAligned(lengthBytes, PAGE_BYTES);
    const { ret, done } = backend.read(fd, target, 0, lengthBytes, 0);
    assert.equal(ret, 0);
    assert.deepEqual(await done, { result: lengthBytes, syscall: SYSCALL.read }, `${kind}: one read answered ${first}`);
    assert.deepEqual(Buffer.from(target), expected, kind);
    assert.equal(backend.info().inFlight, 0);
    assert.equal(backend.close(), 0);
  }
});

// ---------- errors ----------

test('operating errors come back as negative errno with the failing syscall (ring and pool)', async (t) => {
  for (const [kind, backend] of backends(t, 4)) {
    const buffer = filledBuffer(2 * PAGE_BYTES, 5);
    // The closed fd is used before anything else is opened, so its number is not reused yet.
    const closedFd = fs.openSync(path.join(dir, `closed-${kind}`), O_DIRECT_FLAGS);
    fs.closeSync(closedFd);
    const badFd = backend.write(closedFd, buffer, 0, PAGE_BYTES, 0, 1);
    const badSync = backend.fsync(closedFd, true);
    const badRead = backend.read(closedFd, buffer, 0, PAGE_BYTES, 0);
    assert.deepEqual(await badFd.done, { result: -ERRNO.EBADF, syscall: SYSCALL.write }, kind);
    assert.deepEqual(await badSync.done, { result: -ERRNO.EBADF, syscall: SYSCALL.fdatasync }, kind);
    assert.deepEqual(await badRead.done, { result: -ERRNO.EBADF, syscall: SYSCALL.read }, kind);

    const f = tempFile(t);
    // btrfs does a misaligned O_DIRECT write as buffered I/O instead of refusing it.
    if ((await fs.promises.statfs(dir)).type !== BTRFS_MAGIC) {
      const misaligned = backend.write(f.fd, buffer, 1, PAGE_BYTES, 0, 1);
      assert.deepEqual(await misaligned.done, { result: -ERRNO.EINVAL, syscall: SYSCALL.write }, kind);
    } else {
      t.diagnostic('btrfs: the misaligned O_DIRECT write is not refused there, so that check is skipped');
    }
    assert.equal(backend.write(f.fd, buffer, PAGE_BYTES, 2 * PAGE_BYTES, 0, 0).ret, -ERRNO.EINVAL, 'past the buffer');
    assert.equal(backend.write(f.fd, buffer, 0, 0, 0, 0).ret, -ERRNO.EINVAL, 'zero length');
    assert.equal(backend.write(f.fd, buffer, 0, PAGE_BYTES, -1, 0).ret, -ERRNO.EINVAL, 'negative file offset');
    assert.equal(backend.write(f.fd, buffer, 0, PAGE_BYTES, 0, 3).ret, -ERRNO.EINVAL, 'durability 3');
    assert.equal(backend.write(-1, buffer, 0, PAGE_BYTES, 0, 0).ret, -ERRNO.EBADF);
    assert.throws(() => backend.write(f.fd, new Uint8Array(buffer), 0, PAGE_BYTES, 0, 0), TypeError);
    assert.throws(() => backend.write('3', buffer, 0, PAGE_BYTES, 0, 0), TypeError);
    assert.equal(backend.injectFault(7, 1, ERRNO.EIO), -ERRNO.EINVAL, 'unknown syscall kind');
    assert.equal(backend.injectFault(1, 1, 0), -ERRNO.EINVAL, 'errno 0');
    assert.deepEqual(backend.unexpected, []);
    assert.equal(backend.close(), 0);
  }
  assert.throws(() => native.backendWrite({}, 1, 1, new ArrayBuffer(8), 0, 8, 0, 0), TypeError);
  const pool = open('pool', 1);
  assert.throws(() => native.testing.injectEnterFault(pool.handle, 1, ERRNO.EIO), TypeError, 'a pool handle is not a ring');
  assert.equal(native.backendRegisterBuffers(pool.handle, []), -ERRNO.EOPNOTSUPP, 'the pool registers no buffers');
  pool.close();
  assert.throws(() => native.backendCreate('threadpool', 1, new Int32Array(3), 'cb'), TypeError);
  assert.throws(() => native.backendCreate('threadpool', 1, new Uint32Array(3), () => {}), TypeError);
  assert.equal(
    native.backendCreate('threadpool', 2, new Int32Array(3), () => {}),
    -ERRNO.EINVAL,
    'completions shorter than 3 x depth',
  );
  assert.equal(
    native.backendCreate('threadpool', 0, new Int32Array(3), () => {}),
    -ERRNO.EINVAL,
  );
  assert.equal(
    native.backendCreate('io_uring', 1 << 20, new Int32Array(3), () => {}),
    -ERRNO.EINVAL,
  );
  assert.equal(
    native.backendCreate('threadpool', 1025, new Int32Array(3 * 1025), () => {}),
    -ERRNO.EINVAL,
    'more than 1024 pool slots',
  );
  assert.throws(() => native.backendCreate('uring', 1, new Int32Array(3), () => {}), TypeError, 'an unknown kind');
  assert.throws(() => native.backendCreate(1, 1, new Int32Array(3), () => {}), TypeError, 'a kind that is not a string');
});

// ---------- fault injection ----------

test('injected write failure writes nothing; injected sync failure still writes (ring and pool)', async (t) => {
  for (const [kind, backend] of backends(t, 4)) {
    for (const durability of [0, 1, 2]) {
      const f = tempFile(t);
      const buffer = filledBuffer(PAGE_BYTES, 11 + durability);
      assert.equal(backend.injectFault(SYSCALL.write, 1, ERRNO.EIO), 0);
      const failed = backend.write(f.fd, buffer, 0, PAGE_BYTES, 0, durability);
      assert.deepEqual(await failed.done, { result: -ERRNO.EIO, syscall: SYSCALL.write }, `${kind} d${durability}`);
      assert.equal(fs.fstatSync(f.fd).size, 0, 'nothing reached the file');
      await writeOk(backend, f.fd, buffer, 0, PAGE_BYTES, 0, durability);
    }
    for (const durability of [1, 2]) {
      const f = tempFile(t);
      const buffer = filledBuffer(PAGE_BYTES, 21 + durability);
      assert.equal(backend.injectFault(SYSCALL.fdatasync, 2, ERRNO.ENOSPC), 0);
      await writeOk(backend, f.fd, buffer, 0, PAGE_BYTES, 0, durability);
      const failed = backend.write(f.fd, buffer, 0, PAGE_BYTES, PAGE_BYTES, durability);
      assert.deepEqual(await failed.done, { result: -ERRNO.ENOSPC, syscall: SYSCALL.fdatasync }, `${kind} d${durability}`);
      assert.deepEqual(fs.readFileSync(f.file), Buffer.concat([Buffer.from(buffer), Buffer.from(buffer)]), 'the write happened although its sync failed');
    }
    {
      const f = tempFile(t);
      assert.equal(backend.injectFault(SYSCALL.fdatasync, 1, ERRNO.EIO), 0);
      const failed = backend.fsync(f.fd, true);
      assert.deepEqual(await failed.done, { result: -ERRNO.EIO, syscall: SYSCALL.fdatasync }, kind);
      const buffer = filledBuffer(PAGE_BYTES, 1);
      await writeOk(backend, f.fd, buffer, 0, PAGE_BYTES, 0, 1);
    }
    assert.deepEqual(backend.unexpected, []);
    assert.equal(backend.close(), 0);
  }
});

// ---------- registered buffers ----------

test('ring writes and reads through registered buffers', async (t) => {
  const ring = openRing(t, 4);
  if (ring === null) return;
  const f = tempFile(t);
  const registered = filledBuffer(4 * PAGE_BYTES, 17);
  const plain = filledBuffer(PAGE_BYTES, 18);
  assert.equal(native.backendRegisterBuffers(ring.handle, [registered]), 0);
  assert.equal(ring.info().fixedBuffers, 1);
  await writeOk(ring, f.fd, registered, PAGE_BYTES, 3 * PAGE_BYTES, 0, 1);
  await writeOk(ring, f.fd, plain, 0, PAGE_BYTES, 3 * PAGE_BYTES, 2);
  const expected = Buffer.concat([Buffer.from(registered, PAGE_BYTES), Buffer.from(plain)]);
  assert.deepEqual(fs.readFileSync(f.file), expected);

  const target = new Uint8Array(registered);
  target.fill(0);
  const read = ring.read(f.fd, registered, 0, 4 * PAGE_BYTES, 0);
  assert.deepEqual(await read.done, { result: 4 * PAGE_BYTES, syscall: SYSCALL.read });
  assert.deepEqual(Buffer.from(target), expected);

  const inFlight = ring.write(f.fd, registered, 0, PAGE_BYTES, 0, 1);
  assert.equal(native.backendRegisterBuffers(ring.handle, []), -ERRNO.EBUSY);
  await inFlight.done;
  assert.equal(native.backendRegisterBuffers(ring.handle, []), 0);
  assert.equal(ring.info().fixedBuffers, 0);
  assert.equal(native.backendRegisterBuffers(ring.handle, Array(65).fill(plain)), -ERRNO.EINVAL);
  assert.throws(() => native.backendRegisterBuffers(ring.handle, [new Uint8Array(8)]), TypeError);
  assert.equal(native.backendRegisterBuffers(ring.handle, [registered, plain]), 0);
  assert.equal(ring.close(), 0, 'close unregisters');
});

// ---------- opcode probe ----------

const IORING_OP_WRITE = 23;
const REQUIRED_OPS = ['NOP', 'READ', 'WRITE', 'FSYNC', 'READ_FIXED', 'WRITE_FIXED'];

function openFdCount() {
  return fs.readdirSync('/proc/self/fd').length;
}

test('backendCreate(io_uring) answers -EOPNOTSUPP when the probe lacks a required opcode, and a handle again after reset', (t) => {
  const probe = openRing(t, 1);
  if (probe === null) return;
  assert.equal(probe.close(), 0);
  assert.deepEqual(native.ringProbe(), { supported: REQUIRED_OPS, missing: [] }, 'this kernel has every required opcode');
  const fdsBefore = openFdCount();
  try {
    assert.equal(native.testing.simulateMissingOps([IORING_OP_WRITE]), 0);
    assert.deepEqual(native.ringProbe(), { supported: REQUIRED_OPS.filter((op) => op !== 'WRITE'), missing: ['WRITE'] });
    for (let i = 0; i < 8; i++) {
      assert.equal(
        native.backendCreate('io_uring', 4, new Int32Array(12), () => {}),
        -ERRNO.EOPNOTSUPP,
      );
    }
    assert.equal(openFdCount(), fdsBefore, 'a refused create closes its ring fd');
  } finally {
    assert.equal(native.testing.simulateMissingOps([]), 0);
  }
  assert.deepEqual(native.ringProbe().missing, []);
  const ring = openRing(t, 4);
  assert.notEqual(ring, null);
  assert.equal(ring.close(), 0);
});

test('testing.simulateMissingOps checks its argument', () => {
  assert.equal(native.testing.simulateMissingOps([256]), -ERRNO.EINVAL);
  assert.equal(native.testing.simulateMissingOps([-1]), -ERRNO.EINVAL);
  assert.equal(native.testing.simulateMissingOps([1.5]), -ERRNO.EINVAL);
  assert.equal(native.testing.simulateMissingOps(new Array(257).fill(1)), -ERRNO.EINVAL);
  assert.throws(() => native.testing.simulateMissingOps(23), TypeError);
  assert.throws(() => native.testing.simulateMissingOps(['23']), TypeError);
  const probe = native.ringProbe();
  if (typeof probe !== 'number') assert.deepEqual(probe.missing, [], 'a refused call changes nothing');
});

// ---------- event loop behaviour ----------

test('the event loop runs while a 64 MiB linked write+fsync is in flight', async (t) => {
  const ring = openRing(t, 2);
  if (ring === null) return;
  const f = tempFile(t);
  const sizeBytes = 64 << 20;
  const buffer = filledBuffer(sizeBytes, 2);
  let turns = 0;
  let completed = false;
  const spin = () => {
    if (!completed) {
      turns++;
      setImmediate(spin);
    }
  };
  const { ret, done } = ring.write(f.fd, buffer, 0, sizeBytes, 0, 1);
  assert.equal(ret, 0);
  assert.equal(ring.info().inFlight, 1, 'backendWrite returned before the write finished');
  setImmediate(spin);
  assert.deepEqual(await done, { result: sizeBytes, syscall: SYSCALL.write });
  completed = true;
  assert.ok(turns >= 1, `the loop turned ${turns} times during the write`);
  assert.equal(fs.statSync(f.file).size, sizeBytes);
  assert.equal(ring.close(), 0);
});

function runChild(source, timeoutMs, shellPrefix = '') {
  const script = path.join(dir, `child-${fileCounter++}.mjs`);
  fs.writeFileSync(script, source);
  const command = `${shellPrefix}exec ${JSON.stringify(process.execPath)} ${JSON.stringify(script)}`;
  return spawnSync('bash', ['-c', command], { encoding: 'utf8', timeout: timeoutMs });
}

const childPrelude = (file) => `
import { createRequire } from 'node:module';
import fs from 'node:fs';
const native = createRequire(import.meta.url)(${JSON.stringify(addonPath)});
const completions = new Int32Array(3 * 4);
const fd = fs.openSync(${JSON.stringify(file)}, fs.constants.O_RDWR | fs.constants.O_CREAT);
const buffer = native.allocAligned(1 << 20, 4096);
`;

test('an idle ring does not keep the process alive, a busy one does', (t) => {
  const probe = openRing(t, 1);
  if (probe === null) return;
  probe.close();
  const idle = runChild(
    `${childPrelude(path.join(dir, 'idle'))}
const ring = native.backendCreate('io_uring', 4, completions, (count) => console.log('completed', count, completions[1]));
if (native.backendWrite(ring, 1, fd, buffer, 0, 4096, 0, 1) !== 0) process.exit(3);
`,
    10_000,
  );
  assert.equal(idle.error, undefined, `child did not exit by itself: ${idle.error}`);
  assert.equal(idle.status, 0, idle.stderr);
  assert.equal(idle.stdout.trim(), 'completed 1 4096');
  const unused = runChild(
    `${childPrelude(path.join(dir, 'unused'))}
native.backendCreate('io_uring', 4, completions, () => {});
native.backendCreate('threadpool', 4, completions, () => {});
`,
    10_000,
  );
  assert.equal(unused.error, undefined);
  assert.equal(unused.status, 0, unused.stderr);
});

test('a worker that ends with requests in flight tears down without crashing', async (t) => {
  const probe = openRing(t, 1);
  if (probe === null) return;
  probe.close();
  const file = path.join(dir, 'worker');
  const script = path.join(dir, 'worker.mjs');
  fs.writeFileSync(
    script,
    `${childPrelude(file)}
const ring = native.backendCreate('io_uring', 4, completions, () => {});
const pool = native.backendCreate('threadpool', 4, completions, () => {});
const big = native.allocAligned(32 << 20, 4096);
native.backendWrite(ring, 1, fd, big, 0, 32 << 20, 0, 1);
native.backendWrite(pool, 2, fd, big, 0, 32 << 20, 32 << 20, 1);
process.exit(0);
`,
  );
  const worker = new Worker(script);
  const code = await new Promise((resolve, reject) => {
    worker.on('exit', resolve);
    worker.on('error', reject);
  });
  assert.equal(code, 0);
  assert.equal(fs.statSync(file).size, 64 << 20, 'both writes finished before the teardown freed memory');
});

test('a short write is resubmitted and its final error reported once (ring and pool)', (t) => {
  const probe = openRing(t, 1);
  if (probe === null) return;
  probe.close();
  // With RLIMIT_FSIZE at 8 KiB (bash counts ulimit -f in KiB) a 16 KiB write is cut short at 8 KiB; the remainder then fails EFBIG.
  // Request 2 is the same write with its pair split between two io_uring_enter calls: its sync
  // runs unlinked after the short write, so both CQEs arrive before the remainder is resubmitted.
  const result = runChild(
    `${childPrelude(path.join(dir, 'fsize'))}
process.on('SIGXFSZ', () => {});
const seen = [];
const report = (count) => { for (let i = 0; i < count; i++) seen.push([...completions.subarray(3 * i, 3 * i + 3)]); };
const ring = native.backendCreate('io_uring', 4, completions, report);
const pool = native.backendCreate('threadpool', 4, completions, report);
native.backendWrite(ring, 1, fd, buffer, 0, 16384, 0, 1);
setTimeout(() => {
  native.testing.injectPartialSubmit(ring, 1);
  native.backendWrite(ring, 2, fd, buffer, 0, 16384, 0, 1);
  setTimeout(() => {
    native.backendWrite(pool, 3, fd, buffer, 0, 16384, 0, 1);
    setTimeout(() => console.log(JSON.stringify(seen)), 500);
  }, 500);
}, 500);
`,
    10_000,
    'ulimit -f 8; ',
  );
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(
    JSON.parse(result.stdout),
    [1, 2, 3].map((reqId) => [reqId, -ERRNO.EFBIG, SYSCALL.write]),
  );
  assert.equal(fs.statSync(path.join(dir, 'fsize')).size, 8192);
});

// ---------- io_uring_enter refusals ----------

// A child script with a 4-entry ring on `file` whose requests are promises of their completion.
// It runs in a child so that a request that never completes fails the test by the timeout
// instead of hanging this file (its ring would keep the event loop alive forever).
const ringScenario = (file, body) => `${childPrelude(file)}
import os from 'node:os';
const file = ${JSON.stringify(file)};
const ERRNO = os.constants.errno;
const waiters = new Map();
const unexpected = [];
const ring = native.backendCreate('io_uring', 4, completions, (count) => {
  for (let i = 0; i < count; i++) {
    const [reqId, result, syscall] = completions.subarray(3 * i, 3 * i + 3);
    const resolve = waiters.get(reqId);
    if (resolve === undefined) unexpected.push(reqId);
    else {
      waiters.delete(reqId);
      resolve({ result, syscall });
    }
  }
});
let nextReqId = 1;
const request = (call, ...args) => {
  const reqId = nextReqId++;
  const ret = call(ring, reqId, ...args);
  if (ret !== 0) throw new Error('submit answered ' + ret);
  return new Promise((resolve) => waiters.set(reqId, resolve));
};
const write = (offset, length, fileOffset, durability) =>
  request(native.backendWrite, fd, buffer, offset, length, fileOffset, durability);
const read = (target, length, fileOffset) => request(native.backendRead, fd, target, 0, length, fileOffset);
const info = () => {
  const { inFlight, pending, unsubmitted } = native.testing.info(ring);
  return { inFlight, pending, unsubmitted };
};
const report = {};
${body}
report.unexpected = unexpected;
report.close = native.backendClose(ring);
console.log(JSON.stringify(report));
`;

const IDLE = { inFlight: 0, pending: 0, unsubmitted: 0 };

// Runs a ringScenario in a child and returns its report, after the checks every scenario shares.
function runRingScenario(name, body, timeoutMs) {
  const child = runChild(ringScenario(path.join(dir, name), body), timeoutMs);
  assert.equal(child.error, undefined, `the child did not finish within ${timeoutMs} ms, so a request never completed: ${child.error}`);
  assert.equal(child.status, 0, child.stderr);
  const report = JSON.parse(child.stdout);
  assert.deepEqual(report.unexpected, [], 'one completion per request');
  assert.equal(report.close, 0);
  return report;
}

function ringAvailable(t) {
  const probe = openRing(t, 1);
  if (probe === null) return false;
  assert.equal(probe.close(), 0);
  return true;
}

test('a submission that io_uring_enter refused with EAGAIN or EBUSY is retried from the event loop', (t) => {
  if (!ringAvailable(t)) return;
  const report = runRingScenario(
    'enter-refused',
    `
new Uint8Array(buffer).forEach((_, i, bytes) => { bytes[i] = (i * 7) & 0xff; });
const target = native.allocAligned(4096, 4096);
for (const [i, name] of ['EAGAIN', 'EBUSY'].entries()) {
  const steps = {};
  native.testing.injectEnterFault(ring, 1, ERRNO[name]);
  const written = write(i * 4096, 4096, i * 4096, 1);
  steps.stalled = info();
  steps.write = await written;
  native.testing.injectEnterFault(ring, 1, ERRNO[name]);
  steps.read = await read(target, 4096, i * 4096);
  steps.readMatches = Buffer.compare(Buffer.from(target), Buffer.from(buffer, i * 4096, 4096)) === 0;
  native.testing.injectEnterFault(ring, 1, ERRNO[name]);
  steps.fsync = await request(native.backendFsync, fd, false);
  steps.idle = info();
  report[name] = steps;
}
// Three linked pairs on a 4-entry SQ: two pairs wait in the SQ, the third waits behind them.
native.testing.injectEnterFault(ring, 3, ERRNO.EAGAIN);
const burst = [0, 1, 2].map((i) => write((2 + i) * 4096, 4096, (2 + i) * 4096, 1));
report.burstStalled = info();
report.burst = await Promise.all(burst);
report.burstIdle = info();
report.fileMatches = Buffer.compare(fs.readFileSync(file), Buffer.from(buffer, 0, 5 * 4096)) === 0;
`,
    10_000,
  );
  for (const name of ['EAGAIN', 'EBUSY']) {
    const steps = report[name];
    assert.deepEqual(steps.stalled, { inFlight: 1, pending: 0, unsubmitted: 2 }, `${name}: the linked pair waits in the SQ`);
    assert.deepEqual(steps.write, { result: PAGE_BYTES, syscall: SYSCALL.write }, name);
    assert.deepEqual(steps.read, { result: PAGE_BYTES, syscall: SYSCALL.read }, name);
    assert.equal(steps.readMatches, true, name);
    assert.deepEqual(steps.fsync, { result: 0, syscall: SYSCALL.fsync }, name);
    assert.deepEqual(steps.idle, IDLE, name);
  }
  assert.deepEqual(report.burstStalled, { inFlight: 3, pending: 1, unsubmitted: 4 });
  assert.deepEqual(
    report.burst,
    [0, 1, 2].map(() => ({ result: PAGE_BYTES, syscall: SYSCALL.write })),
  );
  assert.deepEqual(report.burstIdle, IDLE);
  assert.equal(report.fileMatches, true, 'every write reached the file');
});

test('a submission refused for longer than the retry budget fails with the errno, and the ring stays usable', (t) => {
  if (!ringAvailable(t)) return;
  // More refusals than the 10 s budget has retries (about a thousand at 10 ms): the budget ends it.
  const report = runRingScenario(
    'enter-refused-long',
    `
const target = native.allocAligned(4096, 4096);
native.testing.injectEnterFault(ring, 1_000_000, ERRNO.EAGAIN);
const startMs = performance.now();
// Two linked pairs fill the 4-entry SQ; the third pair and the read wait behind them.
const requests = [0, 1, 2].map((i) => write(i * 4096, 4096, i * 4096, 1));
requests.push(read(target, 4096, 0));
report.stalled = info();
report.closeWhileStalled = native.backendClose(ring);
report.failed = await Promise.all(requests);
report.elapsedMs = performance.now() - startMs;
report.idle = info();
report.sizeAfterFailure = fs.fstatSync(fd).size;
native.testing.injectEnterFault(ring, 0, ERRNO.EAGAIN);
report.after = await write(0, 4096, 0, 1);
report.afterIdle = info();
`,
    60_000,
  );
  assert.deepEqual(report.stalled, { inFlight: 4, pending: 2, unsubmitted: 4 });
  assert.equal(report.closeWhileStalled, -ERRNO.EBUSY, 'stalled requests are in flight');
  const writeFailed = { result: -ERRNO.EAGAIN, syscall: SYSCALL.write };
  assert.deepEqual(
    report.failed,
    [writeFailed, writeFailed, writeFailed, { result: -ERRNO.EAGAIN, syscall: SYSCALL.read }],
    'each linked pair fails once, as its write: nothing was written',
  );
  assert.ok(report.elapsedMs >= 10_000, `failed after ${report.elapsedMs} ms, before the 10 s budget`);
  assert.deepEqual(report.idle, IDLE, 'every slot is free again');
  assert.equal(report.sizeAfterFailure, 0, 'no refused SQE reached the kernel');
  assert.deepEqual(report.after, { result: PAGE_BYTES, syscall: SYSCALL.write });
  assert.deepEqual(report.afterIdle, IDLE);
});

test('a submission refused with an errno retrying cannot fix fails at the next loop turn, unless a later call submits it', (t) => {
  if (!ringAvailable(t)) return;
  const report = runRingScenario(
    'enter-refused-eio',
    `
native.testing.injectEnterFault(ring, 1, ERRNO.EIO);
const startMs = Date.now();
report.failed = await write(0, 4096, 0, 1);
report.elapsedMs = Date.now() - startMs;
report.idle = info();
native.testing.injectEnterFault(ring, 1, ERRNO.EIO);
report.together = await Promise.all([write(0, 4096, 0, 1), request(native.backendFsync, fd, true)]);
report.togetherIdle = info();
`,
    10_000,
  );
  assert.deepEqual(report.failed, { result: -ERRNO.EIO, syscall: SYSCALL.write }, 'not retried: the next enter would have worked');
  assert.ok(report.elapsedMs < 1_000, `failed after ${report.elapsedMs} ms`);
  assert.deepEqual(report.idle, IDLE);
  // The fsync's own io_uring_enter carries the refused write's SQEs, which are still in the SQ.
  assert.deepEqual(report.together, [
    { result: PAGE_BYTES, syscall: SYSCALL.write },
    { result: 0, syscall: SYSCALL.fdatasync },
  ]);
  assert.deepEqual(report.togetherIdle, IDLE);
});

test('a worker that ends while a submission is stalled retries it during teardown before freeing the ring', async (t) => {
  if (!ringAvailable(t)) return;
  for (const [name, failures, sizeBytes] of /** @type {const} */ ([
    ['EAGAIN', 5, 1 << 20],
    ['EIO', 1, 0],
  ])) {
    const file = path.join(dir, `worker-stalled-${name}`);
    const script = path.join(dir, `worker-stalled-${name}.mjs`);
    fs.writeFileSync(
      script,
      `${childPrelude(file)}
import os from 'node:os';
const ring = native.backendCreate('io_uring', 4, completions, () => {});
native.testing.injectEnterFault(ring, ${failures}, os.constants.errno.${name});
native.backendWrite(ring, 1, fd, buffer, 0, 1 << 20, 0, 1);
process.exit(0);
`,
    );
    const worker = new Worker(script);
    const code = await new Promise((resolve, reject) => {
      worker.on('exit', resolve);
      worker.on('error', reject);
    });
    assert.equal(code, 0, name);
    assert.equal(fs.statSync(file).size, sizeBytes, `${name}: retried until written, or failed without writing`);
  }
});

// ---------- linked pairs the kernel split ----------

// A durable write (durability 1) is a WRITE linked to an FSYNC. A kernel short of request memory
// may consume only part of the SQ and then submits the WRITE alone; the FSYNC goes with a later
// io_uring_enter, no longer linked. testing.injectPartialSubmit makes the kernel consume exactly that
// part, on real io_uring.

test('a durable write whose linked pair the kernel split waits, by IOSQE_IO_DRAIN, for every earlier request before its sync', (t) => {
  if (!ringAvailable(t)) return;
  const name = 'split-drain';
  const fifo = path.join(dir, `${name}.fifo`);
  const made = spawnSync('mkfifo', [fifo]);
  if (made.error !== undefined || made.status !== 0) {
    t.skip(`mkfifo failed (${made.error ?? made.stderr}), so no request can be held in flight`);
    return;
  }
  // The blocker is a read of an empty FIFO: it stays in the kernel until the child writes to the
  // FIFO. The sync of the split pair is submitted after it, so with IOSQE_IO_DRAIN the kernel may
  // not start the sync before the blocker completes; without the flag nothing holds the sync back,
  // and the durable write completes within milliseconds while the blocker still waits.
  const report = runRingScenario(
    name,
    `
new Uint8Array(buffer).forEach((_, i, bytes) => { bytes[i] = (i * 13 + 5) & 0xff; });
const fifoFd = fs.openSync(${JSON.stringify(fifo)}, 'r+'); // O_RDWR: the open does not wait for a writer
const order = [];
const blockerTarget = native.allocAligned(4096, 4096);
const blocker = request(native.backendRead, fifoFd, blockerTarget, 0, 4096, 0).then((done) => { order.push('blocker'); return done; });
native.testing.injectPartialSubmit(ring, 1);
const durable = write(0, 4096, 0, 1).then((done) => { order.push('durable'); return done; });
report.submitted = info();
// A sync nothing holds back completes, with its 4 KiB write, within milliseconds; 300 ms is margin
// for a loaded machine. With the drain no wait is long enough, as the blocker cannot complete.
await new Promise((resolve) => setTimeout(resolve, 300));
report.doneWhileBlocked = [...order];
fs.writeSync(fifoFd, Buffer.alloc(4096, 0x5a));
report.blocker = await blocker;
report.durable = await durable;
report.order = order;
report.idle = info();
report.onDisk = Buffer.compare(fs.readFileSync(file), Buffer.from(buffer, 0, 4096)) === 0;
`,
    10_000,
  );
  assert.deepEqual(report.submitted, { inFlight: 2, pending: 0, unsubmitted: 0 }, 'the write and, in the next io_uring_enter, its sync are both in the kernel');
  assert.deepEqual(report.doneWhileBlocked, [], 'the durable write did not complete while an earlier request was in flight: the kernel held its sync back');
  assert.deepEqual(report.blocker, { result: PAGE_BYTES, syscall: SYSCALL.read });
  assert.deepEqual(report.durable, { result: PAGE_BYTES, syscall: SYSCALL.write }, 'one completion, a success');
  assert.deepEqual(report.order, ['blocker', 'durable']);
  assert.deepEqual(report.idle, IDLE);
  assert.equal(report.onDisk, true, 'the bytes read back from the file are the ones written');
});

test('a split pair with a second durable write queued behind it: each completes once, the ring ends idle', (t) => {
  if (!ringAvailable(t)) return;
  const report = runRingScenario(
    'split-queued',
    `
new Uint8Array(buffer).forEach((_, i, bytes) => { bytes[i] = (i * 17 + 3) & 0xff; });
// The first pair waits in the SQ (one refused io_uring_enter), so the second write's
// io_uring_enter carries both pairs, four SQEs, and the kernel takes only the first sqesMax.
// 1 splits the first pair, with the whole second pair behind its sync; 3 splits the second.
for (const [i, sqesMax] of [1, 3].entries()) {
  const steps = {};
  native.testing.injectEnterFault(ring, 1, ERRNO.EAGAIN);
  const first = write(2 * i * 4096, 4096, 2 * i * 4096, 1);
  steps.stalled = info();
  native.testing.injectPartialSubmit(ring, sqesMax);
  const second = write((2 * i + 1) * 4096, 4096, (2 * i + 1) * 4096, 1);
  steps.submitted = info();
  steps.results = await Promise.all([first, second]);
  steps.idle = info();
  report[sqesMax] = steps;
}
report.fileMatches = Buffer.compare(fs.readFileSync(file), Buffer.from(buffer, 0, 4 * 4096)) === 0;
`,
    10_000,
  );
  for (const sqesMax of [1, 3]) {
    const steps = report[sqesMax];
    assert.deepEqual(steps.stalled, { inFlight: 1, pending: 0, unsubmitted: 2 }, `${sqesMax}: the first pair waits`);
    assert.deepEqual(steps.submitted, { inFlight: 2, pending: 0, unsubmitted: 0 }, `${sqesMax}: all four SQEs went`);
    assert.deepEqual(
      steps.results,
      [0, 1].map(() => ({ result: PAGE_BYTES, syscall: SYSCALL.write })),
      `${sqesMax}`,
    );
    assert.deepEqual(steps.idle, IDLE, `${sqesMax}`);
  }
  assert.equal(report.fileMatches, true, 'every write reached the file');
});

test('a split pair whose sync io_uring_enter then refuses: retried it completes, withdrawn it fails as its sync', (t) => {
  if (!ringAvailable(t)) return;
  const report = runRingScenario(
    'split-refused',
    `
new Uint8Array(buffer).forEach((_, i, bytes) => { bytes[i] = (i * 19 + 7) & 0xff; });
for (const name of ['EAGAIN', 'EIO']) {
  const steps = {};
  // The cut goes first: the kernel takes the write alone, then refuses the call that carries the sync.
  native.testing.injectPartialSubmit(ring, 1);
  native.testing.injectEnterFault(ring, 1, ERRNO[name]);
  const written = write(0, 4096, 0, 1);
  steps.stalled = info();
  steps.result = await written;
  steps.idle = info();
  report[name] = steps;
}
report.fileMatches = Buffer.compare(fs.readFileSync(file), Buffer.from(buffer, 0, 4096)) === 0;
`,
    10_000,
  );
  for (const name of ['EAGAIN', 'EIO']) {
    assert.deepEqual(report[name].stalled, { inFlight: 1, pending: 0, unsubmitted: 1 }, `${name}: only the sync waits in the SQ`);
    assert.deepEqual(report[name].idle, IDLE, name);
  }
  assert.deepEqual(report.EAGAIN.result, { result: PAGE_BYTES, syscall: SYSCALL.write }, 'the retry submits the sync');
  assert.deepEqual(report.EIO.result, { result: -ERRNO.EIO, syscall: SYSCALL.fdatasync }, "withdrawn, the sync fails the request, at the write's completion");
  assert.equal(report.fileMatches, true, 'the write itself reached the file');
});

test('testing.injectPartialSubmit checks its arguments', (t) => {
  const ring = openRing(t, 1);
  if (ring === null) return;
  assert.equal(native.testing.injectPartialSubmit(ring.handle, 0), 0, '0 disarms');
  assert.equal(native.testing.injectPartialSubmit(ring.handle, -1), -ERRNO.EINVAL);
  assert.equal(native.testing.injectPartialSubmit(ring.handle, 1.5), -ERRNO.EINVAL);
  assert.equal(native.testing.injectPartialSubmit(ring.handle, 2 ** 32), -ERRNO.EINVAL);
  assert.throws(() => native.testing.injectPartialSubmit(ring.handle, '1'), TypeError);
  assert.throws(() => native.testing.injectPartialSubmit({}, 1), TypeError);
  assert.equal(ring.close(), 0);
  assert.equal(native.testing.injectPartialSubmit(ring.handle, 1), -ERRNO.EBADF, 'closed handle');
});
