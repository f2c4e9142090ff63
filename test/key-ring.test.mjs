// The key material of encryption at rest (docs/encryption.md "Keys"), on real files and the real
// addon: every key file rule with a file that breaks it, a key file and the same bytes given
// directly derive the same data key (which node:crypto's HKDF agrees with), the option shapes of
// a key ring each refused with the part named, and no inspect, JSON or error message that ever
// shows a byte of a key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import util from 'node:util';
import { KeyRing } from '../dist/crypto/key-ring.js';
import { parseKeySpec } from '../dist/crypto/key-spec.js';
import { MasterKey } from '../dist/crypto/master-key.js';
import { loadNativeBinding } from '../dist/io/native-binding.js';
import { WalError, WalInvalidArgumentError, WalKeyFileError, WalKeyMissingError } from '../dist/index.js';
import { randomBytes, SEED } from './helpers/random.mjs';
import { tempDir } from './helpers/tmp.mjs';

/** A key nobody could miss in a dump: de ad be ef 13 37 c0 de, four times. */
const PATTERN_KEY = Buffer.from('deadbeef1337c0de'.repeat(4), 'hex');
const OTHER_KEY = Buffer.alloc(32, 0x42);
const RECORD_INFO_LABEL = 'ringwal/v6/record';
const TAG = 16;

/**
 * A file in `dir` holding `bytes`, with `mode` (set after the write, so the umask cannot widen it).
 * @param {string} dir
 * @param {string} name
 * @param {Uint8Array} bytes
 * @param {number} [mode]
 */
function keyFile(dir, name, bytes, mode = 0o600) {
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  fs.chmodSync(file, mode);
  return file;
}

/**
 * Asserts that `fn` throws a WalKeyFileError for `file` under `rule`, and returns it.
 * @param {() => unknown} fn
 * @param {string} file
 * @param {string} rule
 * @returns {WalKeyFileError}
 */
function throwsKeyFile(fn, file, rule) {
  /** @type {WalKeyFileError | undefined} */
  let caught;
  assert.throws(fn, (err) => {
    assert.ok(err instanceof WalKeyFileError, `a WalKeyFileError, not ${/** @type {Error} */ (err).name}`);
    assert.ok(err instanceof WalError);
    assert.equal(err.code, 'WAL_ERR_KEY_FILE');
    assert.equal(err.rule, rule);
    assert.equal(err.path, file);
    assert.ok(err.message.includes(file) && err.message.includes(rule), err.message);
    caught = err;
    return true;
  });
  return caught;
}

/**
 * One record laid out as the log will: a 48-byte header (the AAD), `dataBytes` of data, the tag;
 * the nonce is 4 zero bytes and the LSN (u64 LE).
 * @param {number} dataBytes
 * @param {bigint} lsn
 */
function oneRecord(dataBytes, lsn) {
  const view = new Uint8Array(randomBytes(48 + dataBytes + TAG));
  const ranges = new Uint32Array([0, 48, 48, dataBytes, 48 + dataBytes]);
  const nonces = new Uint8Array(12);
  new DataView(nonces.buffer).setBigUint64(4, lsn, true);
  return { view, ranges, nonces };
}

/**
 * The info of a segment's data key, built here apart from src/crypto: the label, logId u64 LE, segmentId u32 LE.
 * @param {bigint} logId
 * @param {number} segmentId
 */
function recordInfo(logId, segmentId) {
  const ids = Buffer.alloc(12);
  ids.writeBigUInt64LE(logId, 0);
  ids.writeUInt32LE(segmentId, 8);
  return Buffer.concat([Buffer.from(RECORD_INFO_LABEL, 'utf8'), ids]);
}

