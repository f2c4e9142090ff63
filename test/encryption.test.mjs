// Encryption at rest (docs/encryption.md): every payload AES-256-GCM encrypted under a per-segment
// key, headers authenticated; the integrity classes stay apart (a CRC failure is a torn tail or
// damage, a tag failure WAL_ERR_AUTH); keys rotate at segment boundaries; a writer never encrypts
// into a segment it did not begin; key material never shows.
import assert from 'node:assert/strict';
import { createDecipheriv, hkdfSync, createHmac } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import util from 'node:util';
import { Wal, WalAuthError, WalCorruptionError, WalInvalidArgumentError, WalKeyFileError, WalKeyMissingError } from '../dist/index.js';
import { Field, RECORD_HEADER_SIZE_BYTES, SEGMENT_NAME_PATTERN, crc32c, resealSegmentHeader, walkSegment } from './helpers/format.mjs';
import { payloadFor, tempDir } from './helpers/tmp.mjs';

/** Test keys with a pattern a leak check can look for. */
const KEY_1 = Buffer.from('a1'.repeat(16) + '5e'.repeat(16), 'hex');
const KEY_2 = Buffer.from('b2'.repeat(16) + '6f'.repeat(16), 'hex');
const SMALL = { segmentSizeBytes: 64 * 1024, batchBytesMax: 64 * 1024, preallocate: false };
const ENCRYPTED = { ...SMALL, encryption: { key: KEY_1, keyId: 1 } };

async function collect(iterable) {
  const out = [];
  for await (const r of iterable) out.push(r);
  return out;
}

/** @param {string} dir */
function segmentFiles(dir) {
  return fs
    .readdirSync(dir)
    .filter((name) => SEGMENT_NAME_PATTERN.test(name))
    .sort()
    .map((name) => path.join(dir, name));
}

/** @param {Wal} wal @param {number} from @param {number} count */
async function appendRange(wal, from, count) {
  const lsns = [];
  for (let i = from; i < from + count; i++) lsns.push(wal.append(payloadFor(i)));
  return Promise.all(lsns);
}

/** Every string a leak could hide in: the key as hex, base64 and as Node prints a Buffer. */
function keyForms(key) {
  const hex = key.toString('hex');
  return [hex, key.toString('base64'), util.inspect(key).slice(8, 40), hex.slice(0, 16)];
}

test('round trip: user records, batches, transactions, checkpoints and tombstones, encrypted on disk, read back in this process and after reopen', async (t) => {
  const dir = tempDir(t);
  let wal = await Wal.open(dir, ENCRYPTED);
  const lsns = await appendRange(wal, 0, 300);
  const batch = await wal.appendBatch([payloadFor(300), payloadFor(301)]);
  const txn = await wal.appendTransaction([{ payload: payloadFor(302) }, { payload: payloadFor(303), type: 0x8002 }]);
  const checkpoint = await wal.checkpoint(Buffer.from('state at 304'));
  await wal.tombstone({ tenant: 3, collection: 'orders', purgeLsn: 10 });
  const expected = [...Array(304).keys()];
  const check = async () => {
    const records = await collect(wal.read());
    assert.deepEqual(
      records.map((r) => r.payload),
      expected.map((i) => payloadFor(i)),
    );
    assert.equal(records[303].type, 0x8002, 'the type is the one appended, without the encryption bit');
    assert.deepEqual(records[302].txn, { firstLsn: txn.firstLsn, lastLsn: txn.lastLsn });
    assert.deepEqual(wal.lastCheckpoint(), { lsn: checkpoint, payload: Buffer.from('state at 304') });
    const tombstones = await wal.tombstones();
    assert.equal(tombstones.isTombstoned(3, 'orders', 9), true);
    const lazy = await collect(wal.read({ payloads: false }));
    assert.deepEqual(
      lazy.map((r) => r.payloadSizeBytes),
      expected.map((i) => payloadFor(i).byteLength),
      'a lazy read reports the appended size',
    );
  };
  await check();
  assert.equal(lsns[0], 1);
  assert.equal(batch.firstLsn, 301);
  await wal.close();
  // On disk: every segment is encrypted, every record has bit 14, and no payload is in the clear.
  const files = segmentFiles(dir);
  assert.ok(files.length >= 2, 'the records span segments');
  for (const file of files) {
    const bytes = fs.readFileSync(file);
    const walked = walkSegment(bytes);
    assert.equal(walked.encrypted, true);
    assert.equal(walked.keyId, 1);
    for (const r of walked.records) assert.ok((r.type & 0x4000) !== 0, `LSN ${r.lsn} has the encryption bit`);
    for (const i of [0, 7, 150, 299]) assert.equal(bytes.indexOf(payloadFor(i).subarray(4)), -1, `payload ${i} is not on disk in the clear`);
  }
  wal = await Wal.open(dir, ENCRYPTED);
  t.after(() => wal.close());
  await check();
});

