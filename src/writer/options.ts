/**
 * Options of Wal.open, checked and defaulted in one place with a clear message per mistake.
 * Every limit has a maximum and the reason for it.
 */
import { WalInvalidArgumentError } from '../errors.js';
import { BLOCK_SIZE_BYTES_DEFAULT, RECORD_HEADER_SIZE_BYTES, RECORD_PAYLOAD_BYTES_LIMIT, RECORD_TAG_BYTES } from '../format/constants.js';
import { POOL_QUEUE_DEPTH_MAX, QUEUE_DEPTH_DEFAULT, QUEUE_DEPTH_MAX, type DirectIoMode, type Io, type SyncMethod } from '../io/io.js';
import type { NativeBindingOption } from '../io/native-binding.js';
import type { SealedSegmentInfo } from '../log/segment-set.js';
import type { DoubleWriteMode } from '../segment/double-write-buffer.js';

export type BackendChoice = 'auto' | 'io_uring' | 'threadpool';

/**
 * Options of a read-only open, beside a writer in another process or with none: no lock, no byte
 * written, the valid prefix as the files show it (docs/design.md, "Read-only opens"). The options
 * of writing do not apply.
 */
export type ReadOnlyOpenOptions = Pick<WalOptions, 'backend' | 'directIo' | 'queueDepth' | 'encryption' | 'io' | 'nativeBinding'> & { readOnly: true };

export interface WalOptions {
  /** false (the default): open for writing. `true` opens for reading only: see ReadOnlyOpenOptions. */
  readOnly?: false;
  /** `auto` (default) uses io_uring and falls back to the thread pool where io_uring is unavailable. */
  backend?: BackendChoice;
  /** `auto` (default) uses O_DIRECT where the file system supports it; `required` fails otherwise. */
  directIo?: DirectIoMode;
  /** How a batch is made durable; see docs/design.md for the measurement behind the default. */
  syncMethod?: SyncMethod;
  /** Bytes of records in one write; larger batches wait for the next write. */
  batchBytesMax?: number;
  /**
   * Batches written at once (pipelined group commit): a batch is submitted while up to this many
   * earlier ones are still in flight; each still resolves only once it and every batch before it
   * are durable. 1 (the default) writes one batch at a time; docs/design.md has the measurement.
   */
  batchesInFlightMax?: number;
  /**
   * Write a time anchor (the LSN and the wall-clock time) at the start of a batch at most this
   * often, so that `lsnAt` and `timeAt` can map between LSNs and times; 0 (the default) writes none.
   * An anchor takes an LSN of its own.
   */
  timeAnchorIntervalMs?: number;
  /** Largest payload accepted by append; checked before anything is copied. */
  recordPayloadBytesMax?: number;
  /** Appends waiting for room in a batch before append rejects with WAL_ERR_OVERLOADED. */
  pendingAppendsMax?: number;
  /**
   * Payload bytes those waiting appends may hold (each keeps a copy of its payload, so the caller
   * may reuse its buffer at once) before append rejects with WAL_ERR_OVERLOADED. An appendBatch is
   * checked whole: one larger than this plus one batch (`batchBytesMax`) is refused; split it.
   */
  pendingBytesMax?: number;
  /** io_uring entries (or thread-pool slots): requests in flight at once. */
  queueDepth?: number;
  /** Size of a segment file; a record never spans two. Default 64 MiB. */
  segmentSizeBytes?: number;
  /** Zero-fill each segment before use so steady-state syncs flush data only. Default true. */
  preallocate?: boolean;
  /**
   * Copy the acknowledged records of the tail block to `ringwal.dwb` before the block is
   * rewritten, for devices that may leave garbage in a torn sector. Default 'off'.
   */
  doubleWriteBuffer?: DoubleWriteMode;
  /** Called once a segment is sealed (never written again), e.g. to archive or ship it. */
  onSegmentSealed?: (info: SealedSegmentInfo) => void | Promise<void>;
  /**
   * A batch whose write and sync take longer than this many ms is published on the slow-sync
   * channel and reported as a process warning (code RINGWAL_SLOW_SYNC, at most once a minute per
   * log); null turns both off. Default 1000.
   */
  slowSyncWarningMs?: number | null;
  /**
   * Encrypt every record's payload at rest (AES-256-GCM, docs/encryption.md): the master key
   * (`key`, a 32-byte Buffer, or `keyFile`) under a key id (an integer in [1, 2^32)), and the
   * keys of segments written under older ids (`previousKeys`). Needed to open a log that has an
   * encrypted segment (WAL_ERR_KEY_MISSING otherwise).
   */
  encryption?: EncryptionOptions;
  /** An I/O implementation to use instead of the native one (the simulated disk). */
  io?: Io;
  /**
   * The native addon to use: its binding object, or the path of a `.node` file (a debug build);
   * default: the one `npm install` built. Loaded on the first open that needs it, never with `io`.
   */
  nativeBinding?: NativeBindingOption;
}