test('each key file rule is refused with its name, in order: symlink, not-regular-file, owner, permissions, size, unreadable', (t) => {
  const dir = tempDir(t, 'ringwal-keys-');
  const good = keyFile(dir, 'good.key', PATTERN_KEY);
  assert.equal(MasterKey.fromFile(1, good).keyId, 1, 'a regular 0600 file of 32 bytes owned by this user loads');
  assert.equal(MasterKey.fromFile(1, keyFile(dir, 'read-only.key', PATTERN_KEY, 0o400)).keyId, 1, 'so does a 0400 one');

  const link = path.join(dir, 'link.key');
  fs.symlinkSync(good, link);
  throwsKeyFile(() => MasterKey.fromFile(1, link), link, 'symlink');
  const linkToDir = path.join(dir, 'link-to-dir');
  fs.symlinkSync(dir, linkToDir);
  throwsKeyFile(() => MasterKey.fromFile(1, linkToDir), linkToDir, 'symlink');
  // Only the file itself must not be a link: a directory above it may be.
  assert.equal(MasterKey.fromFile(1, path.join(linkToDir, 'good.key')).keyId, 1);

  const subdir = path.join(dir, 'a-directory');
  fs.mkdirSync(subdir, { mode: 0o700 });
  throwsKeyFile(() => MasterKey.fromFile(1, subdir), subdir, 'not-regular-file');
  const fifo = path.join(dir, 'fifo.key');
  execFileSync('mkfifo', ['-m', '600', fifo]);
  throwsKeyFile(() => MasterKey.fromFile(1, fifo), fifo, 'not-regular-file');

  throwsKeyFile(() => MasterKey.fromFile(1, keyFile(dir, 'group.key', PATTERN_KEY, 0o640)), path.join(dir, 'group.key'), 'permissions');
  throwsKeyFile(() => MasterKey.fromFile(1, keyFile(dir, 'world.key', PATTERN_KEY, 0o604)), path.join(dir, 'world.key'), 'permissions');
  throwsKeyFile(() => MasterKey.fromFile(1, keyFile(dir, 'group-write.key', PATTERN_KEY, 0o620)), path.join(dir, 'group-write.key'), 'permissions');
  // A file that breaks both the permission and the size rule is reported by the permission rule.
  throwsKeyFile(
    () => MasterKey.fromFile(1, keyFile(dir, 'open-short.key', PATTERN_KEY.subarray(0, 31), 0o644)),
    path.join(dir, 'open-short.key'),
    'permissions',
  );

  for (const sizeBytes of [0, 31, 33, 64]) {
    const bytes = Buffer.alloc(sizeBytes, 0xde);
    const file = keyFile(dir, `size-${sizeBytes}.key`, bytes);
    const err = throwsKeyFile(() => MasterKey.fromFile(1, file), file, 'size');
    assert.ok(err.message.includes(`${sizeBytes} bytes`), err.message);
  }

  const missing = path.join(dir, 'missing.key');
  const err = throwsKeyFile(() => MasterKey.fromFile(1, missing), missing, 'unreadable');
  assert.equal(err.errnoName, 'ENOENT');
  assert.equal(err.errno, -os.constants.errno.ENOENT);
  assert.equal(err.syscall, 'lstat');
  assert.equal(/** @type {NodeJS.ErrnoException} */ (err.cause).code, 'ENOENT', "Node's own error is the cause");
  const notADir = path.join(good, 'below-a-file.key');
  assert.equal(throwsKeyFile(() => MasterKey.fromFile(1, notADir), notADir, 'unreadable').errnoName, 'ENOTDIR');
});

test('a key file owned by another user is refused by the owner rule, before its permissions and size', (t) => {
  if (process.getuid() !== 0) {
    t.skip('chown to another user needs root (as another user, the file would be unreadable first)');
    return;
  }
  const dir = tempDir(t, 'ringwal-keys-');
  const owned = keyFile(dir, 'nobody.key', PATTERN_KEY);
  fs.chownSync(owned, 65534, 65534);
  const err = throwsKeyFile(() => MasterKey.fromFile(1, owned), owned, 'owner');
  assert.ok(err.message.includes('65534'), err.message);
  const ownedOpenShort = keyFile(dir, 'nobody-open-short.key', PATTERN_KEY.subarray(0, 31), 0o666);
  fs.chownSync(ownedOpenShort, 65534, 65534);
  throwsKeyFile(() => MasterKey.fromFile(1, ownedOpenShort), ownedOpenShort, 'owner');
});