test('the on-disk bytes are AES-256-GCM as documented: per-segment key by HKDF, nonce = 4 zero bytes and the LSN, header after the CRC as associated data', async (t) => {
  const dir = tempDir(t);
  const wal = await Wal.open(dir, ENCRYPTED);
  await appendRange(wal, 0, 5);
  await wal.close();
  const bytes = fs.readFileSync(segmentFiles(dir)[0]);
  const walked = walkSegment(bytes);
  const logId = bytes.subarray(16, 24);
  const segmentId = bytes.subarray(24, 28);
  const info = Buffer.concat([Buffer.from('ringwal/v6/record'), logId, segmentId]);
  const dataKey = Buffer.from(hkdfSync('sha256', KEY_1, walked.salt, info, 32));
  const keyCheck = createHmac('sha256', dataKey).update('ringwal/v6/key-check').digest().subarray(0, 16);
  assert.deepEqual(bytes.subarray(88, 104), keyCheck, 'the header holds the key check value');
  const r = walked.records.find((rec) => (rec.type & 0xffff0000) !== 0xffff0000);
  const nonce = Buffer.alloc(12);
  nonce.writeUInt32LE(r.lsn, 4);
  const decipher = createDecipheriv('aes-256-gcm', dataKey, nonce);
  decipher.setAAD(bytes.subarray(r.offsetBytes + 4, r.offsetBytes + RECORD_HEADER_SIZE_BYTES));
  decipher.setAuthTag(r.payload.subarray(r.payload.length - 16));
  const plain = Buffer.concat([decipher.update(r.payload.subarray(0, r.payload.length - 16)), decipher.final()]);
  assert.deepEqual(plain, payloadFor(r.lsn - 1));
});

/**
 * Appends records that fill the first segment, and a few in the second; returns the first segment's path.
 * @param {string} dir
 * @param {import('../dist/index.js').WalOptions} [options]
 */
async function twoSegments(dir, options = ENCRYPTED) {
  const wal = await Wal.open(dir, options);
  await appendRange(wal, 0, 500);
  await wal.close();
  const files = segmentFiles(dir);
  assert.ok(files.length >= 2);
  return files[0];
}

test('every byte of a record in a sealed segment, flipped: with its CRC fixed, WAL_ERR_AUTH for what only the tag covers; never a changed record', async (t) => {
  const dir = tempDir(t);
  const first = await twoSegments(dir);
  const original = fs.readFileSync(first);
  const walked = walkSegment(original);
  const victim = walked.records[40];
  const recordBytes = RECORD_HEADER_SIZE_BYTES + victim.sizeBytes;
  const authOnly = (at) => (at >= Field.TENANT && at < Field.TYPE) || at >= RECORD_HEADER_SIZE_BYTES;
  let authSeen = 0;
  for (let at = 0; at < recordBytes; at++) {
    const bytes = Buffer.from(original);
    bytes[victim.offsetBytes + at] ^= 0x01;
    // The CRC recomputed over the change (a tamperer who knows the format), except for the CRC itself.
    if (at >= 4) {
      const sizeBytes = bytes.readUInt32LE(victim.offsetBytes + Field.SIZE);
      const end = victim.offsetBytes + RECORD_HEADER_SIZE_BYTES + sizeBytes;
      if (end <= bytes.length) bytes.writeUInt32LE(crc32c(bytes.subarray(victim.offsetBytes + 4, end)), victim.offsetBytes);
    }
    fs.writeFileSync(first, bytes);
    const wal = await Wal.open(dir, ENCRYPTED);
    try {
      await assert.rejects(collect(wal.read()), (err) => {
        if (authOnly(at)) {
          assert.ok(err instanceof WalAuthError, `byte ${at}: ${err}`);
          assert.equal(err.code, 'WAL_ERR_AUTH');
          assert.equal(err.lsn, victim.lsn, 'the error names the LSN');
          assert.equal(err.path, first, 'and the segment');
          authSeen += 1;
        } else {
          assert.ok(err instanceof WalAuthError || err instanceof WalCorruptionError, `byte ${at}: ${err}`);
        }
        return true;
      });
    } finally {
      await wal.close();
    }
  }
  assert.ok(authSeen >= recordBytes - 30);
  // Without the CRC fixed, a flip is damage (a sealed segment), never WAL_ERR_AUTH.
  for (const at of [0, 20, RECORD_HEADER_SIZE_BYTES + 3, recordBytes - 1]) {
    const bytes = Buffer.from(original);
    bytes[victim.offsetBytes + at] ^= 0x10;
    fs.writeFileSync(first, bytes);
    const wal = await Wal.open(dir, ENCRYPTED);
    try {
      await assert.rejects(collect(wal.read()), WalCorruptionError);
    } finally {
      await wal.close();
    }
  }
});