/** A master key: the bytes, or a file that holds exactly them (docs/encryption.md, "Keys"). */
export interface KeySpec {
  keyId: number;
  key?: Uint8Array;
  keyFile?: string;
}

export interface EncryptionOptions extends KeySpec {
  previousKeys?: readonly KeySpec[];
}

export interface ResolvedOptions {
  encryption: EncryptionOptions | undefined;
  readOnly: boolean;
  backend: BackendChoice;
  directIo: DirectIoMode;
  syncMethod: SyncMethod;
  batchBytesMax: number;
  batchesInFlightMax: number;
  timeAnchorIntervalMs: number;
  recordPayloadBytesMax: number;
  pendingAppendsMax: number;
  pendingBytesMax: number;
  queueDepth: number;
  segmentSizeBytes: number;
  preallocate: boolean;
  doubleWriteBuffer: DoubleWriteMode;
  onSegmentSealed: ((info: SealedSegmentInfo) => void | Promise<void>) | undefined;
  slowSyncWarningMs: number | null;
  io: Io | undefined;
  nativeBinding: NativeBindingOption | undefined;
}

/** 64 KiB floor: smaller batches would cost a sync per few records and gain nothing. */
export const BATCH_BYTES_MIN = 64 * 1024;
/** 4 MiB default: at ~1 GB/s sequential that is a ~4 ms write, large enough for full bandwidth. */
export const BATCH_BYTES_DEFAULT = 4 * 1024 * 1024;
/** 256 MiB cap: one batch buffer per batch in flight and one more are allocated at open (2.25 GiB at most). */
export const BATCH_BYTES_MAX = 256 * 1024 * 1024;
/**
 * One batch in flight by default: on the disk measured (a virtio disk whose flushes run one at a
 * time) a second or fourth batch in flight gained nothing beyond the noise in any workload and
 * cost the open loop 1.7–2.4× the log's space (docs/design.md, "Group commit").
 */
export const BATCHES_IN_FLIGHT_DEFAULT = 1;
/**
 * 8 at most: each batch in flight holds a buffer of `batchBytesMax` (the writer allocates one
 * more than this), recovery reads this many batch buffers past the valid records, and the
 * header field that records it is a u32 (8 × (256 MiB + a block) fits).
 */
export const BATCHES_IN_FLIGHT_MAX = 8;
/** 1 MiB default payload limit, as most logs keep large values out of line. */
export const RECORD_PAYLOAD_BYTES_DEFAULT = 1024 * 1024;
/** 1M waiting appends by default, each with a copy of its payload and ~100 bytes of bookkeeping. */
export const PENDING_APPENDS_DEFAULT = 1 << 20;
/** 16M cap: the queue's own bookkeeping (~100 bytes each) stays under 2 GiB. */
export const PENDING_APPENDS_MAX = 1 << 24;
/** 256 MiB of copied payloads by default: 64 default batches waiting, far more than a disk can lag. */
export const PENDING_BYTES_DEFAULT = 256 * 1024 * 1024;
/** 64 KiB floor: at least one smallest batch may wait. */
export const PENDING_BYTES_MIN = 64 * 1024;
/** 16 GiB cap: the copies live in the JavaScript heap's external memory. */
export const PENDING_BYTES_MAX = 16 * 1024 * 1024 * 1024;
/** 64 MiB default segment, as PostgreSQL's WAL and etcd use 16–64 MB: big enough that rollovers are rare. */
export const SEGMENT_SIZE_BYTES_DEFAULT = 64 * 1024 * 1024;
/** 64 KiB minimum, for tests that want many rollovers; below that the header block dominates. */
export const SEGMENT_SIZE_BYTES_MIN = 64 * 1024;
/** 1 TiB cap: offsets stay far below 2^53 and a preallocated segment stays a sane size. */
export const SEGMENT_SIZE_BYTES_MAX = 1024 * 1024 * 1024 * 1024;
/** Segment sizes are multiples of the largest block size ringwal accepts, so every block fits whole. */
const SEGMENT_SIZE_GRANULE_BYTES = 65536;