test(`a key file and the same bytes given directly derive the same data key, node:crypto's HKDF of them (seed ${SEED})`, (t) => {
  const dir = tempDir(t, 'ringwal-keys-');
  const masterBytes = randomBytes(32);
  const fromFile = MasterKey.fromFile(7, keyFile(dir, 'master.key', masterBytes));
  const fromBytes = MasterKey.fromBytes(7, new Uint8Array(masterBytes));
  const salt = randomBytes(16);
  const logId = 0x0123_4567_89ab_cdefn;
  const segmentId = 0xfeed_0042;
  const a = fromFile.deriveSegmentKey(salt, logId, segmentId);
  const b = fromBytes.deriveSegmentKey(salt, logId, segmentId);
  assert.deepEqual(Buffer.from(a.keyCheck), Buffer.from(b.keyCheck), 'the same key check');

  const record = oneRecord(200, 42n);
  const plain = Buffer.from(record.view);
  const sealedA = new Uint8Array(plain);
  const sealedB = new Uint8Array(plain);
  a.key.seal(sealedA, record.ranges, record.nonces, 1);
  b.key.seal(sealedB, record.ranges, record.nonces, 1);
  assert.deepEqual(Buffer.from(sealedA), Buffer.from(sealedB), 'the same ciphertext and tag');
  assert.notDeepEqual(Buffer.from(sealedA.subarray(48, 248)), plain.subarray(48, 248), 'the data was encrypted');

  // The data key is HKDF-SHA256 of the master key, the salt and the info of docs/encryption.md.
  const expectedKey = Buffer.from(crypto.hkdfSync('sha256', masterBytes, salt, recordInfo(logId, segmentId), 32));
  const decipher = crypto.createDecipheriv('aes-256-gcm', expectedKey, record.nonces);
  decipher.setAAD(sealedA.subarray(0, 48));
  decipher.setAuthTag(sealedA.subarray(248, 248 + TAG));
  assert.deepEqual(Buffer.concat([decipher.update(sealedA.subarray(48, 248)), decipher.final()]), plain.subarray(48, 248));
  const expectedCheck = crypto.createHmac('sha256', expectedKey).update('ringwal/v6/key-check').digest().subarray(0, 16);
  assert.deepEqual(Buffer.from(a.keyCheck), expectedCheck);

  // Opening: a good record gives 0 and its plaintext, a changed one -EBADMSG (not a throw).
  const results = new Int32Array(1).fill(1);
  const opened = new Uint8Array(sealedA);
  b.key.open(opened, record.ranges, record.nonces, 1, results);
  assert.equal(results[0], 0);
  assert.deepEqual(Buffer.from(opened.subarray(0, 248)), plain.subarray(0, 248), 'the header and the data back, in place');
  const damaged = new Uint8Array(sealedA);
  damaged[100] ^= 1;
  a.key.open(damaged, record.ranges, record.nonces, 1, results);
  assert.equal(results[0], -os.constants.errno.EBADMSG);

  // Another segment id, log id or salt is another key.
  const checks = new Set(
    [
      a.keyCheck,
      fromBytes.deriveSegmentKey(salt, logId, segmentId + 1).keyCheck,
      fromBytes.deriveSegmentKey(salt, logId + 1n, segmentId).keyCheck,
      fromBytes.deriveSegmentKey(randomBytes(16), logId, segmentId).keyCheck,
    ].map((c) => Buffer.from(c).toString('hex')),
  );
  assert.equal(checks.size, 4);
  for (const key of [a.key, b.key, fromFile, fromBytes]) key.destroy();
});

