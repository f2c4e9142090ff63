// The native AES-256-GCM batch calls (docs/native-api.md "AES-256-GCM"), the primitive the
// encryption at rest will build on: the same bytes and tags as Node's own crypto, every byte of
// AAD, ciphertext, tag and nonce checked, bounds checked before anything changes, a dead key
// refused. And the master key beneath them: a derived key is node:crypto's HKDF-SHA256 and its
// key check node:crypto's HMAC-SHA256, bad lengths refused, a dead master refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import os from 'node:os';
import { randomBytes, randomInt, SEED } from './helpers/random.mjs';

const native = createRequire(import.meta.url)(process.env.RINGWAL_NATIVE_BINDING ?? '../build/Release/ringwal.node');
const ERRNO = os.constants.errno;
const FIELDS = 5;
const TAG = 16;

/** A batch of `sizes.length` records laid out like a WAL buffer: a 48-byte header (the AAD), the data, the tag. */
function layout(sizes) {
  const ranges = new Uint32Array(FIELDS * sizes.length);
  let at = 0;
  sizes.forEach((size, i) => {
    ranges.set([at, 48, at + 48, size, at + 48 + size], FIELDS * i);
    at += 48 + size + TAG;
  });
  const nonces = new Uint8Array(12 * sizes.length);
  sizes.forEach((_, i) => new DataView(nonces.buffer).setBigUint64(12 * i + 4, BigInt(1000 + i), true));
  return { view: new Uint8Array(randomBytes(at)), ranges, nonces };
}

function handleFor(keyBytes) {
  const key = native.aeadKey(new Uint8Array(keyBytes));
  assert.notEqual(typeof key, 'number', 'aeadKey returned an errno');
  return key;
}

test(`sealing a batch gives Node's own AES-256-GCM bytes and tags, and opening gives the plaintext back (seed ${SEED})`, () => {
  const keyBytes = randomBytes(32);
  const key = handleFor(keyBytes);
  const sizes = [0, 1, 15, 16, 17, 128, 4096, ...Array.from({ length: 20 }, () => randomInt(0, 9000))];
  const { view, ranges, nonces } = layout(sizes);
  const plain = Buffer.from(view);
  assert.equal(native.aeadSealBatch(key, view, ranges, nonces, sizes.length), 0);
  sizes.forEach((size, i) => {
    const [aadAt, aadBytes, dataAt, , tagAt] = ranges.subarray(FIELDS * i, FIELDS * i + FIELDS);
    const cipher = crypto.createCipheriv('aes-256-gcm', keyBytes, nonces.subarray(12 * i, 12 * i + 12));
    cipher.setAAD(plain.subarray(aadAt, aadAt + aadBytes));
    const expected = Buffer.concat([cipher.update(plain.subarray(dataAt, dataAt + size)), cipher.final()]);
    assert.deepEqual(Buffer.from(view.subarray(dataAt, dataAt + size)), expected, `record ${i}: ciphertext`);
    assert.deepEqual(Buffer.from(view.subarray(tagAt, tagAt + TAG)), cipher.getAuthTag(), `record ${i}: tag`);
  });
  const results = new Int32Array(sizes.length).fill(1);
  assert.equal(native.aeadOpenBatch(key, view, ranges, nonces, sizes.length, results), 0);
  assert.deepEqual([...results], new Array(sizes.length).fill(0));
  sizes.forEach((size, i) => {
    const [aadAt, aadBytes, dataAt] = ranges.subarray(FIELDS * i, FIELDS * i + 3);
    assert.deepEqual(Buffer.from(view.subarray(aadAt, dataAt + size)), plain.subarray(aadAt, aadAt + aadBytes + size), `record ${i}: opened in place`);
  });
  native.aeadKeyDestroy(key);
});

