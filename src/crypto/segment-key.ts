/**
 * One segment's AES-256-GCM data key (docs/encryption.md "Scheme"): an opaque native handle, its
 * bytes never in JavaScript. It seals or opens a whole batch of records in place per call.
 */
import { inspect } from 'node:util';
import { WalInvalidArgumentError, WalIoError } from '../errors.js';
import { errnoName, errnoValue, type NativeBinding, type NativeHandle } from '../io/native-binding.js';

/** A batch call's failure as a typed error: -EINVAL is the caller's ranges, anything else OpenSSL's. */
function batchError(rc: number, call: string): Error {
  if (rc === -errnoValue('EINVAL')) {
    return new WalInvalidArgumentError('ranges', 'a range lies outside view, or count is above what ranges, nonces or results hold');
  }
  return new WalIoError(errnoName(rc), call);
}

/**
 * A data key, made by {@link MasterKey.deriveSegmentKey}. The record layout of `view`, `ranges`
 * (five u32 per record: AAD offset, AAD bytes, data offset, data bytes, tag offset) and `nonces`
 * (12 bytes per record) is that of docs/native-api.md "AES-256-GCM". Every range is checked
 * before any record is touched.
 */
export class SegmentKey {
  readonly #native: NativeBinding;
  #handle: NativeHandle | null;

  private constructor(native: NativeBinding, handle: NativeHandle) {
    this.#native = native;
    this.#handle = handle;
  }

  /** @internal The key of an AES-GCM handle that `native` made; the SegmentKey owns it from now on. */
  static adopt(native: NativeBinding, handle: NativeHandle): SegmentKey {
    return new SegmentKey(native, handle);
  }

  /**
   * Encrypts the data range of each of the first `count` records in place and writes its 16-byte
   * tag. A range outside `view` is WalInvalidArgumentError (nothing changed); an OpenSSL failure
   * WalIoError. Each nonce must be used once only under this key: that is the caller's to keep.
   */
  seal(view: Uint8Array, ranges: Uint32Array, nonces: Uint8Array, count: number): void {
    const rc = this.#native.aeadSealBatch(this.#live(), view, ranges, nonces, count);
    if (rc !== 0) throw batchError(rc, 'aeadSealBatch');
  }

  /**
   * Decrypts each of the first `count` records in place where its tag holds: `results[i]` is 0,
   * or -EBADMSG when record i fails authentication (its data range is then unspecified; the
   * caller names the record in a WalAuthError). Errors as for {@link SegmentKey.seal}.
   */
  open(view: Uint8Array, ranges: Uint32Array, nonces: Uint8Array, count: number, results: Int32Array): void {
    const rc = this.#native.aeadOpenBatch(this.#live(), view, ranges, nonces, count, results);
    if (rc !== 0) throw batchError(rc, 'aeadOpenBatch');
  }

  /**
   * Decrypts the first `count` records in place in the thread pool, off the event loop, and
   * resolves to how many of them, from the first, hold their tag (`count` when all do; a record
   * after a failing one may be left undecrypted). The caller must leave `view`, `ranges` and
   * `nonces` alone until it settles (ranges and nonces are copied at the call). Errors as for
   * {@link SegmentKey.seal}, as a rejection.
   */
  async openAsync(view: Uint8Array, ranges: Uint32Array, nonces: Uint8Array, count: number): Promise<number> {
    const rc = await this.#native.aeadOpenBatchAsync(this.#live(), view, ranges, nonces, count);
    if (rc < 0) throw batchError(rc, 'aeadOpenBatchAsync');
    return rc;
  }

  /**
   * {@link SegmentKey.seal} in the thread pool, off the event loop; the caller must leave the
   * records' bytes in `view` alone until it settles (ranges and nonces are copied at the call).
   */
  async sealAsync(view: Uint8Array, ranges: Uint32Array, nonces: Uint8Array, count: number): Promise<void> {
    const rc = await this.#native.aeadSealBatchAsync(this.#live(), view, ranges, nonces, count);
    if (rc !== 0) throw batchError(rc, 'aeadSealBatchAsync');
  }

  /** Cleanses the key in native memory now (the GC would only later). Calling it again does nothing. */
  destroy(): void {
    if (this.#handle === null) return;
    this.#native.aeadKeyDestroy(this.#handle);
    this.#handle = null;
  }

  [inspect.custom](): string {
    return 'SegmentKey {}';
  }

  toJSON(): Record<string, never> {
    return {};
  }

  #live(): NativeHandle {
    if (this.#handle === null) throw new TypeError('this SegmentKey was destroyed');
    return this.#handle;
  }
}