test('bad arguments of a segment key: salt, log id, segment id, ranges out of bounds', () => {
  const master = MasterKey.fromBytes(1, OTHER_KEY);
  const salt = randomBytes(16);
  for (const [call, argument] of /** @type {[() => unknown, string][]} */ ([
    [() => master.deriveSegmentKey(randomBytes(15), 1n, 1), 'salt'],
    [() => master.deriveSegmentKey(/** @type {any} */ ([...salt]), 1n, 1), 'salt'],
    [() => master.deriveSegmentKey(salt, /** @type {any} */ (1), 1), 'logId'],
    [() => master.deriveSegmentKey(salt, -1n, 1), 'logId'],
    [() => master.deriveSegmentKey(salt, 1n << 64n, 1), 'logId'],
    [() => master.deriveSegmentKey(salt, 1n, -1), 'segmentId'],
    [() => master.deriveSegmentKey(salt, 1n, 2 ** 32), 'segmentId'],
    [() => master.deriveSegmentKey(salt, 1n, 1.5), 'segmentId'],
  ])) {
    assert.throws(call, (err) => err instanceof WalInvalidArgumentError && err.argument === argument, argument);
  }
  const { key } = master.deriveSegmentKey(salt, (1n << 64n) - 1n, 2 ** 32 - 1);
  const record = oneRecord(10, 1n);
  const outOfBounds = new Uint32Array(record.ranges);
  outOfBounds[4] = record.view.byteLength;
  assert.throws(
    () => key.seal(record.view, outOfBounds, record.nonces, 1),
    (err) => err instanceof WalInvalidArgumentError && err.argument === 'ranges',
  );
  assert.throws(
    () => key.open(record.view, record.ranges, record.nonces, 1, new Int32Array(0)),
    (err) => err instanceof WalInvalidArgumentError,
  );
  key.destroy();
  master.destroy();
});

test('KeyRing.fromOptions refuses each bad shape with the part named', (t) => {
  const dir = tempDir(t, 'ringwal-keys-');
  const key = OTHER_KEY;
  const other = Buffer.alloc(32, 0x17);
  /** @type {[unknown, string][]} */
  const cases = [
    [undefined, 'encryption'],
    [null, 'encryption'],
    [[], 'encryption'],
    ['a string', 'encryption'],
    [{ keyId: 1 }, 'encryption.key'],
    [{ keyId: 1, key, keyFile: path.join(dir, 'x') }, 'encryption.key'],
    [{ key }, 'encryption.keyId'],
    [{ keyId: 0, key }, 'encryption.keyId'],
    [{ keyId: -1, key }, 'encryption.keyId'],
    [{ keyId: 2 ** 32, key }, 'encryption.keyId'],
    [{ keyId: 1.5, key }, 'encryption.keyId'],
    [{ keyId: '1', key }, 'encryption.keyId'],
    [{ keyId: 1n, key }, 'encryption.keyId'],
    [{ keyId: 1, key: key.subarray(0, 31) }, 'encryption.key'],
    [{ keyId: 1, key: Buffer.concat([key, key.subarray(0, 1)]) }, 'encryption.key'],
    [{ keyId: 1, key: key.toString('hex') }, 'encryption.key'],
    [{ keyId: 1, key: new Uint8Array(key).buffer }, 'encryption.key'],
    [{ keyId: 1, key: [...key] }, 'encryption.key'],
    [{ keyId: 1, keyFile: '' }, 'encryption.keyFile'],
    [{ keyId: 1, keyFile: 5 }, 'encryption.keyFile'],
    [{ keyId: 1, keyFile: key }, 'encryption.keyFile'],
    [{ keyId: 1, key, keyid: 2 }, 'encryption.keyid'],
    [{ keyId: 1, key, previousKeys: {} }, 'encryption.previousKeys'],
    [{ keyId: 1, key, previousKeys: Array.from({ length: 65 }, (_, i) => ({ keyId: i + 2, key })) }, 'encryption.previousKeys'],
    [{ keyId: 1, key, previousKeys: [null] }, 'encryption.previousKeys[0]'],
    [{ keyId: 1, key, previousKeys: [{ keyId: 1, key: other }] }, 'encryption.previousKeys[0].keyId'],
    [
      {
        keyId: 1,
        key,
        previousKeys: [
          { keyId: 2, key: other },
          { keyId: 2, key: other },
        ],
      },
      'encryption.previousKeys[1].keyId',
    ],
    [{ keyId: 1, key, previousKeys: [{ keyId: 2, key, previousKeys: [] }] }, 'encryption.previousKeys[0].previousKeys'],
    [{ keyId: 1, key, previousKeys: [{ keyId: 2 }] }, 'encryption.previousKeys[0].key'],
    [{ keyId: 1, key, previousKeys: [{ keyId: 0, key }] }, 'encryption.previousKeys[0].keyId'],
    [{ keyId: 1, key, previousKeys: [{ keyId: 2, key: key.subarray(1) }] }, 'encryption.previousKeys[0].key'],
  ];
  for (const [options, argument] of cases) {
    assert.throws(
      () => KeyRing.fromOptions(options),
      (err) => {
        assert.ok(err instanceof WalInvalidArgumentError, `${argument}: ${err}`);
        assert.equal(err.argument, argument, err.message);
        return true;
      },
      argument,
    );
  }
  // Another argument name (rotateKey's) names the parts after it.
  assert.throws(
    () => KeyRing.fromOptions({ keyId: 0, key }, 'rotateKey'),
    (err) => err instanceof WalInvalidArgumentError && err.argument === 'rotateKey.keyId',
  );
  assert.throws(
    () => parseKeySpec({ keyId: 3, key, previousKeys: [] }, 'rotateKey'),
    (err) => err instanceof WalInvalidArgumentError && err.argument === 'rotateKey.previousKeys',
  );
  assert.throws(
    () => parseKeySpec({ keyId: 3 }, 'rotateKey'),
    (err) => err instanceof WalInvalidArgumentError && err.argument === 'rotateKey.key',
  );
  assert.throws(
    () => parseKeySpec(3, 'rotateKey'),
    (err) => err instanceof WalInvalidArgumentError && err.argument === 'rotateKey',
  );
  // A key file that breaks a rule is a WalKeyFileError wherever it is named.
  const loose = keyFile(dir, 'loose.key', key, 0o644);
  throwsKeyFile(() => KeyRing.fromOptions({ keyId: 1, key, previousKeys: [{ keyId: 2, keyFile: loose }] }), loose, 'permissions');
  throwsKeyFile(() => parseKeySpec({ keyId: 2, keyFile: loose }, 'rotateKey'), loose, 'permissions');
});

