/**
 * A master key and its id (docs/encryption.md "Keys"): its 32 bytes live in native memory
 * (mlock'ed where RLIMIT_MEMLOCK allows, cleansed on destroy) and are used only to derive each
 * segment's data key, inside C. JavaScript holds an opaque handle and the key id, nothing else.
 */
import { inspect } from 'node:util';
import { WalInvalidArgumentError, WalIoError } from '../errors.js';
import { errnoName, loadNativeBinding, type NativeBinding, type NativeBindingOption, type NativeHandle } from '../io/native-binding.js';
import { KEY_CHECK_BYTES, RECORD_KEY_INFO_LABEL, SEGMENT_SALT_BYTES } from './constants.js';
import { checkKeyBytes, checkKeyId, describeSafely } from './key-arguments.js';
import { readKeyFile } from './key-file.js';
import { SegmentKey } from './segment-key.js';

const U64_MAX = (1n << 64n) - 1n;
const U32_MAX = 0xffff_ffff;
const LABEL_BYTES = Buffer.from(RECORD_KEY_INFO_LABEL, 'utf8');

/** The HKDF info of a segment's data key: the label ‖ logId (u64 LE) ‖ segmentId (u32 LE). */
function recordKeyInfo(logId: bigint, segmentId: number): Uint8Array {
  const info = new Uint8Array(LABEL_BYTES.byteLength + 8 + 4);
  info.set(LABEL_BYTES, 0);
  const view = new DataView(info.buffer);
  view.setBigUint64(LABEL_BYTES.byteLength, logId, true);
  view.setUint32(LABEL_BYTES.byteLength + 8, segmentId, true);
  return info;
}

/** A master key. `util.inspect` and `JSON.stringify` show its key id only. */
export class MasterKey {
  /** The id segment headers name this key by, in [1, 0xFFFF_FFFF]. */
  readonly keyId: number;
  readonly #native: NativeBinding;
  #handle: NativeHandle | null;

  private constructor(keyId: number, native: NativeBinding, handle: NativeHandle) {
    this.keyId = keyId;
    this.#native = native;
    this.#handle = handle;
  }

  /**
   * The key of `bytes` (exactly 32), copied into native memory: the caller should zero its own
   * copy. `nativeBinding` is the addon to use (as Wal.open's option of that name).
   */
  static fromBytes(keyId: number, bytes: Uint8Array, nativeBinding?: NativeBindingOption): MasterKey {
    checkKeyId(keyId, 'keyId');
    checkKeyBytes(bytes, 'key');
    const native = loadNativeBinding(nativeBinding);
    const handle = native.aeadMasterKey(bytes);
    if (typeof handle === 'number') throw new WalIoError(errnoName(handle), 'aeadMasterKey');
    return new MasterKey(keyId, native, handle);
  }

  /**
   * The key in the file at `path`, which must keep the key file rules (src/crypto/key-file.ts;
   * each broken rule a WalKeyFileError). The bytes read are zeroed once native memory holds them.
   */
  static fromFile(keyId: number, path: string, nativeBinding?: NativeBindingOption): MasterKey {
    checkKeyId(keyId, 'keyId');
    const bytes = readKeyFile(path);
    try {
      return MasterKey.fromBytes(keyId, bytes, nativeBinding);
    } finally {
      bytes.fill(0);
    }
  }

  /** True once {@link MasterKey.destroy} ran: every other call then throws a TypeError. */
  get destroyed(): boolean {
    return this.#handle === null;
  }

  /**
   * The data key of segment `segmentId` of log `logId`: HKDF-SHA256(this key, `salt` (16 random
   * bytes), "ringwal/v6/record" ‖ logId u64 LE ‖ segmentId u32 LE), and its key check value (the
   * first 16 bytes of HMAC-SHA256(data key, "ringwal/v6/key-check")) for the segment header.
   */
  deriveSegmentKey(salt: Uint8Array, logId: bigint, segmentId: number): { key: SegmentKey; keyCheck: Uint8Array } {
    if (!(salt instanceof Uint8Array) || salt.byteLength !== SEGMENT_SALT_BYTES) {
      throw new WalInvalidArgumentError('salt', `must be a Uint8Array of ${SEGMENT_SALT_BYTES} bytes, got ${describeSafely(salt)}`);
    }
    if (typeof logId !== 'bigint' || logId < 0n || logId > U64_MAX) {
      throw new WalInvalidArgumentError('logId', `must be a bigint in [0, 2^64 - 1], got ${describeSafely(logId)}`);
    }
    if (!Number.isInteger(segmentId) || segmentId < 0 || segmentId > U32_MAX) {
      throw new WalInvalidArgumentError('segmentId', `must be an integer in [0, ${U32_MAX}], got ${describeSafely(segmentId)}`);
    }
    const keyCheck = new Uint8Array(KEY_CHECK_BYTES);
    const handle = this.#native.aeadDeriveKey(this.#live(), salt, recordKeyInfo(logId, segmentId), keyCheck);
    if (typeof handle === 'number') throw new WalIoError(errnoName(handle), 'aeadDeriveKey');
    return { key: SegmentKey.adopt(this.#native, handle), keyCheck };
  }

  /** Cleanses the key in native memory now. Calling it again does nothing; keys derived before stay usable. */
  destroy(): void {
    if (this.#handle === null) return;
    this.#native.aeadMasterKeyDestroy(this.#handle);
    this.#handle = null;
  }

  [inspect.custom](): string {
    return `MasterKey { keyId: ${this.keyId} }`;
  }

  toJSON(): { keyId: number } {
    return { keyId: this.keyId };
  }

  #live(): NativeHandle {
    if (this.#handle === null) throw new TypeError(`MasterKey ${this.keyId} was destroyed`);
    return this.#handle;
  }
}
