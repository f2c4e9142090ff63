/**
 * A key as the options give it, `{ keyId, key | keyFile }` (Wal.open's `encryption` and each of its
 * `previousKeys`, and `rotateKey`), checked and turned into a MasterKey.
 */
import { WalInvalidArgumentError } from '../errors.js';
import type { NativeBindingOption } from '../io/native-binding.js';
import { checkKeyBytes, checkKeyId, checkNames, checkObject, describeSafely } from './key-arguments.js';
import { MasterKey } from './master-key.js';

/** The names of a key spec. */
export const KEY_SPEC_NAMES: ReadonlySet<string> = new Set(['keyId', 'key', 'keyFile']);

/**
 * The master key `value` gives: an object with `keyId` (an integer in [1, 0xFFFF_FFFF]) and
 * exactly one of `key` (a Buffer or Uint8Array of 32 bytes, copied) and `keyFile` (the path of a
 * key file, read by the rules of src/crypto/key-file.ts). A bad shape is WalInvalidArgumentError
 * naming the part (`${argumentName}.keyId`, `${argumentName}.key`, ...); a bad key file is
 * WalKeyFileError.
 */
export function parseKeySpec(value: unknown, argumentName: string, nativeBinding?: NativeBindingOption): MasterKey {
  const spec = checkObject(value, argumentName, '{ keyId, key | keyFile }');
  checkNames(spec, KEY_SPEC_NAMES, argumentName);
  return masterKeyOf(spec, argumentName, nativeBinding);
}

/** parseKeySpec of an object whose names the caller checked already (it may hold more than a key spec's). */
export function masterKeyOf(spec: Record<string, unknown>, argumentName: string, nativeBinding?: NativeBindingOption): MasterKey {
  const keyId = checkKeyId(spec.keyId, `${argumentName}.keyId`);
  const { key, keyFile } = spec;
  if ((key === undefined) === (keyFile === undefined)) {
    throw new WalInvalidArgumentError(`${argumentName}.key`, `give exactly one of ${argumentName}.key and ${argumentName}.keyFile`);
  }
  if (key !== undefined) return MasterKey.fromBytes(keyId, checkKeyBytes(key, `${argumentName}.key`), nativeBinding);
  if (typeof keyFile !== 'string' || keyFile.length === 0) {
    throw new WalInvalidArgumentError(`${argumentName}.keyFile`, `must be the path of a key file, got ${describeSafely(keyFile)}`);
  }
  return MasterKey.fromFile(keyId, keyFile, nativeBinding);
}