test('a refused ring leaves no key it made undestroyed', () => {
  const real = loadNativeBinding();
  let live = 0;
  const counting = {
    ...real,
    /** @param {Uint8Array} bytes */
    aeadMasterKey(bytes) {
      const handle = real.aeadMasterKey(bytes);
      if (typeof handle !== 'number') live++;
      return handle;
    },
    /** @param {object} master */
    aeadMasterKeyDestroy(master) {
      live--;
      return real.aeadMasterKeyDestroy(master);
    },
  };
  const previousKeys = [
    { keyId: 2, key: Buffer.alloc(32, 2) },
    { keyId: 3, key: Buffer.alloc(32, 3) },
    { keyId: 2, key: Buffer.alloc(32, 4) },
  ];
  assert.throws(() => KeyRing.fromOptions({ keyId: 1, key: OTHER_KEY, previousKeys }, 'encryption', counting), WalInvalidArgumentError);
  assert.equal(live, 0, 'the three keys made before the duplicate were destroyed');
  const ring = KeyRing.fromOptions({ keyId: 1, key: OTHER_KEY, previousKeys: previousKeys.slice(0, 2) }, 'encryption', counting);
  assert.equal(live, 3);
  ring.destroy();
  assert.equal(live, 0);
  ring.destroy();
  assert.equal(live, 0, 'destroying twice destroys nothing twice');
});