test('a changed byte of AAD, ciphertext, tag or nonce, or another key, fails that record only', () => {
  const keyBytes = randomBytes(32);
  const key = handleFor(keyBytes);
  const sizes = [64, 200, 33];
  const { view, ranges, nonces } = layout(sizes);
  assert.equal(native.aeadSealBatch(key, view, ranges, nonces, sizes.length), 0);
  const sealed = Buffer.from(view);
  // Record 1 spans [aad .. tag end): flip each of its bytes in turn.
  const start = ranges[FIELDS];
  const end = ranges[FIELDS + 4] + TAG;
  const results = new Int32Array(3);
  for (let at = start; at < end; at++) {
    const damaged = new Uint8Array(sealed);
    damaged[at] ^= 1 << (at % 8);
    assert.equal(native.aeadOpenBatch(key, damaged, ranges, nonces, 3, results), 0);
    assert.deepEqual([...results], [0, -ERRNO.EBADMSG, 0], `byte ${at - start} of record 1 changed`);
  }
  const otherNonce = new Uint8Array(nonces);
  otherNonce[12 + 4] ^= 1;
  assert.equal(native.aeadOpenBatch(key, new Uint8Array(sealed), ranges, otherNonce, 3, results), 0);
  assert.deepEqual([...results], [0, -ERRNO.EBADMSG, 0], 'another nonce');
  const otherKey = handleFor(randomBytes(32));
  assert.equal(native.aeadOpenBatch(otherKey, new Uint8Array(sealed), ranges, nonces, 3, results), 0);
  assert.deepEqual([...results], [-ERRNO.EBADMSG, -ERRNO.EBADMSG, -ERRNO.EBADMSG], 'another key');
  native.aeadKeyDestroy(key);
  native.aeadKeyDestroy(otherKey);
});

test('bad arguments: a key not of 32 bytes, ranges out of bounds (nothing changed), a destroyed or foreign handle', () => {
  assert.equal(native.aeadKey(new Uint8Array(31)), -ERRNO.EINVAL);
  assert.equal(native.aeadKey(new Uint8Array(33)), -ERRNO.EINVAL);
  assert.throws(() => native.aeadKey(Buffer.alloc(32).buffer), TypeError);
  const key = handleFor(randomBytes(32));
  const { view, ranges, nonces } = layout([100, 100]);
  const before = Buffer.from(view);
  const outOfBounds = new Uint32Array(ranges);
  outOfBounds[FIELDS + 4] = view.byteLength - TAG + 1;
  assert.equal(native.aeadSealBatch(key, view, outOfBounds, nonces, 2), -ERRNO.EINVAL);
  assert.deepEqual(Buffer.from(view), before, 'a batch with one bad range changes nothing, not even the records before it');
  assert.equal(native.aeadSealBatch(key, view, ranges, nonces.subarray(0, 12), 2), -ERRNO.EINVAL, 'fewer nonces than records');
  assert.equal(native.aeadOpenBatch(key, view, ranges, nonces, 2, new Int32Array(1)), -ERRNO.EINVAL, 'fewer results than records');
  assert.equal(native.aeadSealBatch(key, view, ranges, nonces, 3), -ERRNO.EINVAL, 'count above the ranges');
  assert.deepEqual(Buffer.from(view), before);
  assert.equal(native.aeadSealBatch(key, view, ranges, nonces, 0), 0, 'an empty batch');
  native.aeadKeyDestroy(key);
  assert.throws(() => native.aeadSealBatch(key, view, ranges, nonces, 2), /live AES-GCM key/);
  assert.throws(() => native.aeadOpenBatch(key, view, ranges, nonces, 2, new Int32Array(2)), /live AES-GCM key/);
  assert.throws(() => native.aeadSealBatch({}, view, ranges, nonces, 2), /live AES-GCM key/);
  assert.throws(() => native.aeadKeyDestroy({}), /AES-GCM key handle/);
  assert.equal(native.aeadKeyDestroy(key), 0, 'destroying twice is harmless');
});

/** A live master key handle of `keyBytes`. */
function masterFor(keyBytes) {
  const master = native.aeadMasterKey(new Uint8Array(keyBytes));
  assert.notEqual(typeof master, 'number', 'aeadMasterKey returned an errno');
  return master;
}

