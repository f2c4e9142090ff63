// Failure injection through the real binding: the write or the sync of a batch fails inside the
// native queue (ring or pool), and the completion travels the normal path to the writer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { NativeIo, Wal, WalDurabilityLostError, WalIoError } from '../dist/index.js';
import { BACKENDS, payloadFor, tempDir } from './helpers/tmp.mjs';

const EIO = constants.errno.EIO;
const ENOSPC = constants.errno.ENOSPC;

async function openWithIo(dir, backend) {
  const io = NativeIo.create({ backend, syncMethod: 'linked-fdatasync', queueDepth: 64 });
  const wal = await Wal.open(dir, { io });
  return { io, wal };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

for (const backend of BACKENDS) {
  for (const [syscall, errno, errnoName] of /** @type {const} */ ([
    ['fdatasync', EIO, 'EIO'],
    ['write', ENOSPC, 'ENOSPC'],
  ])) {
    test(`${backend}: a failed ${syscall} rejects its whole batch, poisons the log, and reopen recovers`, async (t) => {
      const dir = tempDir(t);
      let { io, wal } = await openWithIo(dir, backend);
      const acknowledged = await Promise.all(Array.from({ length: 50 }, (_, i) => wal.append(payloadFor(i))));
      assert.equal(wal.durableLsn, 50);

      io.injectFault(syscall, 1, errno);
      const batch = Array.from({ length: 200 }, (_, i) => wal.append(payloadFor(50 + i)));
      await nextTurn();
      const queuedBehind = Array.from({ length: 20 }, (_, i) => wal.append(payloadFor(250 + i)));
      const settled = await Promise.allSettled(batch);
      for (const r of settled) {
        assert.equal(r.status, 'rejected', 'no append of the failed batch may resolve');
        assert.ok(r.reason instanceof WalIoError);
        assert.equal(r.reason.code, 'WAL_ERR_IO');
        assert.equal(r.reason.errnoName, errnoName);
        assert.equal(r.reason.errno, -errno);
        assert.equal(r.reason.syscall, syscall);
      }
      // Appended a turn later, they wait in the next batch: the failure of the one before rejects them.
      for (const r of await Promise.allSettled(queuedBehind)) {
        assert.equal(r.status, 'rejected');
        assert.ok(r.reason instanceof WalDurabilityLostError);
        assert.equal(r.reason.code, 'WAL_ERR_DURABILITY_LOST');
        assert.ok(r.reason.cause instanceof WalIoError);
        assert.equal(r.reason.cause.errnoName, errnoName);
      }
      assert.equal(wal.durableLsn, 50, 'durableLsn never moves past a failed batch');
      await assert.rejects(wal.append(Buffer.from('later')), { code: 'WAL_ERR_DURABILITY_LOST' });
      await assert.rejects(wal.appendBatch([Buffer.from('later')]), { code: 'WAL_ERR_DURABILITY_LOST' });
      await assert.rejects(wal.sync(), { code: 'WAL_ERR_DURABILITY_LOST' });
      await wal.close();
      await io.close();

      ({ io, wal } = await openWithIo(dir, backend));
      const lsns = [];
      for await (const rec of wal.read()) {
        assert.deepEqual(rec.payload, payloadFor(rec.lsn - 1), 'nothing unknown appears');
        lsns.push(rec.lsn);
      }
      for (const lsn of acknowledged) assert.ok(lsns.includes(lsn), `acknowledged LSN ${lsn} survives`);
      if (syscall === 'write') {
        assert.equal(lsns.length, 50, 'a write that failed wrote nothing');
      } else {
        // The bytes reached the file before the sync failed, as after a real fsync error, and the
        // batch behind it may have been written (in flight with it) and synced; none of those
        // records was acknowledged, so each outcome is correct, but only ever as a prefix.
        assert.ok([50, 250, 270].includes(lsns.length), `got ${lsns.length} records`);
        assert.deepEqual(
          lsns,
          Array.from({ length: lsns.length }, (_, i) => i + 1),
          'a prefix of the log',
        );
      }
      const next = await wal.append(Buffer.from('after reopen'));
      assert.equal(next, lsns.length + 1, 'LSNs continue above everything present');
      await wal.close();
      await io.close();
    });
  }
}

test('a failed sync during close rejects close, and the log stays poisoned', async (t) => {
  const dir = tempDir(t);
  const { io, wal } = await openWithIo(dir, 'io_uring');
  io.injectFault('fdatasync', 1, EIO);
  const append = assert.rejects(wal.append(Buffer.from('never durable')), { code: 'WAL_ERR_IO' });
  await assert.rejects(wal.close(), { code: 'WAL_ERR_IO', errnoName: 'EIO', errno: -EIO });
  await append;
  await assert.rejects(wal.append(Buffer.from('x')), { code: 'WAL_ERR_CLOSED' });
  await io.close();
});