test('a torn encrypted tail is still a torn tail (CRC first); a tag that fails on a CRC-valid last record is WAL_ERR_AUTH, not the end of the log', async (t) => {
  const dir = tempDir(t);
  let wal = await Wal.open(dir, ENCRYPTED);
  await appendRange(wal, 0, 20);
  await wal.close();
  const file = segmentFiles(dir)[0];
  const original = fs.readFileSync(file);
  const last = walkSegment(original).records.at(-1);
  const torn = Buffer.from(original);
  torn.fill(0, last.offsetBytes + RECORD_HEADER_SIZE_BYTES + 2, last.offsetBytes + last.spanBytes);
  fs.writeFileSync(file, torn);
  wal = await Wal.open(dir, ENCRYPTED);
  assert.ok(wal.recovery.tornTail !== null, 'a torn tail');
  assert.equal((await collect(wal.read())).length, last.lsn - 1);
  await wal.close();

  const dir2 = tempDir(t);
  wal = await Wal.open(dir2, ENCRYPTED);
  await appendRange(wal, 0, 20);
  await wal.close();
  const file2 = segmentFiles(dir2)[0];
  const bytes = fs.readFileSync(file2);
  const tail = walkSegment(bytes).records.at(-1);
  bytes[tail.offsetBytes + RECORD_HEADER_SIZE_BYTES] ^= 0xff;
  bytes.writeUInt32LE(crc32c(bytes.subarray(tail.offsetBytes + 4, tail.offsetBytes + RECORD_HEADER_SIZE_BYTES + tail.sizeBytes)), tail.offsetBytes);
  fs.writeFileSync(file2, bytes);
  wal = await Wal.open(dir2, ENCRYPTED);
  t.after(() => wal.close());
  assert.equal(wal.recovery.tornTail, null, 'a CRC-valid record is not torn');
  await assert.rejects(collect(wal.read()), (err) => err instanceof WalAuthError && err.lsn === tail.lsn);
});

test('segment header bytes: a flip is WAL_ERR_CORRUPT; a salt or key id changed with the CRC fixed is WAL_ERR_AUTH or WAL_ERR_KEY_MISSING at open', async (t) => {
  const dir = tempDir(t);
  const first = await twoSegments(dir);
  const original = fs.readFileSync(first);
  for (const at of [28, 64, 68, 72, 80, 88, 100]) {
    const bytes = Buffer.from(original);
    bytes[at] ^= 0x04;
    fs.writeFileSync(first, bytes);
    await assert.rejects(Wal.open(dir, ENCRYPTED), WalCorruptionError, `header byte ${at}, CRC not fixed`);
  }
  /** @type {Array<[number, Function]>} */
  const expectations = [
    [72, WalAuthError],
    [95, WalAuthError],
    [88, WalAuthError],
    [68, WalKeyMissingError],
  ];
  for (const [at, errorClass] of expectations) {
    const bytes = Buffer.from(original);
    bytes[at] ^= 0x04;
    resealSegmentHeader(bytes);
    fs.writeFileSync(first, bytes);
    await assert.rejects(Wal.open(dir, ENCRYPTED), (err) => err instanceof errorClass, `header byte ${at}, CRC fixed`);
  }
  fs.writeFileSync(first, original);
  const wal = await Wal.open(dir, ENCRYPTED);
  t.after(() => wal.close());
  assert.equal((await collect(wal.read())).length, 500);
});

