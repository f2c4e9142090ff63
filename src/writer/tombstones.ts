/**
 * Collection tombstones and temporal purges (docs/format.md, "ringwal's own records").
 *
 * A tombstone says: the records of collection C of tenant T below LSN P are dead. A temporal
 * purge says: the records of C of T older than a wall-clock cutoff are dead. Both are records of
 * ringwal's own types, appended and made durable like any other (so a tombstone is durable when
 * its promise resolves, and a crash keeps exactly the acknowledged ones); they are never yielded as
 * user records. The set is rebuilt from the log by a scan that copies only these records' payloads,
 * and the largest purge LSN (or cutoff) per tenant and collection wins whatever the order of the
 * records, so two purges of one collection may arrive in either order.
 *
 * Payloads (little-endian): tombstone `nameLength u32, name (UTF-8), purgeLsn u64`; temporal
 * purge `nameLength u32, name (UTF-8), cutoffMs f64` (an integer number of ms since the epoch).
 * The tenant is the record header's.
 */
import { WalCorruptionError, WalInvalidArgumentError } from '../errors.js';
import { LSN_MAX } from '../format/constants.js';
import { getU64, setU64 } from '../format/u64.js';

/** A collection name is at most this many bytes of UTF-8. */
export const COLLECTION_NAME_BYTES_MAX = 255;

export interface TombstoneEntry {
  tenant: number;
  collection: string;
  /** Records of the collection with an LSN below this one are purged. */
  purgeLsn: number;
}

export interface TemporalPurgeEntry {
  tenant: number;
  collection: string;
  /** Records of the collection older than this wall-clock time (ms since the epoch) are purged. */
  cutoffMs: number;
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value).slice(0, 40) : String(value);
}

export function checkTenant(tenant: unknown): number {
  if (!Number.isSafeInteger(tenant) || (tenant as number) < 0)
    throw new WalInvalidArgumentError('tenant', `must be a non-negative safe integer, got ${describe(tenant)}`);
  return tenant as number;
}

export function collectionBytes(collection: unknown): Buffer {
  if (typeof collection !== 'string') throw new WalInvalidArgumentError('collection', `must be a string, got ${describe(collection)}`);
  const bytes = Buffer.from(collection, 'utf8');
  if (bytes.byteLength === 0 || bytes.byteLength > COLLECTION_NAME_BYTES_MAX) {
    throw new WalInvalidArgumentError('collection', `must be 1 to ${COLLECTION_NAME_BYTES_MAX} bytes of UTF-8, got ${bytes.byteLength}`);
  }
  if (bytes.toString('utf8') !== collection)
    throw new WalInvalidArgumentError('collection', 'must be valid UTF-16 (no lone surrogates), so that it survives UTF-8');
  return bytes;
}

/** The payload of a tombstone or temporal purge: the name, then an 8-byte value. */
function encode(name: Buffer, writeValue: (view: DataView, at: number) => void): Buffer {
  const payload = Buffer.alloc(4 + name.byteLength + 8);
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  view.setUint32(0, name.byteLength, true);
  name.copy(payload, 4);
  writeValue(view, 4 + name.byteLength);
  return payload;
}

export function encodeTombstone(name: Buffer, purgeLsn: number): Buffer {
  return encode(name, (view, at) => setU64(view, at, purgeLsn));
}

export function encodeTemporalPurge(name: Buffer, cutoffMs: number): Buffer {
  return encode(name, (view, at) => view.setFloat64(at, cutoffMs, true));
}

/** The name and the value's offset of a payload, or a CORRUPT error naming the record: its CRC held, so the writer wrote it so. */
function decodeName(payload: Uint8Array, what: string, lsn: number): { collection: string; valueAt: number; view: DataView } {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const nameBytes = payload.byteLength >= 4 ? view.getUint32(0, true) : -1;
  if (nameBytes < 1 || nameBytes > COLLECTION_NAME_BYTES_MAX || payload.byteLength !== 4 + nameBytes + 8) {
    throw new WalCorruptionError('(log)', 0, `the ${what} record at LSN ${lsn} has a malformed payload of ${payload.byteLength} bytes`, lsn);
  }
  return { collection: Buffer.from(payload.buffer, payload.byteOffset + 4, nameBytes).toString('utf8'), valueAt: 4 + nameBytes, view };
}

/** Every tombstone and temporal purge of a log, the largest value per tenant and collection. */
export class TombstoneSet {
  private readonly purgeLsns = new Map<string, TombstoneEntry>();
  private readonly cutoffs = new Map<string, TemporalPurgeEntry>();

  private static key(tenant: number, collection: string): string {
    return `${tenant}\u0000${collection}`;
  }

  addTombstone(tenant: number, payload: Uint8Array, lsn: number): void {
    const { collection, valueAt, view } = decodeName(payload, 'tombstone', lsn);
    const purgeLsn = getU64(view, valueAt);
    if (purgeLsn > LSN_MAX) throw new WalCorruptionError('(log)', 0, `the tombstone at LSN ${lsn} has purge LSN ${purgeLsn} beyond 2^53 − 1`, lsn);
    const key = TombstoneSet.key(tenant, collection);
    const known = this.purgeLsns.get(key);
    if (known === undefined || known.purgeLsn < purgeLsn) this.purgeLsns.set(key, { tenant, collection, purgeLsn });
  }

  addTemporalPurge(tenant: number, payload: Uint8Array, lsn: number): void {
    const { collection, valueAt, view } = decodeName(payload, 'temporal purge', lsn);
    const cutoffMs = view.getFloat64(valueAt, true);
    if (!Number.isSafeInteger(cutoffMs))
      throw new WalCorruptionError('(log)', 0, `the temporal purge at LSN ${lsn} has cutoff ${cutoffMs}, not an integer`, lsn);
    const key = TombstoneSet.key(tenant, collection);
    const known = this.cutoffs.get(key);
    if (known === undefined || known.cutoffMs < cutoffMs) this.cutoffs.set(key, { tenant, collection, cutoffMs });
  }

  /** The purge LSN of a collection, or undefined when it has no tombstone. */
  purgeLsn(tenant: number, collection: string): number | undefined {
    return this.purgeLsns.get(TombstoneSet.key(tenant, collection))?.purgeLsn;
  }

  /** Whether the record at `lsn` of the collection lies below its tombstone's purge LSN. */
  isTombstoned(tenant: number, collection: string, lsn: number): boolean {
    const purgeLsn = this.purgeLsn(tenant, collection);
    return purgeLsn !== undefined && lsn < purgeLsn;
  }

  /** The temporal cutoff of a collection, or undefined. */
  cutoffMs(tenant: number, collection: string): number | undefined {
    return this.cutoffs.get(TombstoneSet.key(tenant, collection))?.cutoffMs;
  }

  get tombstones(): TombstoneEntry[] {
    return [...this.purgeLsns.values()].map((e) => ({ ...e }));
  }

  get temporalPurges(): TemporalPurgeEntry[] {
    return [...this.cutoffs.values()].map((e) => ({ ...e }));
  }
}
