// The writer and reader end to end on real files: concurrent appends, group commit, reopen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Wal } from '../dist/index.js';
import { BACKENDS, nextRecord, payloadFor, tempDir } from './helpers/tmp.mjs';

for (const backend of BACKENDS) {
  test(`${backend}: thousands of concurrent appends each get their own LSN and read back byte for byte`, async (t) => {
    const dir = tempDir(t);
    const wal = await Wal.open(dir, { backend });
    assert.equal(wal.backend, backend);
    assert.equal(wal.directIo, true, 'the test directory is on ext4, which supports O_DIRECT');
    const count = 5000;
    const lsns = await Promise.all(
      Array.from({ length: count }, (_, i) => wal.append(payloadFor(i), { tenant: i % 7, vshard: i % 3, database: 9, type: 0x8002 })),
    );
    assert.equal(new Set(lsns).size, count, 'every append has its own LSN');
    assert.deepEqual(
      lsns,
      Array.from({ length: count }, (_, i) => i + 1),
      'LSNs follow call order',
    );
    assert.equal(wal.durableLsn, count);
    const stats = await wal.stats();
    assert.ok(stats.batches < count, `appends shared writes: ${stats.batches} batches for ${count} records`);
    let i = 0;
    for await (const rec of wal.read()) {
      assert.equal(rec.lsn, i + 1);
      assert.deepEqual(rec.payload, payloadFor(i));
      assert.equal(rec.tenant, i % 7);
      assert.equal(rec.vshard, i % 3);
      assert.equal(rec.database, 9);
      assert.equal(rec.type, 0x8002);
      i++;
    }
    assert.equal(i, count);
    await wal.close();
  });

  test(`${backend}: closed-loop producers across many batches, then reopen continues LSNs`, async (t) => {
    const dir = tempDir(t);
    let wal = await Wal.open(dir, { backend, batchBytesMax: 64 * 1024 });
    const producers = 64;
    const perProducer = 40;
    const seen = new Map();
    await Promise.all(
      Array.from({ length: producers }, async (_, p) => {
        for (let s = 0; s < perProducer; s++) {
          const id = p * perProducer + s;
          const lsn = await wal.append(payloadFor(id, 1 + (id % 2000)));
          assert.ok(lsn <= wal.durableLsn, 'an LSN is handed out only once it is durable');
          seen.set(lsn, id);
        }
      }),
    );
    assert.equal(seen.size, producers * perProducer);
    assert.ok((await wal.stats()).batches > 1);
    await wal.close();

    wal = await Wal.open(dir, { backend });
    assert.equal(wal.recovery.recordCount, producers * perProducer);
    assert.equal(wal.recovery.tornTail, null);
    assert.equal(wal.nextLsn, producers * perProducer + 1);
    for await (const rec of wal.read()) assert.deepEqual(rec.payload, payloadFor(seen.get(rec.lsn), 1 + (seen.get(rec.lsn) % 2000)));
    const next = await wal.append(Buffer.from('after reopen'));
    assert.equal(next, producers * perProducer + 1);
    await wal.close();
  });
}

test('appendBatch: consecutive LSNs, larger than one write batch, all durable on resolve', async (t) => {
  const dir = tempDir(t);
  const wal = await Wal.open(dir, { batchBytesMax: 64 * 1024 });
  const payloads = Array.from({ length: 300 }, (_, i) => payloadFor(i, 4096));
  const first = await wal.append(Buffer.from('first'));
  const { firstLsn, lastLsn } = await wal.appendBatch(payloads, { tenant: 3 });
  assert.equal(firstLsn, first + 1);
  assert.equal(lastLsn, firstLsn + payloads.length - 1);
  assert.equal(wal.durableLsn, lastLsn);
  assert.ok((await wal.stats()).batches >= (300 * 4144) / (64 * 1024), 'the batch was split across writes of at most batchBytesMax');
  let n = 0;
  for await (const rec of wal.read({ fromLsn: firstLsn })) {
    assert.deepEqual(rec.payload, payloads[n]);
    assert.equal(rec.tenant, 3);
    n++;
  }
  assert.equal(n, payloads.length);
  await wal.close();
});

