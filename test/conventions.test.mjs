// Node's conventions, as a newcomer expects them: system errors with Node's fields, `await using`,
// an AbortSignal on read, unknown option keys refused, what console.log shows, the log's state,
// process warnings about where it runs, and a missing addon that names its fix. Real logs on
// the real disk throughout (and tmpfs, /dev/shm, for the warning about it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { NativeIo, Wal, WalAbortError, WalIoError, WarningCode } from '../dist/index.js';
import { payloadFor, tempDir } from './helpers/tmp.mjs';

const ERRNO = os.constants.errno;
const DIST_INDEX = new URL('../dist/index.js', import.meta.url).href;
const NATIVE_BINDING = new URL('../dist/io/native-binding.js', import.meta.url).href;

/** Runs `body` (an ES module's text) in a child process and returns the JSON it prints last. */
function inChild(body) {
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', body], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(child.status, 0, child.stderr);
  return JSON.parse(child.stdout.trim().split('\n').at(-1));
}

test("a failed system call through node:fs carries Node's fields beside ringwal's code, and Node's error as cause", async (t) => {
  const file = path.join(tempDir(t), 'a-file');
  fs.writeFileSync(file, 'not a directory');
  const dir = path.join(file, 'log');
  const err = await Wal.open(dir).then(
    () => assert.fail('a log below a file opened'),
    (e) => e,
  );
  assert.ok(err instanceof WalIoError);
  assert.equal(err.code, 'WAL_ERR_IO');
  assert.equal(err.errno, -ERRNO.ENOTDIR, "errno is the negative number, as on Node's errors");
  assert.equal(err.errnoName, 'ENOTDIR');
  assert.equal(err.syscall, 'mkdir');
  assert.equal(err.path, dir);
  const cause = /** @type {NodeJS.ErrnoException} */ (err.cause);
  assert.equal(cause.code, 'ENOTDIR');
  assert.equal(cause.errno, err.errno);
});

test("a failed write in the native queue: Node's fields without a cause; state failed, failure the error; closed after close()", async (t) => {
  const io = NativeIo.create({ backend: 'io_uring', syncMethod: 'linked-fdatasync', queueDepth: 64 });
  t.after(() => io.close());
  const wal = await Wal.open(tempDir(t), { io });
  assert.equal(wal.state, 'open');
  assert.equal(wal.failure, null);
  await wal.append(payloadFor(0));
  io.injectFault('fdatasync', 1, ERRNO.EIO);
  const err = await wal.append(payloadFor(1)).then(
    () => assert.fail('the append of a failed sync resolved'),
    (e) => e,
  );
  assert.ok(err instanceof WalIoError);
  assert.deepEqual(
    { code: err.code, errno: err.errno, errnoName: err.errnoName, syscall: err.syscall, cause: err.cause },
    { code: 'WAL_ERR_IO', errno: -ERRNO.EIO, errnoName: 'EIO', syscall: 'fdatasync', cause: undefined },
  );
  assert.ok(err.path.startsWith(wal.dir + path.sep), `the segment file: ${err.path}`);
  assert.equal(wal.state, 'failed');
  assert.equal(wal.failure, err);
  await wal.close();
  assert.equal(wal.state, 'closed');
  assert.equal(wal.failure, null, 'a closed log reports no failure: nothing more can fail');
});

test('Symbol.asyncDispose closes the log (what `await using` calls)', async (t) => {
  const dir = tempDir(t);
  const wal = await Wal.open(dir);
  const lsn = wal.append(payloadFor(0));
  assert.equal(typeof wal[Symbol.asyncDispose], 'function');
  await wal[Symbol.asyncDispose]();
  assert.equal(await lsn, 1, 'an append made before the dispose is durable');
  assert.equal(wal.state, 'closed');
  await assert.rejects(wal.append(payloadFor(1)), { code: 'WAL_ERR_CLOSED' });
  // The directory's lock was released: it opens again.
  const again = await Wal.open(dir);
  assert.equal(again.nextLsn, 2);
  await again.close();
});

