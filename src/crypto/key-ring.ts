/**
 * The master keys a log knows (docs/encryption.md "Keys"): the current one, which new segments are
 * encrypted under, and older ones, which keep older segments readable. Each is named by its key id.
 */
import { inspect } from 'node:util';
import { WalInvalidArgumentError, WalKeyMissingError } from '../errors.js';
import type { NativeBindingOption } from '../io/native-binding.js';
import { PREVIOUS_KEYS_MAX } from './constants.js';
import { checkNames, checkObject, describeSafely } from './key-arguments.js';
import { KEY_SPEC_NAMES, masterKeyOf, parseKeySpec } from './key-spec.js';
import type { MasterKey } from './master-key.js';

const ENCRYPTION_OPTION_NAMES: ReadonlySet<string> = new Set([...KEY_SPEC_NAMES, 'previousKeys']);

/**
 * The keys of one log. The ring owns its keys: {@link KeyRing.destroy} destroys every one. After
 * that, every call throws a TypeError. `util.inspect` and `JSON.stringify` show key ids only.
 */
export class KeyRing {
  readonly #keys = new Map<number, MasterKey>();
  #current: MasterKey;
  #destroyed = false;

  private constructor(current: MasterKey) {
    this.#current = current;
    this.#keys.set(current.keyId, current);
  }

  /**
   * The ring that Wal.open's `encryption` option gives: `{ keyId, key | keyFile, previousKeys? }`,
   * `previousKeys` a list of at most 64 `{ keyId, key | keyFile }`, every key id different. A bad
   * shape is WalInvalidArgumentError naming the part (`encryption.previousKeys[2].keyId`); no key
   * made before it is left undestroyed.
   */
  static fromOptions(encryption: unknown, argumentName = 'encryption', nativeBinding?: NativeBindingOption): KeyRing {
    const options = checkObject(encryption, argumentName, '{ keyId, key | keyFile, previousKeys? }');
    checkNames(options, ENCRYPTION_OPTION_NAMES, argumentName);
    const { previousKeys } = options;
    if (previousKeys !== undefined && !Array.isArray(previousKeys)) {
      throw new WalInvalidArgumentError(`${argumentName}.previousKeys`, `must be an array of { keyId, key | keyFile }, got ${describeSafely(previousKeys)}`);
    }
    const previous: unknown[] = previousKeys ?? [];
    if (previous.length > PREVIOUS_KEYS_MAX) {
      throw new WalInvalidArgumentError(`${argumentName}.previousKeys`, `holds ${previous.length} keys, more than ${PREVIOUS_KEYS_MAX}`);
    }
    const ring = new KeyRing(masterKeyOf(options, argumentName, nativeBinding));
    try {
      previous.forEach((spec, i) => {
        const name = `${argumentName}.previousKeys[${i}]`;
        const key = parseKeySpec(spec, name, nativeBinding);
        if (ring.#keys.has(key.keyId)) {
          key.destroy();
          throw new WalInvalidArgumentError(`${name}.keyId`, `key id ${key.keyId} is given twice`);
        }
        ring.#keys.set(key.keyId, key);
      });
    } catch (err) {
      ring.destroy();
      throw err;
    }
    return ring;
  }

  /** The key new segments are encrypted under. */
  get current(): MasterKey {
    this.#checkLive();
    return this.#current;
  }

  /** The ids of every key in the ring, in ascending order. */
  get keyIds(): number[] {
    this.#checkLive();
    return [...this.#keys.keys()].sort((a, b) => a - b);
  }

  /** The key of `keyId`, or WalKeyMissingError; `path` names the segment encrypted under it. */
  get(keyId: number, path?: string): MasterKey {
    this.#checkLive();
    const key = this.#keys.get(keyId);
    if (key === undefined) throw new WalKeyMissingError(keyId, path);
    return key;
  }

  has(keyId: number): boolean {
    this.#checkLive();
    return this.#keys.has(keyId);
  }

  /**
   * Adds `masterKey`, which the ring then owns. Adding the same key again does nothing; another
   * key with an id already in the ring is WalInvalidArgumentError (two keys under one id would
   * make segments unreadable).
   */
  add(masterKey: MasterKey): void {
    this.#checkLive();
    if (masterKey.destroyed) throw new TypeError(`MasterKey ${masterKey.keyId} was destroyed`);
    const held = this.#keys.get(masterKey.keyId);
    if (held === masterKey) return;
    if (held !== undefined) throw new WalInvalidArgumentError('keyId', `key id ${masterKey.keyId} is in the key ring already`);
    this.#keys.set(masterKey.keyId, masterKey);
  }

  /**
   * Makes `masterKey` the current key (a rotation), adding it first as {@link KeyRing.add} does.
   * The previous current key stays in the ring, so the segments under it stay readable.
   */
  setCurrent(masterKey: MasterKey): void {
    this.add(masterKey);
    this.#current = masterKey;
  }

  /**
   * Takes `keyId` out of the ring and destroys its key (a rotation whose segment could not be
   * begun: nothing was written under it). The current key cannot be removed.
   */
  remove(keyId: number): void {
    this.#checkLive();
    const key = this.#keys.get(keyId);
    if (key === undefined) return;
    if (key === this.#current) throw new WalInvalidArgumentError('keyId', `key id ${keyId} is the current key`);
    this.#keys.delete(keyId);
    key.destroy();
  }

  /** Destroys every key of the ring (cleansing its native memory). Calling it again does nothing. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const key of this.#keys.values()) key.destroy();
    this.#keys.clear();
  }

  [inspect.custom](): string {
    if (this.#destroyed) return 'KeyRing { destroyed }';
    return `KeyRing { current: ${this.#current.keyId}, keyIds: [ ${this.keyIds.join(', ')} ] }`;
  }

  toJSON(): { current: number; keyIds: number[] } | { destroyed: true } {
    if (this.#destroyed) return { destroyed: true };
    return { current: this.#current.keyId, keyIds: this.keyIds };
  }

  #checkLive(): void {
    if (this.#destroyed) throw new TypeError('this KeyRing was destroyed');
  }
}
