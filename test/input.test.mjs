// Bad input everywhere it enters: every mistake gives a typed error with a stable code, and the
// log stays usable after it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Wal, WalInvalidArgumentError, WalPayloadTooLargeError } from '../dist/index.js';
import { tempDir } from './helpers/tmp.mjs';

const invalid = { code: 'WAL_ERR_INVALID_ARGUMENT' };

test('Wal.open rejects bad directories and options with WAL_ERR_INVALID_ARGUMENT', async (t) => {
  const dir = tempDir(t);
  // Every value below is deliberately of the wrong type or range: the checks at run time are under test.
  for (const bad of /** @type {any[]} */ ([undefined, '', 42, null, {}])) await assert.rejects(Wal.open(bad), invalid);
  /** @type {any[]} */
  const badOptions = [
    'fast',
    7,
    [],
    null,
    { backend: 'epoll' },
    { backend: 1 },
    { directIo: true },
    { directIo: 'sometimes' },
    { syncMethod: 'fsync' },
    { batchBytesMax: 1024 },
    { batchBytesMax: 2 ** 40 },
    { batchBytesMax: 1.5e6 + 0.5 },
    { batchBytesMax: '4MiB' },
    { recordPayloadBytesMax: -1 },
    { recordPayloadBytesMax: 64 * 1024 * 1024 },
    { recordPayloadBytesMax: NaN },
    { pendingAppendsMax: 0 },
    { pendingAppendsMax: 2 ** 30 },
    { pendingBytesMax: 1024 },
    { pendingBytesMax: 2 ** 40 },
    { pendingBytesMax: 1.5 },
    { queueDepth: 0 },
    { queueDepth: 100000 },
    { backend: 'threadpool', queueDepth: 1025 },
    { io: {} },
    { io: 'native' },
    { batchSize: 10 },
  ];
  for (const options of badOptions) {
    const err = await Wal.open(dir, options).then(
      () => null,
      (e) => e,
    );
    assert.ok(err instanceof WalInvalidArgumentError, `options ${JSON.stringify(options)} gave ${err}`);
    assert.equal(err.code, 'WAL_ERR_INVALID_ARGUMENT');
    assert.match(err.message, /must|not an option/);
  }
  // None of those left the directory locked.
  const wal = await Wal.open(dir);
  await wal.close();
});

test('append and appendBatch reject bad payloads and metadata, and the log keeps working', async (t) => {
  const dir = tempDir(t);
  const wal = await Wal.open(dir, { recordPayloadBytesMax: 1000 });
  for (const bad of /** @type {any[]} */ (['text', 12, null, undefined, [1, 2, 3], { length: 3 }, new ArrayBuffer(8), new Uint16Array(4).buffer])) {
    await assert.rejects(wal.append(bad), invalid);
  }
  const tooLarge = await wal.append(Buffer.alloc(1001)).then(
    () => null,
    (e) => e,
  );
  assert.ok(tooLarge instanceof WalPayloadTooLargeError);
  assert.equal(tooLarge.code, 'WAL_ERR_PAYLOAD_TOO_LARGE');
  assert.equal(tooLarge.sizeBytes, 1001);
  assert.equal(tooLarge.bytesMax, 1000);
  /** @type {any[]} */
  const badMeta = [
    'x',
    5,
    null,
    { type: 0 },
    { type: -1 },
    { type: 2 ** 32 },
    { type: 1.5 },
    { type: 0x4001 },
    { type: '1' },
    { tenant: -1 },
    { tenant: 2 ** 53 },
    { tenant: 1n },
    { tenant: 0.5 },
    { vshard: -1 },
    { vshard: 2 ** 32 },
    { database: -3 },
    { database: '0' },
  ];
  for (const meta of badMeta) await assert.rejects(wal.append(Buffer.from('a'), meta), invalid, `meta ${String(meta?.tenant ?? JSON.stringify(meta))}`);
  // @ts-expect-error a string is not a list of payloads
  await assert.rejects(wal.appendBatch('nope'), invalid);
  await assert.rejects(wal.appendBatch([]), invalid);
  // @ts-expect-error a string is not a payload
  await assert.rejects(wal.appendBatch([Buffer.from('ok'), 'bad']), invalid);
  await assert.rejects(wal.appendBatch([Buffer.from('ok'), Buffer.alloc(2000)]), { code: 'WAL_ERR_PAYLOAD_TOO_LARGE' });
  await assert.rejects(wal.appendBatch([Buffer.from('ok')], { vshard: -1 }), invalid);
  assert.throws(() => wal.read({ fromLsn: -1 }), invalid);
  assert.throws(() => wal.read({ fromLsn: 1.5 }), invalid);
  // @ts-expect-error an LSN is a number
  assert.throws(() => wal.read({ fromLsn: '3' }), invalid);
  // @ts-expect-error read takes options, not a string
  assert.throws(() => wal.read('all'), invalid);
  // Nothing above was written: the first good append gets LSN 1.
  assert.equal(await wal.append(new Uint8Array([1, 2, 3]), { type: 0x8001, tenant: 2 ** 53 - 1, vshard: 2 ** 32 - 1, database: 2 ** 40 }), 1);
  const records = [];
  for await (const rec of wal.read()) records.push(rec);
  assert.equal(records.length, 1);
  assert.equal(records[0].tenant, 2 ** 53 - 1);
  assert.equal(records[0].vshard, 2 ** 32 - 1);
  assert.equal(records[0].database, 2 ** 40);
  await wal.close();
});

test('calls after close reject with WAL_ERR_CLOSED', async (t) => {
  const dir = tempDir(t);
  const wal = await Wal.open(dir);
  await wal.append(Buffer.from('one'));
  await wal.close();
  await assert.rejects(wal.append(Buffer.from('two')), { code: 'WAL_ERR_CLOSED' });
  await assert.rejects(wal.appendBatch([Buffer.from('two')]), { code: 'WAL_ERR_CLOSED' });
  await assert.rejects(wal.sync(), { code: 'WAL_ERR_CLOSED' });
  assert.throws(() => wal.read(), { code: 'WAL_ERR_CLOSED' });
  await wal.close();
});

test('directIo required on a file system without O_DIRECT is a typed error', async (t) => {
  // /dev/shm is tmpfs, which refuses O_DIRECT.
  const { statfsSync, existsSync } = await import('node:fs');
  const TMPFS_MAGIC = 0x01021994;
  if (!existsSync('/dev/shm') || statfsSync('/dev/shm').type !== TMPFS_MAGIC) {
    t.skip('no tmpfs at /dev/shm to try O_DIRECT on');
    return;
  }
  const dir = tempDir(t, '/dev/shm/ringwal-');
  await assert.rejects(Wal.open(dir, { directIo: 'required' }), { code: 'WAL_ERR_DIRECT_IO_UNSUPPORTED' });
  const wal = await Wal.open(dir, { directIo: 'auto' });
  assert.equal(wal.directIo, false, 'auto falls back to buffered I/O and says so');
  assert.equal(await wal.append(Buffer.from('buffered')), 1);
  await wal.close();
});

test('a file that is not a segment is refused with a typed error', async (t) => {
  const dir = tempDir(t);
  const { writeFileSync } = await import('node:fs');
  writeFileSync(`${dir}/wal-00000000000000000001-0000000001.seg`, Buffer.alloc(8192, 0x41));
  await assert.rejects(Wal.open(dir), { code: 'WAL_ERR_CORRUPT' });
});