test('read with a signal: an abort stops it at its next record with an AbortError whose cause is the reason', async (t) => {
  const wal = await Wal.open(tempDir(t));
  t.after(() => wal.close());
  await wal.appendBatch(Array.from({ length: 100 }, (_, i) => payloadFor(i)));
  const ac = new AbortController();
  const reason = new Error('the consumer gave up');
  const seen = [];
  const err = await (async () => {
    for await (const record of wal.read({ signal: ac.signal })) {
      seen.push(record.lsn);
      if (record.lsn === 10) ac.abort(reason);
    }
  })().then(
    () => assert.fail('an aborted read ended without an error'),
    (e) => e,
  );
  assert.deepEqual(
    seen,
    Array.from({ length: 10 }, (_, i) => i + 1),
  );
  assert.ok(err instanceof WalAbortError);
  assert.equal(err.name, 'AbortError');
  assert.equal(err.code, 'WAL_ERR_ABORTED');
  assert.equal(err.cause, reason);

  // Aborted before it starts: nothing is yielded.
  const first = await wal
    .read({ signal: AbortSignal.abort() })
    .next()
    .catch((e) => e);
  assert.equal(first.name, 'AbortError');
  // A signal that never aborts changes nothing.
  const all = [];
  for await (const record of wal.read({ signal: new AbortController().signal, payloads: false })) all.push(record.lsn);
  assert.equal(all.length, 100);
  // @ts-expect-error a string is not a signal
  assert.throws(() => wal.read({ signal: 'stop' }), { code: 'WAL_ERR_INVALID_ARGUMENT', argument: 'signal' });
  // The aborted reads released their files: close does not wait for them.
  await wal.close();
});

test('unknown option keys are refused by append, appendBatch, appendTransaction, read and follow', async (t) => {
  const wal = await Wal.open(tempDir(t));
  t.after(() => wal.close());
  // @ts-expect-error the misspelt keys are the point
  await assert.rejects(wal.append(payloadFor(0), { tennant: 7 }), { code: 'WAL_ERR_INVALID_ARGUMENT', argument: 'tennant', message: /not an append option/ });
  // @ts-expect-error
  await assert.rejects(wal.appendBatch([payloadFor(0)], { typ: 0x8002 }), { code: 'WAL_ERR_INVALID_ARGUMENT', argument: 'typ' });
  // @ts-expect-error
  await assert.rejects(wal.appendTransaction([{ payload: payloadFor(0) }, { payload: payloadFor(1), shard: 1 }]), {
    code: 'WAL_ERR_INVALID_ARGUMENT',
    argument: 'entries[1].shard',
  });
  // @ts-expect-error
  assert.throws(() => wal.read({ formLsn: 1 }), { code: 'WAL_ERR_INVALID_ARGUMENT', argument: 'formLsn', message: /not a read option/ });
  // @ts-expect-error
  assert.throws(() => wal.follow({ from: 1 }), { code: 'WAL_ERR_INVALID_ARGUMENT', argument: 'from' });
  assert.equal(wal.nextLsn, 1, 'nothing refused was appended');
  // The known keys still pass.
  assert.equal(await wal.append(payloadFor(0), { type: 0x8002, tenant: 7, vshard: 3, database: 1 }), 1);
});

test('util.inspect shows where the log is and how far it got, none of its internals', async (t) => {
  const dir = tempDir(t);
  const wal = await Wal.open(dir);
  await wal.append(payloadFor(0));
  const shown = inspect(wal);
  assert.equal(
    shown,
    `Wal {\n  dir: ${inspect(dir)},\n  state: 'open',\n  backend: ${inspect(wal.backend)},\n  directIo: ${wal.directIo},\n  firstLsn: 1,\n  durableLsn: 1,\n  nextLsn: 2\n}`,
  );
  assert.doesNotMatch(shown, /writer|segments|keys|options/);
  assert.equal(inspect({ wal }, { depth: 0 }), '{ wal: Wal <open> }');
  await wal.close();
  assert.match(inspect(wal), /state: 'closed'/);
});

