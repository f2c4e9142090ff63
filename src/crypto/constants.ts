/**
 * The sizes and limits of ringwal's key material (docs/encryption.md "Scheme" and "Keys"), each
 * with its reason.
 */

/** A master key is AES-256 strength: HKDF-SHA256's input key material of 32 bytes. */
export const MASTER_KEY_BYTES = 32;
/** The salt and key check sizes are the segment header's (docs/format.md). */
export { SEGMENT_SALT_BYTES, SEGMENT_KEY_CHECK_BYTES as KEY_CHECK_BYTES } from '../format/constants.js';
/** 0 is not a key id: a segment header's crypto area writes 0 for "not encrypted". */
export const KEY_ID_MIN = 1;
/** The crypto area's key id field is a u32. */
export const KEY_ID_MAX = 0xffff_ffff;
/**
 * 64 older keys at most: each key holds an mlock'ed page of RLIMIT_MEMLOCK (8 MiB by default), and
 * a log with more generations of keys than that should re-encrypt or drop its older segments.
 */
export const PREVIOUS_KEYS_MAX = 64;
/** The HKDF info of a segment's data key starts with this label, then the log id and the segment id. */
export const RECORD_KEY_INFO_LABEL = 'ringwal/v6/record';