test('read from an LSN, an empty log, zero-length payloads, and a read snapshot', async (t) => {
  const dir = tempDir(t);
  const wal = await Wal.open(dir);
  const empty = [];
  for await (const rec of wal.read()) empty.push(rec);
  assert.deepEqual(empty, []);
  for (let i = 0; i < 10; i++) await wal.append(Buffer.alloc(i % 2 === 0 ? 0 : 5, i));
  const from7 = [];
  for await (const rec of wal.read({ fromLsn: 7 })) from7.push(rec.lsn);
  assert.deepEqual(from7, [7, 8, 9, 10]);
  const iterator = wal.read({ fromLsn: 1 });
  assert.equal((await nextRecord(iterator)).payload.length, 0);
  await wal.append(Buffer.from('later'));
  let count = 1;
  for await (const _ of iterator) count++;
  assert.equal(count, 10, 'a reader sees the log as it was durable when it started');
  const beyond = [];
  for await (const rec of wal.read({ fromLsn: 1000 })) beyond.push(rec);
  assert.deepEqual(beyond, []);
  await wal.close();
});

test('sync waits for earlier appends; close flushes and is idempotent', async (t) => {
  const dir = tempDir(t);
  const wal = await Wal.open(dir);
  const pending = Array.from({ length: 100 }, (_, i) => wal.append(payloadFor(i)));
  await wal.sync();
  assert.equal(wal.durableLsn, 100);
  await Promise.all(pending);
  const late = wal.append(Buffer.from('x'));
  await Promise.all([wal.close(), wal.close()]);
  assert.equal(await late, 101, 'close waits for appends made before it');
  const reopened = await Wal.open(dir);
  assert.equal(reopened.nextLsn, 102);
  await reopened.close();
});

test('appends beyond one batch buffer wait in call order and keep their LSNs', async (t) => {
  const dir = tempDir(t);
  const wal = await Wal.open(dir, { batchBytesMax: 64 * 1024 });
  const sizes = Array.from({ length: 2000 }, (_, i) => (i * 97) % 3000);
  const lsns = await Promise.all(sizes.map((size, i) => wal.append(payloadFor(i, size))));
  assert.deepEqual(
    lsns,
    sizes.map((_, i) => i + 1),
  );
  let i = 0;
  for await (const rec of wal.read()) {
    assert.deepEqual(rec.payload, payloadFor(i, sizes[i]));
    i++;
  }
  assert.equal(i, sizes.length);
  await wal.close();
});

// 30 appends of 30 KiB in one turn, 64 KiB batches: two fit the first batch, the rest queue.
for (const [what, limit, accepted] of /** @type {const} */ ([
  ['pendingAppendsMax', { pendingAppendsMax: 10 }, 2 + 10],
  ['pendingBytesMax', { pendingBytesMax: 64 * 1024 }, 2 + 2],
])) {
  test(`${what}: appends beyond the queue limit reject with WAL_ERR_OVERLOADED`, async (t) => {
    const dir = tempDir(t);
    const wal = await Wal.open(dir, { batchBytesMax: 64 * 1024, ...limit });
    const big = Buffer.alloc(30 * 1024);
    const results = await Promise.allSettled(Array.from({ length: 30 }, () => wal.append(big)));
    const rejected = results.filter((r) => r.status === 'rejected');
    assert.equal(rejected.length, 30 - accepted);
    for (const r of rejected) assert.equal(r.reason.code, 'WAL_ERR_OVERLOADED');
    const fulfilled = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
    assert.deepEqual(
      fulfilled,
      Array.from({ length: accepted }, (_, i) => i + 1),
      'the first appends are accepted, with contiguous LSNs',
    );
    await wal.close();
  });
}

test('directIo off and buffered files work the same', async (t) => {
  const dir = tempDir(t);
  const wal = await Wal.open(dir, { directIo: 'off' });
  assert.equal(wal.directIo, false);
  await Promise.all(Array.from({ length: 500 }, (_, i) => wal.append(payloadFor(i))));
  await wal.close();
  const reopened = await Wal.open(dir, { directIo: 'required' });
  assert.equal(reopened.directIo, true);
  let n = 0;
  for await (const rec of reopened.read()) assert.deepEqual(rec.payload, payloadFor(n++));
  assert.equal(n, 500);
  await reopened.close();
});

test('a second open of the same directory in this process is refused', async (t) => {
  const dir = tempDir(t);
  const wal = await Wal.open(dir);
  await assert.rejects(Wal.open(dir), { code: 'WAL_ERR_LOCKED' });
  await wal.close();
  const again = await Wal.open(dir);
  await again.close();
});