test(
  'a log on tmpfs warns once per process; directIo: required there is refused with the call that said no',
  { skip: !fs.existsSync('/dev/shm') && 'no /dev/shm' },
  (t) => {
    assert.equal(fs.statfsSync('/dev/shm').type, 0x01021994, '/dev/shm is tmpfs');
    const shm = tempDir(t, '/dev/shm/ringwal-');
    const result = inChild(`
    import { Wal } from ${JSON.stringify(DIST_INDEX)};
    const warnings = [];
    process.on('warning', (w) => warnings.push({ name: w.name, code: w.code, message: w.message }));
    const one = await Wal.open(${JSON.stringify(path.join(shm, 'one'))});
    const two = await Wal.open(${JSON.stringify(path.join(shm, 'two'))});
    const directIo = one.directIo;
    await one.close();
    await two.close();
    let required = null;
    try {
      await Wal.open(${JSON.stringify(path.join(shm, 'three'))}, { directIo: 'required' });
    } catch (err) {
      required = { code: err.code, errno: err.errno, errnoName: err.errnoName, syscall: err.syscall };
    }
    await new Promise((resolve) => setImmediate(resolve));
    console.log(JSON.stringify({ warnings, directIo, required }));
  `);
    assert.equal(result.directIo, false, 'tmpfs is never taken for direct I/O');
    const memory = result.warnings.filter((w) => w.code === WarningCode.MEMORY_FILE_SYSTEM);
    assert.equal(memory.length, 1, JSON.stringify(result.warnings));
    assert.equal(memory[0].name, 'RingwalWarning');
    assert.match(memory[0].message, /tmpfs or ramfs.*do not survive a reboot/);
    assert.deepEqual(result.required, { code: 'WAL_ERR_DIRECT_IO_UNSUPPORTED', errno: -ERRNO.EINVAL, errnoName: 'EINVAL', syscall: 'statfs' });
  },
);

test('a log on a real disk gives no warning; a thread-pool fallback warns once, an explicit threadpool never', (t) => {
  const dir = tempDir(t);
  const result = inChild(`
    import { Wal } from ${JSON.stringify(DIST_INDEX)};
    import { loadNativeBinding } from ${JSON.stringify(NATIVE_BINDING)};
    const warnings = [];
    process.on('warning', (w) => warnings.push({ code: w.code, message: w.message }));
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    const counts = [];
    const plain = await Wal.open(${JSON.stringify(path.join(dir, 'plain'))});
    await plain.close();
    const explicit = await Wal.open(${JSON.stringify(path.join(dir, 'explicit'))}, { backend: 'threadpool' });
    await explicit.close();
    await settle();
    counts.push(warnings.length);
    // IORING_OP_WRITE (23) missing from the probe, as on Linux 5.1 to 5.5: auto falls back.
    loadNativeBinding().testing.simulateMissingOps([23]);
    const backends = [];
    for (const name of ['a', 'b']) {
      const wal = await Wal.open(${JSON.stringify(dir)} + '/' + name, { backend: 'auto' });
      backends.push(wal.backend);
      await wal.close();
    }
    loadNativeBinding().testing.simulateMissingOps([]);
    await settle();
    console.log(JSON.stringify({ counts, backends, warnings }));
  `);
  assert.deepEqual(result.counts, [0], 'no warning before the fallback');
  assert.deepEqual(result.backends, ['threadpool', 'threadpool']);
  assert.equal(result.warnings.length, 1, JSON.stringify(result.warnings));
  assert.equal(result.warnings[0].code, WarningCode.THREADPOOL_FALLBACK);
  assert.match(result.warnings[0].message, /io_uring is unavailable \(.*EOPNOTSUPP.*\)/);
});

test('a missing addon is WAL_ERR_ADDON_MISSING, naming the fix', async (t) => {
  const missing = path.join(tempDir(t), 'build', 'Release', 'ringwal.node');
  const err = await Wal.open(tempDir(t), { nativeBinding: missing }).then(
    () => assert.fail('a log opened without its addon'),
    (e) => e,
  );
  assert.equal(err.code, 'WAL_ERR_ADDON_MISSING');
  assert.equal(err.path, missing);
  assert.equal(err.cause.code, 'MODULE_NOT_FOUND');
  assert.match(err.message, /npm rebuild ringwal/);
  assert.match(err.message, /g\+\+, make and python3/);
  assert.match(err.message, /npm install-scripts approve ringwal/);
  // A file that is there but not an addon is another failure, and says why.
  const notAddon = path.join(tempDir(t), 'not-an-addon.node');
  fs.writeFileSync(notAddon, 'not an ELF file');
  await assert.rejects(Wal.open(tempDir(t), { nativeBinding: notAddon }), { code: 'WAL_ERR_BACKEND_UNAVAILABLE', backend: 'native' });
});
