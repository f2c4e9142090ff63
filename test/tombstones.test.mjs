// Collection tombstones and temporal purges (src/writer/tombstones.ts, docs/format.md "Record
// types"): durable records of ringwal's own types, never yielded as user records; the highest
// purge per tenant and collection wins whatever the order; kept across reopen; read({
// skipTombstoned }) hides the purged records of each tenant and collection only.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { COLLECTION_NAME_BYTES_MAX, TombstoneSet, Wal, WalInvalidArgumentError } from '../dist/index.js';
import { tempDir } from './helpers/tmp.mjs';

/** A user record names its collection in its payload: "collection:n". */
const recordOf = (collection, n) => Buffer.from(`${collection}:${n}`);
const collectionOf = (rec) => rec.payload.toString().split(':')[0];

async function collect(iterable) {
  const out = [];
  for await (const r of iterable) out.push(r);
  return out;
}

test('tombstones and purges: durable, never yielded, highest wins in any order, kept across reopen, and skipTombstoned shadows by tenant and collection', async (t) => {
  const dir = tempDir(t);
  let wal = await Wal.open(dir, { preallocate: false });
  const lsnOf = new Map();
  for (let n = 1; n <= 30; n++) {
    /** @type {[number, string][]} */
    const owners = [
      [1, 'users'],
      [1, 'orders'],
      [2, 'users'],
    ];
    for (const [tenant, collection] of owners) {
      lsnOf.set(`${tenant}/${collection}/${n}`, await wal.append(recordOf(collection, n), { tenant }));
    }
  }
  const high = lsnOf.get('1/users/20');
  const low = lsnOf.get('1/users/5');
  // The higher purge first, the lower one after it: the higher still wins.
  const first = await wal.tombstone({ tenant: 1, collection: 'users', purgeLsn: high });
  const second = await wal.tombstone({ tenant: 1, collection: 'users', purgeLsn: low });
  assert.equal(second, first + 1);
  await wal.temporalPurge({ tenant: 2, collection: 'users', cutoffMs: 1_700_000_000_000 });
  await wal.temporalPurge({ tenant: 2, collection: 'users', cutoffMs: 1_600_000_000_000 });
  await wal.tombstone({ tenant: 3, collection: 'ünïcødé', purgeLsn: 0 });
  const after = await wal.append(recordOf('users', 31), { tenant: 1 });

  // Their LSNs are taken, but no reader yields them.
  const all = await collect(wal.read());
  assert.equal(all.length, 91);
  assert.ok(all.every((r) => r.type === 0x8001));
  assert.equal(all[all.length - 1].lsn, after);

  for (const reopen of [false, true]) {
    if (reopen) {
      await wal.close();
      wal = await Wal.open(dir, { preallocate: false });
    }
    const set = await wal.tombstones();
    assert.ok(set instanceof TombstoneSet);
    assert.equal(set.purgeLsn(1, 'users'), high);
    assert.equal(set.purgeLsn(1, 'orders'), undefined);
    assert.equal(set.purgeLsn(2, 'users'), undefined);
    assert.equal(set.purgeLsn(3, 'ünïcødé'), 0);
    assert.equal(set.cutoffMs(2, 'users'), 1_700_000_000_000);
    assert.deepEqual(
      set.tombstones.sort((a, b) => a.tenant - b.tenant),
      [
        { tenant: 1, collection: 'users', purgeLsn: high },
        { tenant: 3, collection: 'ünïcødé', purgeLsn: 0 },
      ],
    );
    assert.deepEqual(set.temporalPurges, [{ tenant: 2, collection: 'users', cutoffMs: 1_700_000_000_000 }]);
    assert.equal(set.isTombstoned(1, 'users', high - 1), true);
    assert.equal(set.isTombstoned(1, 'users', high), false);

    const kept = await collect(wal.read({ skipTombstoned: collectionOf }));
    const expected = all.filter((r) => !(r.tenant === 1 && collectionOf(r) === 'users' && r.lsn < high));
    assert.deepEqual(
      kept.map((r) => r.lsn),
      expected.map((r) => r.lsn),
    );
    // Records 1..19 of tenant 1's users are gone; its 20..31 stay; tenant 2's users and 1's orders stay.
    assert.equal(all.length - kept.length, 19);
    // A record without a collection (null) is never skipped.
    assert.equal((await collect(wal.read({ skipTombstoned: () => null }))).length, 91);
  }
  await wal.close();
});

test('bad tombstones, purges and skipTombstoned are typed errors, and follow refuses skipTombstoned', async (t) => {
  const wal = await Wal.open(tempDir(t), { preallocate: false });
  t.after(() => wal.close());
  /** @type {[() => Promise<number>, string][]} */
  const bad = [
    [() => wal.tombstone(/** @type {any} */ (null)), 'tombstone'],
    [() => wal.tombstone(/** @type {any} */ ({ tenant: -1, collection: 'c', purgeLsn: 1 })), 'tenant'],
    [() => wal.tombstone(/** @type {any} */ ({ tenant: 1, collection: '', purgeLsn: 1 })), 'collection'],
    [() => wal.tombstone({ tenant: 1, collection: 'x'.repeat(COLLECTION_NAME_BYTES_MAX + 1), purgeLsn: 1 }), 'collection'],
    [() => wal.tombstone({ tenant: 1, collection: 'é'.repeat(128), purgeLsn: 1 }), 'collection'],
    [() => wal.tombstone({ tenant: 1, collection: '\ud800', purgeLsn: 1 }), 'collection'],
    [() => wal.tombstone(/** @type {any} */ ({ tenant: 1, collection: 7, purgeLsn: 1 })), 'collection'],
    [() => wal.tombstone(/** @type {any} */ ({ tenant: 1, collection: 'c' })), 'purgeLsn'],
    [() => wal.tombstone({ tenant: 1, collection: 'c', purgeLsn: 1.5 }), 'purgeLsn'],
    [() => wal.temporalPurge({ tenant: 1, collection: 'c', cutoffMs: Number.NaN }), 'cutoffMs'],
    [() => wal.temporalPurge(/** @type {any} */ ({ tenant: 1, collection: 'c', cutoffMs: '1' })), 'cutoffMs'],
  ];
  for (const [call, argument] of bad) {
    await assert.rejects(call(), (err) => err instanceof WalInvalidArgumentError && err.argument === argument, argument);
  }
  assert.equal(await wal.tombstone({ tenant: 1, collection: 'x'.repeat(COLLECTION_NAME_BYTES_MAX), purgeLsn: 1 }), 1);
  assert.throws(
    () => wal.read(/** @type {any} */ ({ skipTombstoned: 'users' })),
    (err) => err instanceof WalInvalidArgumentError && err.argument === 'skipTombstoned',
  );
  assert.throws(
    () => wal.follow({ skipTombstoned: () => null }),
    (err) => err instanceof WalInvalidArgumentError && err.argument === 'skipTombstoned',
  );
});