function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new WalInvalidArgumentError(name, `must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describe(value)}`);
  }
  return value as T;
}

function integerIn(name: string, value: unknown, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new WalInvalidArgumentError(name, `must be an integer in [${min}, ${max}], got ${describe(value)}`);
  }
  return value;
}

export function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? `an object (${value.constructor?.name ?? 'null prototype'})` : typeof value;
}

/** One day: anchors further apart than that say little about when a record was written. */
export const TIME_ANCHOR_INTERVAL_MS_MAX = 24 * 60 * 60 * 1000;

/**
 * 1 s by default, the threshold at which etcd warns of a slow fdatasync: an SSD syncs in well
 * under 10 ms and a spinning disk or a network volume in tens of ms, so a second means the device
 * or its queue is in trouble, not merely busy.
 */
export const SLOW_SYNC_WARNING_MS_DEFAULT = 1000;
/**
 * 2 minutes at most: the kernel reports a task blocked that long as hung (hung_task_timeout_secs
 * defaults to 120); a threshold beyond it would warn of a disk that has already stopped.
 */
export const SLOW_SYNC_WARNING_MS_MAX = 120_000;

/** null (off), or ms in [0, SLOW_SYNC_WARNING_MS_MAX]: 0 makes every batch slow, which traces each one (and tests the warning). */
function slowSyncWarningMsOf(value: unknown): number | null {
  if (value === null) return null;
  if (value === undefined) return SLOW_SYNC_WARNING_MS_DEFAULT;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > SLOW_SYNC_WARNING_MS_MAX) {
    throw new WalInvalidArgumentError('slowSyncWarningMs', `must be null (off) or an integer in [0, ${SLOW_SYNC_WARNING_MS_MAX}], got ${describe(value)}`);
  }
  return value;
}

/** Every option Wal.open takes (the README lists them all; test/docs.test.mjs checks it). */
export const WAL_OPTION_NAMES: ReadonlySet<string> = new Set([
  'readOnly',
  'backend',
  'directIo',
  'syncMethod',
  'batchBytesMax',
  'batchesInFlightMax',
  'timeAnchorIntervalMs',
  'recordPayloadBytesMax',
  'pendingAppendsMax',
  'pendingBytesMax',
  'queueDepth',
  'segmentSizeBytes',
  'preallocate',
  'doubleWriteBuffer',
  'onSegmentSealed',
  'slowSyncWarningMs',
  'encryption',
  'io',
  'nativeBinding',
]);

