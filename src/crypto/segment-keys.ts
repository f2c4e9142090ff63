/**
 * The data keys of segments (docs/encryption.md, "Scheme"): one per segment, derived from a
 * master key of the ring and the segment's random salt, and checked against the key check value
 * in its header before any record of it is read, so a wrong key is told from damage.
 *
 * A writer gets the key of a segment it begins (`begin`: a fresh salt each time, rule 1 of the
 * nonce argument); readers, recovery and truncation get the key of a segment they read
 * (`forSegment`). Keys are cached per segment, a bounded number of them.
 */
import { timingSafeEqual } from 'node:crypto';
import { WalAuthError, WalInvalidArgumentError, WalKeyMissingError } from '../errors.js';
import { SEGMENT_SALT_BYTES } from '../format/constants.js';
import type { RecordCipher } from '../format/record.js';
import type { SegmentCrypto, SegmentHeader } from '../format/segment-header.js';
import type { Io } from '../io/io.js';
import type { KeyRing } from './key-ring.js';
import type { MasterKey } from './master-key.js';
import type { SegmentKey } from './segment-key.js';

/** Segment keys kept at once; a log with more segments than this derives a key again when it reads one that dropped out. */
export const SEGMENT_KEYS_CACHED_MAX = 256;

interface CachedKey {
  keyId: number;
  salt: Uint8Array;
  key: SegmentKey;
}

export class SegmentKeys {
  private readonly cache = new Map<number, CachedKey>();
  private destroyed = false;

  /** `ring` null: the log is opened without keys (an encrypted segment is then WAL_ERR_KEY_MISSING). */
  constructor(private readonly ring: KeyRing | null) {}

  /** Whether segments this writer begins are encrypted. */
  get encrypting(): boolean {
    return this.ring !== null;
  }

  /**
   * The crypto area and key of a segment this process begins now, under the ring's current key
   * with a salt never used before (drawn through `io`: the simulator draws it from its seed).
   * Null when the log is not encrypted. `keyId`: a master key of the ring other than the current
   * one (a cut's replacement keeps the key of the segment it replaces).
   */
  begin(io: Io, logId: bigint, segmentId: number, keyId?: number): { crypto: SegmentCrypto; cipher: RecordCipher } | null {
    const ring = this.ring;
    if (ring === null) return null;
    const master = keyId === undefined ? ring.current : ring.get(keyId);
    const salt = new Uint8Array(SEGMENT_SALT_BYTES);
    io.randomFill(salt);
    const { key, keyCheck } = master.deriveSegmentKey(salt, logId, segmentId);
    this.remember(segmentId, { keyId: master.keyId, salt, key });
    return { crypto: { keyId: master.keyId, salt, keyCheck }, cipher: key };
  }

  /**
   * The key of the records of the segment at `path`, or null when it is plaintext. Throws
   * WalKeyMissingError when its key id is not in the ring, and WalAuthError when the key given
   * under that id is not the one it was written with (its key check differs).
   */
  forSegment(path: string, header: SegmentHeader): RecordCipher | null {
    const crypto = header.crypto;
    if (crypto === null) return null;
    const cached = this.cache.get(header.segmentId);
    if (cached !== undefined && cached.keyId === crypto.keyId && equalBytes(cached.salt, crypto.salt)) return cached.key;
    if (this.ring === null || !this.ring.has(crypto.keyId)) throw new WalKeyMissingError(crypto.keyId, path);
    const { key, keyCheck } = this.ring.get(crypto.keyId).deriveSegmentKey(crypto.salt, header.logId, header.segmentId);
    if (!timingSafeEqual(keyCheck, crypto.keyCheck)) {
      key.destroy();
      throw new WalAuthError(
        path,
        header.firstLsn,
        `the key given as key id ${crypto.keyId} is not the one the segment was written with (its key check differs)`,
      );
    }
    this.remember(header.segmentId, { keyId: crypto.keyId, salt: crypto.salt.slice(), key });
    return key;
  }

  /**
   * Makes `master` the key of the segments begun from now on (rotateKey); the one it replaces
   * stays in the ring for reads. A key id already in the ring is refused: a new key needs a new
   * id, or segments written under the two could not be told apart.
   */
  rotate(master: MasterKey): void {
    const ring = this.ring;
    if (ring === null) throw new WalInvalidArgumentError('rotateKey', 'the log is not encrypted: open it with the encryption option first');
    if (ring.has(master.keyId)) throw new WalInvalidArgumentError('keyId', `key id ${master.keyId} is already in the key ring: a new key needs a new id`);
    ring.add(master);
    ring.setCurrent(master);
  }

  /** Undoes a rotation whose segment could not be begun (nothing was written under `master`). */
  unrotate(master: MasterKey, previous: MasterKey): void {
    const ring = this.ring!;
    ring.setCurrent(previous);
    ring.remove(master.keyId);
  }

  /** The key segments begun now are encrypted under (null: the log is not encrypted). */
  get current(): MasterKey | null {
    return this.ring?.current ?? null;
  }

  private remember(segmentId: number, entry: CachedKey): void {
    if (this.destroyed) {
      entry.key.destroy();
      return;
    }
    this.cache.delete(segmentId);
    // A key that drops out is left to the GC, which cleanses it: a reader may still hold it.
    if (this.cache.size >= SEGMENT_KEYS_CACHED_MAX) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(segmentId, entry);
  }

  /** Cleanses every cached key and the ring's master keys (close: nothing reads any more). */
  destroy(): void {
    this.destroyed = true;
    for (const entry of this.cache.values()) entry.key.destroy();
    this.cache.clear();
    this.ring?.destroy();
  }
}

/**
 * The key of the records of the segment at `path`, or null when it is plaintext; an encrypted
 * segment read without keys is WAL_ERR_KEY_MISSING.
 */
export function segmentCipher(keys: SegmentKeys | null | undefined, path: string, header: SegmentHeader): RecordCipher | null {
  if (header.crypto === null) return null;
  if (keys === null || keys === undefined) throw new WalKeyMissingError(header.crypto.keyId, path);
  return keys.forSegment(path, header);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && timingSafeEqual(a, b);
}
