/**
 * The options of `read` and `follow`, checked whole before anything is read: shared by the
 * writer's log and a read-only open.
 */
import { WalInvalidArgumentError } from '../errors.js';
import { RECORD_TYPE_ENCRYPTED_FLAG, U32_MAX, isSystemRecordType } from '../format/constants.js';
import { yieldEveryRecord, type RecordFilter, type WalRecord, type WalRecordHeader } from '../read/log-reader.js';
import { describe } from './options.js';

export interface ReadOptions {
  /** The first LSN to yield (default 1). */
  fromLsn?: number;
  /** Start right after the last checkpoint (from the start when there is none); not with fromLsn. */
  fromCheckpoint?: boolean;
  /** The last LSN to yield (default: the durable end when the read starts); not below fromLsn. */
  toLsn?: number;
  /**
   * The user types this reader understands. A record of a type not listed stops the read with
   * WAL_ERR_UNKNOWN_REQUIRED_TYPE when its required bit (0x8000) is set and is skipped when not.
   * Without it every user record is yielded.
   */
  knownTypes?: readonly number[];
  /** Yield only records of these types (applied after knownTypes). */
  types?: readonly number[];
  tenants?: readonly number[];
  databases?: readonly number[];
  /** false: yield headers only (payloadSizeBytes, no payload copied). Default true. */
  payloads?: boolean;
  /**
   * Skips the user records of tombstoned collections: called with each record that passed the
   * other filters, it returns the record's collection (or null for none); a record of tenant T and
   * collection C with an LSN below C's purge LSN is skipped. The tombstones are read from the log
   * when the read starts (not with follow, whose tombstones may come later).
   */
  skipTombstoned?: CollectionOf;
  /**
   * Aborting it stops the read at its next record with an AbortError (WalAbortError, `cause` the
   * signal's reason), as Node's own iterators do; the read's files are released.
   */
  signal?: AbortSignal;
}

export interface FollowOptions extends ReadOptions {
  /**
   * Aborting it ends the follower cleanly (its loop sees the end of the iteration), unlike read:
   * a follower never ends by itself, so aborting is how it is meant to stop.
   */
  signal?: AbortSignal;
}

/** `options` without its `signal`, and the signal, checked. */
export function splitSignal<T extends ReadOptions>(options: T | undefined): { signal: AbortSignal | null; rest: T | undefined } {
  if (typeof options !== 'object' || options === null || !('signal' in options)) return { signal: null, rest: options };
  const { signal, ...rest } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new WalInvalidArgumentError('signal', `must be an AbortSignal, got ${describe(signal)}`);
  return { signal: signal ?? null, rest: rest as T };
}

/** Values in one filter list of a read (knownTypes, types, tenants, databases). */
export const READ_FILTER_VALUES_MAX = 65_536;

export function userTypeError(type: unknown): string | null {
  if (!Number.isInteger(type) || (type as number) < 1 || (type as number) > U32_MAX) return `must be an integer in [1, 2^32), got ${describe(type)}`;
  if (((type as number) & RECORD_TYPE_ENCRYPTED_FLAG) !== 0) return `bit 14 (0x4000) is ringwal's encryption flag, got ${describe(type)}`;
  if (isSystemRecordType(type as number)) return `0xFFFF0000 and above are ringwal's own record types, got ${describe(type)}`;
  return null;
}

function valueSet(argument: string, values: unknown, check: (value: unknown) => string | null): ReadonlySet<number> | null {
  if (values === undefined) return null;
  if (!Array.isArray(values)) throw new WalInvalidArgumentError(argument, `must be an array, got ${describe(values)}`);
  if (values.length > READ_FILTER_VALUES_MAX) throw new WalInvalidArgumentError(argument, `at most ${READ_FILTER_VALUES_MAX} values, got ${values.length}`);
  for (let i = 0; i < values.length; i++) {
    const why = check(values[i]);
    if (why !== null) throw new WalInvalidArgumentError(`${argument}[${i}]`, why);
  }
  return new Set(values as number[]);
}