test(`a derived key is HKDF-SHA256 of the master key, salt and info, and its key check is HMAC-SHA256 of it (seed ${SEED})`, () => {
  const masterBytes = randomBytes(32);
  const master = masterFor(masterBytes);
  for (const infoBytes of [1, 29, 256]) {
    const salt = randomBytes(16);
    const info = randomBytes(infoBytes);
    const keyCheck = new Uint8Array(16);
    const key = native.aeadDeriveKey(master, salt, info, keyCheck);
    assert.notEqual(typeof key, 'number', `aeadDeriveKey returned an errno (info of ${infoBytes} bytes)`);
    const expectedKey = Buffer.from(crypto.hkdfSync('sha256', masterBytes, salt, info, 32));
    const check = crypto.createHmac('sha256', expectedKey).update('ringwal/v6/key-check').digest().subarray(0, 16);
    assert.deepEqual(Buffer.from(keyCheck), check, `key check (info of ${infoBytes} bytes)`);
    // The derived handle seals what node:crypto, keyed with hkdfSync's key, opens.
    const sizes = [0, 77, 1000];
    const { view, ranges, nonces } = layout(sizes);
    const plain = Buffer.from(view);
    assert.equal(native.aeadSealBatch(key, view, ranges, nonces, sizes.length), 0);
    sizes.forEach((size, i) => {
      const [aadAt, aadBytes, dataAt, , tagAt] = ranges.subarray(FIELDS * i, FIELDS * i + FIELDS);
      const decipher = crypto.createDecipheriv('aes-256-gcm', expectedKey, nonces.subarray(12 * i, 12 * i + 12));
      decipher.setAAD(view.subarray(aadAt, aadAt + aadBytes));
      decipher.setAuthTag(view.subarray(tagAt, tagAt + TAG));
      const opened = Buffer.concat([decipher.update(view.subarray(dataAt, dataAt + size)), decipher.final()]);
      assert.deepEqual(opened, plain.subarray(dataAt, dataAt + size), `record ${i} (info of ${infoBytes} bytes)`);
    });
    const results = new Int32Array(sizes.length).fill(1);
    assert.equal(native.aeadOpenBatch(key, view, ranges, nonces, sizes.length, results), 0);
    assert.deepEqual([...results], [0, 0, 0], 'the derived handle opens what it sealed');
    native.aeadKeyDestroy(key);
  }
  native.aeadMasterKeyDestroy(master);
});

test('another salt, info or master key derives another key and key check', () => {
  const masterBytes = randomBytes(32);
  const master = masterFor(masterBytes);
  const salt = randomBytes(16);
  const info = randomBytes(29);
  const checkOf = (m, s, i) => {
    const keyCheck = new Uint8Array(16);
    const key = native.aeadDeriveKey(m, s, i, keyCheck);
    assert.notEqual(typeof key, 'number');
    native.aeadKeyDestroy(key);
    return Buffer.from(keyCheck).toString('hex');
  };
  const base = checkOf(master, salt, info);
  assert.equal(checkOf(master, salt, info), base, 'deriving is deterministic');
  const otherSalt = Buffer.from(salt);
  otherSalt[15] ^= 1;
  const otherInfo = Buffer.from(info);
  otherInfo[28] ^= 1;
  const otherMasterBytes = Buffer.from(masterBytes);
  otherMasterBytes[0] ^= 1;
  const otherMaster = masterFor(otherMasterBytes);
  const checks = [checkOf(master, otherSalt, info), checkOf(master, salt, otherInfo), checkOf(otherMaster, salt, info)];
  assert.equal(new Set([base, ...checks]).size, 4, 'each change gives another key check');
  native.aeadMasterKeyDestroy(master);
  native.aeadMasterKeyDestroy(otherMaster);
});