export function resolveOptions(options: unknown): ResolvedOptions {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new WalInvalidArgumentError('options', `must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!WAL_OPTION_NAMES.has(key)) throw new WalInvalidArgumentError(key, 'is not an option of Wal.open');
  }
  const o = options as WalOptions;
  const batchBytesMax = integerIn('batchBytesMax', o.batchBytesMax, BATCH_BYTES_MIN, BATCH_BYTES_MAX, BATCH_BYTES_DEFAULT);
  const segmentSizeBytes = integerIn('segmentSizeBytes', o.segmentSizeBytes, SEGMENT_SIZE_BYTES_MIN, SEGMENT_SIZE_BYTES_MAX, SEGMENT_SIZE_BYTES_DEFAULT);
  if (segmentSizeBytes % SEGMENT_SIZE_GRANULE_BYTES !== 0) {
    throw new WalInvalidArgumentError('segmentSizeBytes', `must be a multiple of ${SEGMENT_SIZE_GRANULE_BYTES}, got ${segmentSizeBytes}`);
  }
  // A record must fit one batch buffer and one segment after its header block, and never exceed
  // the format's own cap.
  const payloadCapBytes =
    Math.min(
      RECORD_PAYLOAD_BYTES_LIMIT,
      batchBytesMax - RECORD_HEADER_SIZE_BYTES - 8,
      // The header block is usually 4 KiB; Wal.open checks again with the file system's real block.
      segmentSizeBytes - BLOCK_SIZE_BYTES_DEFAULT - RECORD_HEADER_SIZE_BYTES - 8,
    ) - (o.encryption === undefined ? 0 : RECORD_TAG_BYTES);
  if (o.preallocate !== undefined && typeof o.preallocate !== 'boolean') {
    throw new WalInvalidArgumentError('preallocate', `must be a boolean, got ${describe(o.preallocate)}`);
  }
  if (o.readOnly !== undefined && typeof (o.readOnly as unknown) !== 'boolean') {
    throw new WalInvalidArgumentError('readOnly', `must be a boolean, got ${describe(o.readOnly)}`);
  }
  if (o.onSegmentSealed !== undefined && typeof o.onSegmentSealed !== 'function') {
    throw new WalInvalidArgumentError('onSegmentSealed', `must be a function, got ${describe(o.onSegmentSealed)}`);
  }
  const io = o.io;
  if (io !== undefined && (typeof io !== 'object' || io === null || typeof io.openFile !== 'function')) {
    throw new WalInvalidArgumentError('io', 'must implement the Io interface');
  }
  const nativeBinding = o.nativeBinding;
  if (nativeBinding !== undefined && typeof nativeBinding !== 'string' && (typeof nativeBinding !== 'object' || nativeBinding === null)) {
    throw new WalInvalidArgumentError('nativeBinding', `must be a binding object or the path of a .node file, got ${describe(nativeBinding)}`);
  }
  if (nativeBinding !== undefined && io !== undefined) throw new WalInvalidArgumentError('nativeBinding', 'is for the native Io: it cannot go with io');
  return {
    backend: oneOf('backend', o.backend, ['auto', 'io_uring', 'threadpool'], 'auto'),
    directIo: oneOf('directIo', o.directIo, ['auto', 'required', 'off'], 'auto'),
    syncMethod: oneOf('syncMethod', o.syncMethod, ['linked-fdatasync', 'rwf-dsync'], 'linked-fdatasync'),
    batchBytesMax,
    batchesInFlightMax: integerIn('batchesInFlightMax', o.batchesInFlightMax, 1, BATCHES_IN_FLIGHT_MAX, BATCHES_IN_FLIGHT_DEFAULT),
    timeAnchorIntervalMs: integerIn('timeAnchorIntervalMs', o.timeAnchorIntervalMs, 0, TIME_ANCHOR_INTERVAL_MS_MAX, 0),
    recordPayloadBytesMax: integerIn(
      'recordPayloadBytesMax',
      o.recordPayloadBytesMax,
      0,
      payloadCapBytes,
      Math.min(RECORD_PAYLOAD_BYTES_DEFAULT, payloadCapBytes),
    ),
    pendingAppendsMax: integerIn('pendingAppendsMax', o.pendingAppendsMax, 1, PENDING_APPENDS_MAX, PENDING_APPENDS_DEFAULT),
    pendingBytesMax: integerIn('pendingBytesMax', o.pendingBytesMax, PENDING_BYTES_MIN, PENDING_BYTES_MAX, PENDING_BYTES_DEFAULT),
    queueDepth: integerIn('queueDepth', o.queueDepth, 1, o.backend === 'threadpool' ? POOL_QUEUE_DEPTH_MAX : QUEUE_DEPTH_MAX, QUEUE_DEPTH_DEFAULT),
    segmentSizeBytes,
    preallocate: o.preallocate ?? true,
    doubleWriteBuffer: oneOf('doubleWriteBuffer', o.doubleWriteBuffer, ['off', 'buffered', 'direct'], 'off'),
    onSegmentSealed: o.onSegmentSealed,
    slowSyncWarningMs: slowSyncWarningMsOf(o.slowSyncWarningMs),
    // Checked at open, where key files are read (KeyRing.fromOptions).
    encryption: o.encryption,
    readOnly: (o.readOnly as boolean | undefined) ?? false,
    io,
    nativeBinding,
  };
}
