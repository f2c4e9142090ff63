/**
 * Argument checks shared by the key classes. A description of a wrong value names its type and
 * size only, never its contents: the value may be a key given in the wrong place.
 */
import { WalInvalidArgumentError } from '../errors.js';
import { KEY_ID_MAX, KEY_ID_MIN, MASTER_KEY_BYTES } from './constants.js';

/** What `value` is, without any of its bytes or characters (numbers, which are not keys, are shown). */
export function describeSafely(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'undefined') return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return `a string of ${value.length} characters`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} of ${value.byteLength} bytes`;
  if (value instanceof ArrayBuffer) return `an ArrayBuffer of ${value.byteLength} bytes`;
  if (Array.isArray(value)) return `an array of ${value.length} items`;
  if (typeof value === 'function') return 'a function';
  return 'an object';
}

export function checkKeyId(value: unknown, argument: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < KEY_ID_MIN || value > KEY_ID_MAX) {
    throw new WalInvalidArgumentError(argument, `must be an integer in [${KEY_ID_MIN}, ${KEY_ID_MAX}], got ${describeSafely(value)}`);
  }
  return value;
}

export function checkKeyBytes(value: unknown, argument: string): Uint8Array {
  if (!(value instanceof Uint8Array) || value.byteLength !== MASTER_KEY_BYTES) {
    throw new WalInvalidArgumentError(argument, `must be a Buffer or Uint8Array of ${MASTER_KEY_BYTES} bytes, got ${describeSafely(value)}`);
  }
  return value;
}

/** A plain object (not null, not an array), or WalInvalidArgumentError naming `what` it should hold. */
export function checkObject(value: unknown, argument: string, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new WalInvalidArgumentError(argument, `must be an object ${what}, got ${describeSafely(value)}`);
  }
  return value as Record<string, unknown>;
}

/** Every own name of `object` must be among `names`. */
export function checkNames(object: Record<string, unknown>, names: ReadonlySet<string>, argument: string): void {
  for (const name of Object.keys(object)) {
    if (!names.has(name)) throw new WalInvalidArgumentError(`${argument}.${name}`, `is not an option here (these are: ${[...names].join(', ')})`);
  }
}