test('master keys: bad lengths are -EINVAL, a destroyed or foreign handle throws, destroying twice is harmless', () => {
  assert.equal(native.aeadMasterKey(new Uint8Array(31)), -ERRNO.EINVAL);
  assert.equal(native.aeadMasterKey(new Uint8Array(33)), -ERRNO.EINVAL);
  assert.throws(() => native.aeadMasterKey(Buffer.alloc(32).buffer), TypeError);
  const master = masterFor(randomBytes(32));
  const salt = randomBytes(16);
  const info = randomBytes(29);
  const keyCheck = new Uint8Array(16);
  assert.equal(native.aeadDeriveKey(master, salt.subarray(0, 15), info, keyCheck), -ERRNO.EINVAL, 'a 15-byte salt');
  assert.equal(native.aeadDeriveKey(master, randomBytes(17), info, keyCheck), -ERRNO.EINVAL, 'a 17-byte salt');
  assert.equal(native.aeadDeriveKey(master, salt, new Uint8Array(0), keyCheck), -ERRNO.EINVAL, 'an empty info');
  assert.equal(native.aeadDeriveKey(master, salt, randomBytes(257), keyCheck), -ERRNO.EINVAL, 'a 257-byte info');
  assert.equal(native.aeadDeriveKey(master, salt, info, new Uint8Array(15)), -ERRNO.EINVAL, 'a 15-byte key check');
  assert.equal(native.aeadDeriveKey(master, salt, info, new Uint8Array(32)), -ERRNO.EINVAL, 'a 32-byte key check');
  assert.deepEqual([...keyCheck], new Array(16).fill(0), 'a refused derivation writes no key check');
  assert.throws(() => native.aeadDeriveKey(master, [...salt], info, keyCheck), TypeError, 'a salt that is not a Uint8Array');
  const key = native.aeadDeriveKey(master, salt, info, keyCheck);
  assert.notEqual(typeof key, 'number');
  // The two kinds of handle are not interchangeable.
  assert.throws(() => native.aeadDeriveKey(key, salt, info, keyCheck), /live master key handle/);
  assert.throws(() => native.aeadMasterKeyDestroy(key), /master key handle/);
  assert.throws(() => native.aeadKeyDestroy(master), /AES-GCM key handle/);
  const { view, ranges, nonces } = layout([10]);
  assert.throws(() => native.aeadSealBatch(master, view, ranges, nonces, 1), /live AES-GCM key/);
  assert.equal(native.aeadMasterKeyDestroy(master), 0);
  assert.throws(() => native.aeadDeriveKey(master, salt, info, keyCheck), /live master key handle/);
  assert.equal(native.aeadMasterKeyDestroy(master), 0, 'destroying twice is harmless');
  assert.throws(() => native.aeadMasterKeyDestroy({}), /master key handle/);
  // A key derived before its master was destroyed lives on by itself.
  assert.equal(native.aeadSealBatch(key, view, ranges, nonces, 1), 0);
  native.aeadKeyDestroy(key);
  assert.throws(() => native.aeadSealBatch(key, view, ranges, nonces, 1), /live AES-GCM key/);
});

test('aeadOpenBatchAsync opens in the thread pool: the plaintext back, the count verified before the first bad tag, -EINVAL before anything, and a key destroyed meanwhile does not matter', async () => {
  const key = handleFor(randomBytes(32));
  const sizes = [100, 0, 4096, 33];
  const { view, ranges, nonces } = layout(sizes);
  assert.equal(native.aeadSealBatch(key, view, ranges, nonces, sizes.length), 0);
  const sealed = Buffer.from(view);
  const plain = new Uint8Array(sealed);
  assert.equal(native.aeadOpenBatch(key, plain, ranges, nonces, sizes.length, new Int32Array(sizes.length)), 0);
  const opened = new Uint8Array(sealed);
  const pending = native.aeadOpenBatchAsync(key, opened, ranges, nonces, sizes.length);
  // The call took its own key and copies of ranges and nonces: neither matters now.
  native.aeadKeyDestroy(key);
  ranges.fill(0);
  nonces.fill(0);
  assert.equal(await pending, sizes.length);
  assert.deepEqual(Buffer.from(opened), Buffer.from(plain), 'every record decrypted in place, as the synchronous open does');

  const again = handleFor(randomBytes(32));
  const second = layout(sizes);
  assert.equal(native.aeadSealBatch(again, second.view, second.ranges, second.nonces, sizes.length), 0);
  second.view[second.ranges[5 * 2 + 2] + 7] ^= 1;
  assert.equal(await native.aeadOpenBatchAsync(again, second.view, second.ranges, second.nonces, sizes.length), 2, 'records 0 and 1 hold, record 2 does not');
  const before = Buffer.from(second.view);
  const outside = Uint32Array.from(second.ranges);
  outside[3] = second.view.byteLength;
  assert.equal(await native.aeadOpenBatchAsync(again, second.view, outside, second.nonces, sizes.length), -ERRNO.EINVAL);
  assert.deepEqual(Buffer.from(second.view), before, 'a bad batch changed nothing');
  await assert.rejects(async () => native.aeadOpenBatchAsync(key, opened, ranges, nonces, 1), TypeError);
  native.aeadKeyDestroy(again);
});