test('a wrong key is WAL_ERR_AUTH at open, naming the segment; no key is WAL_ERR_KEY_MISSING naming the key id', async (t) => {
  const dir = tempDir(t);
  await twoSegments(dir);
  await assert.rejects(Wal.open(dir, { ...SMALL, encryption: { key: KEY_2, keyId: 1 } }), (err) => {
    assert.ok(err instanceof WalAuthError, String(err));
    assert.match(err.message, /key id 1/);
    assert.ok(segmentFiles(dir).includes(err.path));
    return true;
  });
  await assert.rejects(Wal.open(dir, SMALL), (err) => err instanceof WalKeyMissingError && err.keyId === 1 && err.code === 'WAL_ERR_KEY_MISSING');
  await assert.rejects(Wal.open(dir, { ...SMALL, encryption: { key: KEY_2, keyId: 2 } }), (err) => err instanceof WalKeyMissingError && err.keyId === 1);
});

test('a record copied into another segment or another log is rejected (WAL_ERR_AUTH), though its CRC holds', async (t) => {
  // Another log with the same key, shape and records: the same LSN at the same offset.
  const dirA = tempDir(t);
  const dirB = tempDir(t);
  for (const dir of [dirA, dirB]) {
    const wal = await Wal.open(dir, ENCRYPTED);
    await appendRange(wal, 0, 30);
    await wal.close();
  }
  const fileA = segmentFiles(dirA)[0];
  const fileB = segmentFiles(dirB)[0];
  const a = fs.readFileSync(fileA);
  const b = fs.readFileSync(fileB);
  const record = walkSegment(a).records[10];
  const other = walkSegment(b).records[10];
  assert.equal(record.offsetBytes, other.offsetBytes);
  a.copy(b, other.offsetBytes, record.offsetBytes, record.offsetBytes + record.spanBytes);
  fs.writeFileSync(fileB, b);
  let wal = await Wal.open(dirB, ENCRYPTED);
  await assert.rejects(collect(wal.read()), (err) => err instanceof WalAuthError && err.lsn === record.lsn);
  await wal.close();

  // Another segment of the same log: the record rewritten to claim the place of one there.
  const dir = tempDir(t);
  await twoSegments(dir);
  const [s1, s2] = segmentFiles(dir);
  const one = fs.readFileSync(s1);
  const two = fs.readFileSync(s2);
  const from = walkSegment(one).records[5];
  const to = walkSegment(two).records[0];
  assert.equal(from.sizeBytes, to.sizeBytes === from.sizeBytes ? to.sizeBytes : from.sizeBytes);
  const moved = Buffer.from(one.subarray(from.offsetBytes, from.offsetBytes + from.spanBytes));
  moved.writeUInt32LE(to.lsn % 2 ** 32, Field.LSN);
  moved.writeUInt32LE(walkSegment(two).segmentId, Field.SEGMENT_ID);
  moved.writeUInt32LE(to.pendingIndex, Field.PENDING_INDEX);
  moved.writeUInt32LE(crc32c(moved.subarray(4, RECORD_HEADER_SIZE_BYTES + from.sizeBytes)), 0);
  moved.copy(two, to.offsetBytes);
  fs.writeFileSync(s2, two);
  wal = await Wal.open(dir, ENCRYPTED);
  t.after(() => wal.close());
  await assert.rejects(collect(wal.read({ fromLsn: to.lsn })), (err) => err instanceof WalAuthError && err.lsn === to.lsn);
});

test('rotateKey seals the active segment and begins the next under the new key; across reopen the old one reads through previousKeys', async (t) => {
  const dir = tempDir(t);
  let wal = await Wal.open(dir, ENCRYPTED);
  await appendRange(wal, 0, 10);
  const before = segmentFiles(dir).length;
  await wal.rotateKey({ keyId: 2, key: KEY_2 });
  assert.equal(segmentFiles(dir).length, before + 1, 'a new segment at once');
  await appendRange(wal, 10, 10);
  assert.equal((await collect(wal.read())).length, 20, 'both keys read in this process');
  await assert.rejects(wal.rotateKey({ keyId: 2, key: KEY_1 }), (err) => err instanceof WalInvalidArgumentError && err.argument === 'keyId');
  await assert.rejects(wal.rotateKey(/** @type {any} */ ({ keyId: 3, key: Buffer.alloc(31) })), WalInvalidArgumentError);
  await wal.close();
  const files = segmentFiles(dir);
  const ids = files.map((f) => walkSegment(fs.readFileSync(f)).keyId);
  assert.deepEqual(ids.slice(0, before), Array(before).fill(1));
  assert.equal(ids.at(-1), 2);
  assert.equal(walkSegment(fs.readFileSync(files[before - 1])).sealed, true, 'the segment before the rotation is sealed');
  const next = { ...SMALL, encryption: { key: KEY_2, keyId: 2, previousKeys: [{ keyId: 1, key: KEY_1 }] } };
  await assert.rejects(Wal.open(dir, { ...SMALL, encryption: { key: KEY_2, keyId: 2 } }), (err) => err instanceof WalKeyMissingError && err.keyId === 1);
  wal = await Wal.open(dir, next);
  t.after(() => wal.close());
  assert.deepEqual(
    (await collect(wal.read())).map((r) => r.payload),
    [...Array(20).keys()].map((i) => payloadFor(i)),
  );
  // rotateKey on a plaintext log is refused.
  const plain = await Wal.open(tempDir(t), SMALL);
  t.after(() => plain.close());
  await assert.rejects(plain.rotateKey({ keyId: 1, key: KEY_1 }), WalInvalidArgumentError);
});