test('a ring gives its keys by id, a missing id is WalKeyMissingError, and a rotation keeps the older keys', (t) => {
  const dir = tempDir(t, 'ringwal-keys-');
  const file = keyFile(dir, 'previous.key', Buffer.alloc(32, 9));
  const ring = KeyRing.fromOptions({
    keyId: 5,
    key: OTHER_KEY,
    previousKeys: [
      { keyId: 3, keyFile: file },
      { keyId: 0xffff_ffff, key: PATTERN_KEY },
    ],
  });
  assert.equal(ring.current.keyId, 5);
  assert.deepEqual(ring.keyIds, [3, 5, 0xffff_ffff]);
  assert.equal(ring.get(3).keyId, 3);
  assert.equal(ring.has(3), true);
  assert.equal(ring.has(4), false);
  assert.throws(
    () => ring.get(4),
    (err) => {
      assert.ok(err instanceof WalKeyMissingError);
      assert.equal(err.code, 'WAL_ERR_KEY_MISSING');
      assert.equal(err.keyId, 4);
      assert.equal(err.path, undefined);
      assert.match(err.message, /key id 4\b/);
      return true;
    },
  );
  const segment = path.join(dir, '00000000000000000001-00000001.wal');
  assert.throws(
    () => ring.get(4, segment),
    (err) => err instanceof WalKeyMissingError && err.path === segment && err.message.includes(segment) && err.keyId === 4,
  );

  const rotated = MasterKey.fromBytes(6, Buffer.alloc(32, 6));
  ring.setCurrent(rotated);
  assert.equal(ring.current, rotated);
  assert.equal(ring.get(5).keyId, 5, 'the previous current key stays for reads');
  ring.setCurrent(ring.get(5));
  assert.equal(ring.current.keyId, 5, 'a key in the ring can become current again');
  ring.add(rotated);
  assert.deepEqual(ring.keyIds, [3, 5, 6, 0xffff_ffff], 'adding the same key again changes nothing');
  const impostor = MasterKey.fromBytes(6, Buffer.alloc(32, 7));
  assert.throws(
    () => ring.add(impostor),
    (err) => err instanceof WalInvalidArgumentError && err.argument === 'keyId',
  );
  assert.throws(
    () => ring.setCurrent(impostor),
    (err) => err instanceof WalInvalidArgumentError && err.argument === 'keyId',
  );
  assert.equal(ring.current.keyId, 5);
  impostor.destroy();
  const dead = MasterKey.fromBytes(8, OTHER_KEY);
  dead.destroy();
  assert.throws(() => ring.add(dead), TypeError, 'a destroyed key is not added');
  assert.equal(ring.has(8), false);
  ring.destroy();
  assert.equal(rotated.destroyed, true, 'the ring destroyed the keys it held');
});

test('destroyed keys and rings throw a TypeError, never crash', () => {
  const master = MasterKey.fromBytes(1, OTHER_KEY);
  const { key } = master.deriveSegmentKey(randomBytes(16), 1n, 1);
  master.destroy();
  master.destroy();
  assert.equal(master.destroyed, true);
  assert.throws(() => master.deriveSegmentKey(randomBytes(16), 1n, 1), TypeError);
  const record = oneRecord(32, 1n);
  key.seal(record.view, record.ranges, record.nonces, 1);
  key.destroy();
  key.destroy();
  assert.throws(() => key.seal(record.view, record.ranges, record.nonces, 1), TypeError);
  assert.throws(() => key.open(record.view, record.ranges, record.nonces, 1, new Int32Array(1)), TypeError);
  const ring = KeyRing.fromOptions({ keyId: 1, key: OTHER_KEY });
  const current = ring.current;
  ring.destroy();
  assert.throws(() => ring.current, TypeError);
  assert.throws(() => ring.get(1), TypeError);
  assert.throws(() => ring.has(1), TypeError);
  assert.throws(() => ring.add(MasterKey.fromBytes(2, OTHER_KEY)), TypeError);
  assert.throws(() => current.deriveSegmentKey(randomBytes(16), 1n, 1), TypeError);
  assert.equal(util.inspect(ring), 'KeyRing { destroyed }');
});