const safeIdError = (value: unknown): string | null =>
  Number.isSafeInteger(value) && (value as number) >= 0 ? null : `must be a non-negative safe integer, got ${describe(value)}`;

export function lsnOption(argument: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || (value as number) < 0)
    throw new WalInvalidArgumentError(argument, `must be a non-negative safe integer, got ${describe(value)}`);
  return value as number;
}

/** Checks read options whole, before anything is read. */
export function readPlanOf(options: ReadOptions | undefined): {
  fromLsn: number;
  fromCheckpoint: boolean;
  filter: RecordFilter;
  skipTombstoned: CollectionOf | null;
} {
  if (options === undefined) return { fromLsn: 1, fromCheckpoint: false, filter: yieldEveryRecord, skipTombstoned: null };
  if (typeof options !== 'object' || options === null) throw new WalInvalidArgumentError('read options', `must be an object, got ${describe(options)}`);
  for (const key of Object.keys(options)) {
    if (!READ_OPTION_NAMES.has(key)) throw new WalInvalidArgumentError(key, `is not a read option (${[...READ_OPTION_NAMES].join(', ')})`);
  }
  const fromLsn = lsnOption('fromLsn', options.fromLsn, 1);
  const toLsn = lsnOption('toLsn', options.toLsn, Number.MAX_SAFE_INTEGER);
  if (toLsn < fromLsn) throw new WalInvalidArgumentError('toLsn', `${toLsn} is below fromLsn ${fromLsn}`);
  if (options.payloads !== undefined && typeof options.payloads !== 'boolean')
    throw new WalInvalidArgumentError('payloads', `must be a boolean, got ${describe(options.payloads)}`);
  if (options.skipTombstoned !== undefined && typeof options.skipTombstoned !== 'function')
    throw new WalInvalidArgumentError('skipTombstoned', `must be a function from a record to its collection name, got ${describe(options.skipTombstoned)}`);
  if (options.fromCheckpoint !== undefined && typeof options.fromCheckpoint !== 'boolean')
    throw new WalInvalidArgumentError('fromCheckpoint', `must be a boolean, got ${describe(options.fromCheckpoint)}`);
  if (options.fromCheckpoint === true && options.fromLsn !== undefined) throw new WalInvalidArgumentError('fromCheckpoint', 'cannot go with fromLsn');
  return {
    fromLsn,
    fromCheckpoint: options.fromCheckpoint === true,
    skipTombstoned: options.skipTombstoned ?? null,
    filter: {
      toLsn,
      knownTypes: valueSet('knownTypes', options.knownTypes, userTypeError),
      types: valueSet('types', options.types, userTypeError),
      tenants: valueSet('tenants', options.tenants, safeIdError),
      databases: valueSet('databases', options.databases, safeIdError),
      payloads: options.payloads ?? true,
      skip: null,
      systemTypes: null,
    },
  };
}

/** What `skipTombstoned` gets: a user record; what it returns: the record's collection, if it has one. */
export type CollectionOf = (record: WalRecord | WalRecordHeader) => string | null | undefined;

const READ_OPTION_NAMES: ReadonlySet<string> = new Set([
  'fromLsn',
  'fromCheckpoint',
  'toLsn',
  'knownTypes',
  'types',
  'tenants',
  'databases',
  'payloads',
  'skipTombstoned',
]);

/** Checks follow options whole: the read options (not skipTombstoned) and a signal. */
export function followPlanOf(options: FollowOptions | undefined): {
  fromLsn: number;
  fromCheckpoint: boolean;
  filter: RecordFilter;
  signal: AbortSignal | undefined;
} {
  const { signal, rest } = splitSignal(options);
  const { fromLsn, fromCheckpoint, filter, skipTombstoned } = readPlanOf(rest);
  if (skipTombstoned !== null) throw new WalInvalidArgumentError('skipTombstoned', 'is for read: a follower may see a tombstone after the records it purges');
  return { fromLsn, fromCheckpoint, filter, signal: signal ?? undefined };
}