test('turning encryption on for a plaintext log begins a new segment; the old one stays plaintext and readable; an encrypted log opened without a key is WAL_ERR_KEY_MISSING', async (t) => {
  const dir = tempDir(t);
  let wal = await Wal.open(dir, SMALL);
  await appendRange(wal, 0, 10);
  await wal.close();
  wal = await Wal.open(dir, ENCRYPTED);
  await appendRange(wal, 10, 10);
  assert.equal((await collect(wal.read())).length, 20);
  await wal.close();
  const walked = segmentFiles(dir).map((f) => walkSegment(fs.readFileSync(f)));
  assert.equal(walked.length, 2);
  assert.equal(walked[0].encrypted, false);
  assert.equal(walked[0].sealed, true);
  assert.equal(walked[1].encrypted, true);
  await assert.rejects(Wal.open(dir, SMALL), WalKeyMissingError);
  wal = await Wal.open(dir, ENCRYPTED);
  t.after(() => wal.close());
  assert.deepEqual(
    (await collect(wal.read())).map((r) => r.payload),
    [...Array(20).keys()].map((i) => payloadFor(i)),
  );
});

test('a key file that breaks a rule is WAL_ERR_KEY_FILE naming the rule; a good one opens the log', async (t) => {
  const dir = tempDir(t);
  const keyDir = tempDir(t);
  const keyFile = path.join(keyDir, 'wal.key');
  fs.writeFileSync(keyFile, KEY_1, { mode: 0o644 });
  fs.chmodSync(keyFile, 0o644);
  await assert.rejects(Wal.open(dir, { ...SMALL, encryption: { keyFile, keyId: 1 } }), (err) => err instanceof WalKeyFileError && err.rule === 'permissions');
  fs.chmodSync(keyFile, 0o600);
  const wal = await Wal.open(dir, { ...SMALL, encryption: { keyFile, keyId: 1 } });
  await appendRange(wal, 0, 5);
  await wal.close();
  // The same bytes given directly read it.
  const again = await Wal.open(dir, ENCRYPTED);
  t.after(() => again.close());
  assert.equal((await collect(again.read())).length, 5);
});

test('the key never appears in util.inspect of the log, in an error message or in a warning', async (t) => {
  const dir = tempDir(t);
  const warnings = [];
  const onWarning = (w) => warnings.push(String(w.stack ?? w));
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const wal = await Wal.open(dir, { ...ENCRYPTED, encryption: { key: KEY_1, keyId: 1, previousKeys: [{ keyId: 9, key: KEY_2 }] } });
  t.after(() => wal.close());
  await appendRange(wal, 0, 5);
  await wal.rotateKey({ keyId: 4, key: KEY_2.reverse() });
  KEY_2.reverse();
  const texts = [util.inspect(wal, { depth: Infinity, showHidden: true }), JSON.stringify(await wal.stats())];
  const errors = [];
  await Wal.open(dir, ENCRYPTED).catch((err) => errors.push(err));
  await Wal.open(tempDir(t), { ...SMALL, encryption: { key: KEY_1.subarray(0, 31), keyId: 1 } }).catch((err) => errors.push(err));
  await Wal.open(tempDir(t), { ...SMALL, encryption: { key: KEY_1, keyId: 0 } }).catch((err) => errors.push(err));
  assert.equal(errors.length, 3);
  for (const err of errors) texts.push(String(err.message), String(err.stack), util.inspect(err, { depth: Infinity, showHidden: true }));
  texts.push(...warnings);
  for (const text of texts) {
    for (const key of [KEY_1, KEY_2]) {
      for (const form of keyForms(key)) assert.ok(!text.includes(form), `a key shows in: ${text.slice(0, 200)}`);
    }
  }
});