test('no inspect, JSON or error message shows a byte of a key, in hex, base64 or a Buffer dump', (t) => {
  const dir = tempDir(t, 'ringwal-keys-');
  const key = PATTERN_KEY;
  const file = keyFile(dir, 'pattern.key', key);
  const ring = KeyRing.fromOptions({ keyId: 9, key, previousKeys: [{ keyId: 10, keyFile: file }] });
  const master = ring.get(10);
  const { key: segmentKey } = master.deriveSegmentKey(randomBytes(16), 1n, 1);
  /** @type {string[]} */
  const shown = [
    util.inspect(ring),
    util.inspect(ring, { showHidden: true, depth: Infinity, getters: true }),
    util.inspect(master),
    util.inspect(master, { showHidden: true, depth: Infinity, getters: true }),
    util.inspect(segmentKey, { showHidden: true, depth: Infinity }),
    util.inspect({ ring, master, segmentKey }),
    JSON.stringify(ring),
    JSON.stringify(master),
    JSON.stringify({ ring, master, segmentKey }),
    String(master),
    `${ring}`,
  ];
  assert.equal(util.inspect(master), 'MasterKey { keyId: 10 }');
  assert.equal(util.inspect(segmentKey), 'SegmentKey {}');
  assert.equal(util.inspect(ring), 'KeyRing { current: 9, keyIds: [ 9, 10 ] }');
  assert.equal(JSON.stringify(master), '{"keyId":10}');
  assert.equal(JSON.stringify(ring), '{"current":9,"keyIds":[9,10]}');
  assert.deepEqual(Object.keys(master), ['keyId'], 'no enumerable property but the key id');
  assert.deepEqual(Object.getOwnPropertyNames(master), ['keyId']);
  assert.deepEqual(Object.getOwnPropertyNames(segmentKey), []);
  assert.deepEqual(Object.getOwnPropertyNames(ring), []);

  // Errors that had the key, or a part of it, in their hands.
  const attempts = [
    () => KeyRing.fromOptions({ keyId: 1, key: key.subarray(0, 31) }),
    () => KeyRing.fromOptions({ keyId: 1, key: Buffer.concat([key, key]) }),
    () => KeyRing.fromOptions({ keyId: 1, key: key.toString('hex') }),
    () => KeyRing.fromOptions({ keyId: 1, key: key.toString('base64') }),
    () => KeyRing.fromOptions({ keyId: key, key }),
    () => KeyRing.fromOptions({ keyId: key.toString('hex'), key }),
    () => KeyRing.fromOptions({ keyId: 1, keyFile: key }),
    () => KeyRing.fromOptions({ keyId: 1, keyFile: key.toString('hex'), key }),
    () => KeyRing.fromOptions({ keyId: 1, key, previousKeys: key }),
    () => KeyRing.fromOptions({ keyId: 1, key, previousKeys: [key] }),
    () => KeyRing.fromOptions({ keyId: 1, key, previousKeys: [{ keyId: 1, key }] }),
    () => KeyRing.fromOptions(key),
    () => KeyRing.fromOptions({ keyId: 1, key, extra: key }),
    () => MasterKey.fromBytes(1, key.subarray(1)),
    () => master.deriveSegmentKey(key, 1n, 1),
    () => MasterKey.fromFile(1, keyFile(dir, 'pattern-loose.key', key, 0o640)),
    () => MasterKey.fromFile(1, keyFile(dir, 'pattern-long.key', Buffer.concat([key, key]))),
    () => ring.get(0xdead),
  ];
  for (const attempt of attempts) {
    try {
      attempt();
      assert.fail(`${attempt} did not throw`);
    } catch (err) {
      assert.ok(err instanceof WalError, `${attempt}: ${err}`);
      shown.push(err.message, String(err.stack), util.inspect(err, { showHidden: true, depth: Infinity }), JSON.stringify(err));
    }
  }

  const needles = [
    key.toString('hex'),
    key.subarray(0, 4).toString('hex'),
    key.subarray(0, 4).toString('hex').toUpperCase(),
    util.inspect(key.subarray(0, 4)).slice('<Buffer '.length, -1),
    [...key.subarray(0, 4)].join(','),
    [...key.subarray(0, 4)].join(', '),
    key.toString('base64'),
    key.subarray(0, 6).toString('base64'),
    key.subarray(0, 6).toString('base64url'),
    key.subarray(0, 4).toString('latin1'),
  ];
  for (const text of shown) {
    for (const needle of needles) assert.ok(!text.includes(needle), `${JSON.stringify(needle)} shows in: ${text}`);
  }
  segmentKey.destroy();
  ring.destroy();
});
