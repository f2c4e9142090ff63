// The automatic fallback to the thread pool where io_uring is unavailable: on a kernel whose
// opcode probe lacks IORING_OP_WRITE (the addon's testing.simulateMissingOps makes every later
// backendCreate('io_uring') of this process see that), and, only when asked for, with the
// kernel's own switch kernel.io_uring_disabled = 2, which makes io_uring_setup fail with EPERM for
// every process on the machine. That switch is machine-wide, so a default test run never flips
// it: set RINGWAL_TEST_SYSCTL=1 to run that test (it restores the switch in `finally`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Wal } from '../dist/index.js';
import { loadNativeBinding } from '../dist/io/native-binding.js';

const native = loadNativeBinding();
import { payloadFor, tempDir } from './helpers/tmp.mjs';

const SWITCH = '/proc/sys/kernel/io_uring_disabled';

function readSwitch() {
  try {
    return fs.readFileSync(SWITCH, 'utf8').trim();
  } catch {
    return null;
  }
}

test('backend auto falls back to the thread pool when io_uring is disabled; io_uring then refuses with a typed error', async (t) => {
  if (process.env.RINGWAL_TEST_SYSCTL !== '1') {
    t.skip('flips the machine-wide kernel.io_uring_disabled: run with RINGWAL_TEST_SYSCTL=1');
    return;
  }
  const original = readSwitch();
  if (original === null) {
    t.skip(`${SWITCH} does not exist on this kernel`);
    return;
  }
  try {
    fs.writeFileSync(SWITCH, '2');
  } catch (err) {
    t.skip(`cannot write ${SWITCH} (${err.code}): needs root outside a read-only /proc`);
    return;
  }
  try {
    const dir = tempDir(t);
    const wal = await Wal.open(dir, { backend: 'auto' });
    assert.equal(wal.backend, 'threadpool', 'auto chose the fallback');
    assert.match(wal.backendFallbackReason, /EPERM/);
    assert.equal(wal.directIo, true);
    const lsns = await Promise.all(Array.from({ length: 500 }, (_, i) => wal.append(payloadFor(i))));
    assert.deepEqual(
      lsns,
      Array.from({ length: 500 }, (_, i) => i + 1),
    );
    let n = 0;
    for await (const rec of wal.read()) assert.deepEqual(rec.payload, payloadFor(n++));
    assert.equal(n, 500);
    await wal.close();
    await assert.rejects(Wal.open(tempDir(t), { backend: 'io_uring' }), { code: 'WAL_ERR_BACKEND_UNAVAILABLE', backend: 'io_uring' });
  } finally {
    fs.writeFileSync(SWITCH, original);
  }
  assert.equal(readSwitch(), original, 'the kernel switch is restored');
  if (original !== '0') return;
  const dir = tempDir(t);
  const wal = await Wal.open(dir);
  assert.equal(wal.backend, 'io_uring', 'with the switch restored, auto takes io_uring again');
  await wal.close();
});

test('backend auto falls back to the thread pool on a kernel whose probe lacks IORING_OP_WRITE (5.1 to 5.5)', async (t) => {
  const IORING_OP_WRITE = 23;
  assert.equal(native.testing.simulateMissingOps([IORING_OP_WRITE]), 0);
  try {
    const wal = await Wal.open(tempDir(t), { backend: 'auto' });
    assert.equal(wal.backend, 'threadpool', 'auto chose the fallback');
    assert.match(wal.backendFallbackReason, /EOPNOTSUPP.*WRITE/, 'the report says why');
    assert.equal((await wal.stats()).backendFallbackReason, wal.backendFallbackReason);
    const lsns = await Promise.all(Array.from({ length: 50 }, (_, i) => wal.append(payloadFor(i))));
    assert.deepEqual(
      lsns,
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    await wal.close();
    await assert.rejects(Wal.open(tempDir(t), { backend: 'io_uring' }), { code: 'WAL_ERR_BACKEND_UNAVAILABLE', backend: 'io_uring' });
  } finally {
    assert.equal(native.testing.simulateMissingOps([]), 0);
  }
  const wal = await Wal.open(tempDir(t), { backend: 'auto' });
  assert.equal(wal.backend, 'io_uring', 'with every operation there, auto takes io_uring');
  assert.equal(wal.backendFallbackReason, null);
  await wal.close();
});

test('queueDepth: the thread pool refuses more than its 1,024 slots; a fallback from io_uring takes 1,024 and queues the rest', async (t) => {
  await assert.rejects(Wal.open(tempDir(t), { backend: 'threadpool', queueDepth: 1025 }), { code: 'WAL_ERR_INVALID_ARGUMENT', argument: 'queueDepth' });
  const IORING_OP_WRITE = 23;
  assert.equal(native.testing.simulateMissingOps([IORING_OP_WRITE]), 0);
  try {
    const wal = await Wal.open(tempDir(t), { backend: 'auto', queueDepth: 4096 });
    assert.equal(wal.backend, 'threadpool');
    const lsns = await Promise.all(Array.from({ length: 3000 }, (_, i) => wal.append(payloadFor(i))));
    assert.deepEqual(
      lsns,
      Array.from({ length: 3000 }, (_, i) => i + 1),
    );
    await wal.close();
  } finally {
    assert.equal(native.testing.simulateMissingOps([]), 0);
  }
});