test('a cut inside a sealed encrypted segment re-encrypts the kept records under the replacement salt; they read back in this process and after reopen', async (t) => {
  const dir = tempDir(t);
  const first = await twoSegments(dir, { ...ENCRYPTED, doubleWriteBuffer: 'buffered' });
  const before = walkSegment(fs.readFileSync(first));
  const cut = before.records[100].lsn;
  let wal = await Wal.open(dir, { ...ENCRYPTED, doubleWriteBuffer: 'buffered' });
  await wal.truncateAfter(cut);
  await appendRange(wal, 1000, 20);
  const expected = [...[...Array(cut).keys()].map((i) => payloadFor(i)), ...[...Array(20).keys()].map((i) => payloadFor(1000 + i))];
  assert.deepEqual(
    (await collect(wal.read())).map((r) => r.payload),
    expected,
  );
  await wal.close();
  const files = segmentFiles(dir);
  const replacement = walkSegment(fs.readFileSync(files[0]));
  assert.notEqual(replacement.segmentId, before.segmentId, 'the kept records went to a replacement');
  assert.equal(replacement.encrypted, true);
  assert.notDeepEqual(replacement.salt, before.salt, 'under a new salt');
  assert.equal(replacement.records.length, cut + 20, 'the writer went on in the replacement, whose salt it drew');
  assert.notDeepEqual(replacement.records[5].payload, before.records[5].payload, 'the kept records were encrypted again');
  wal = await Wal.open(dir, ENCRYPTED);
  t.after(() => wal.close());
  assert.deepEqual(
    (await collect(wal.read())).map((r) => r.payload),
    expected,
  );
});

test('readers on an encrypted log: a lazy read decrypts nothing (a bad tag does not stop it), skipTombstoned and follow work', async (t) => {
  const dir = tempDir(t);
  let wal = await Wal.open(dir, ENCRYPTED);
  for (let i = 0; i < 10; i++) await wal.append(payloadFor(i), { tenant: 1 + (i % 2) });
  await wal.tombstone({ tenant: 1, collection: 'c', purgeLsn: 6 });
  await wal.close();
  const file = segmentFiles(dir)[0];
  const bytes = fs.readFileSync(file);
  const victim = walkSegment(bytes).records[2]; // LSN 3, tenant 1
  bytes[victim.offsetBytes + RECORD_HEADER_SIZE_BYTES + 1] ^= 0x01;
  bytes.writeUInt32LE(crc32c(bytes.subarray(victim.offsetBytes + 4, victim.offsetBytes + RECORD_HEADER_SIZE_BYTES + victim.sizeBytes)), victim.offsetBytes);
  fs.writeFileSync(file, bytes);
  wal = await Wal.open(dir, ENCRYPTED);
  t.after(() => wal.close());
  const lazy = await collect(wal.read({ payloads: false }));
  assert.equal(lazy.length, 10, 'headers only: no tag checked');
  await assert.rejects(collect(wal.read()), (err) => err instanceof WalAuthError && err.lsn === victim.lsn);
  // Skipping the damaged record by a header filter never decrypts it either.
  const tenant2 = await collect(wal.read({ tenants: [2] }));
  assert.deepEqual(
    tenant2.map((r) => r.payload),
    [1, 3, 5, 7, 9].map((i) => payloadFor(i)),
  );
  const kept = await collect(wal.read({ tenants: [1], fromLsn: 5, skipTombstoned: () => 'c' }));
  assert.deepEqual(
    kept.map((r) => r.lsn),
    [7, 9],
    'records of the tombstoned collection below LSN 6 are skipped',
  );
  const controller = new AbortController();
  const seen = [];
  const following = (async () => {
    for await (const r of wal.follow({ fromLsn: 11, signal: controller.signal })) {
      seen.push(r);
      if (seen.length === 3) controller.abort();
    }
  })().catch((err) => {
    if (err?.name !== 'AbortError') throw err;
  });
  await appendRange(wal, 100, 3);
  await following;
  assert.deepEqual(
    seen.map((r) => r.payload),
    [100, 101, 102].map((i) => payloadFor(i)),
  );
});
