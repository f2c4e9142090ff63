// The native AES-256-GCM batch calls (docs/native-api.md "AES-256-GCM"), the primitive the
// encryption at rest will build on: the same bytes and tags as Node's own crypto, every byte of
// AAD, ciphertext, tag and nonce checked, bounds checked before anything changes, a dead key
// refused.
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
