/**
 * The public log: open (lock, recover), append with group commit, read, close.
 *
 * Open, in order (docs/design.md, "Opening a log"):
 *   1. create the directory and take an exclusive flock on `ringwal.lock` (a second open fails);
 *   2. remove `.tmp` files left by a crash during segment creation;
 *   3. with no segment, create the first one (tmp, fdatasync, rename, directory fsync);
 *   4. open the last segment (O_DIRECT when possible), check its header against its name;
 *   5. fsync the directory and recover the segment (recover.ts), which fdatasyncs it first;
 *   6. continue LSNs one above the last valid record.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  WalClosedError,
  WalCorruptionError,
  WalDurabilityLostError,
  WalInvalidArgumentError,
  WalPayloadTooLargeError,
} from '../errors.js';
import { LOCK_FILE_NAME, LSN_MAX, RECORD_PAYLOAD_LIMIT_BYTES, RECORD_TYPE_DEFAULT, RECORD_TYPE_ENCRYPTED_FLAG, SEGMENT_TEMP_SUFFIX } from '../format/constants.js';
import type { RecordMeta } from '../format/record.js';
import type { Io, IoLock, SyncMethod } from '../io/io.js';
import { NativeIo } from '../io/native-io.js';
import { describe, resolveOptions, type ResolvedOptions, type WalOptions } from '../options.js';
import { SegmentScanner } from '../read/segment-scanner.js';
import { recoverSegment, type RecoveryReport } from '../recovery/recover.js';
import { createSegment, openSegment, parseSegmentFileName, type OpenSegment } from '../segment/segment-file.js';
import { GroupCommit, type BatchResult, type GroupCommitStats } from './group-commit.js';

export interface AppendOptions {
  /** Record type, u32; bit 15 marks it required. Bit 14 is reserved for encryption. Default 0x8001. */
  type?: number;
  tenant?: number;
  vshard?: number;
  database?: number;
}

export interface WalRecord {
  lsn: number;
  type: number;
  tenant: number;
  vshard: number;
  database: number;
  payload: Buffer;
}

export interface ReadOptions {
  /** The first LSN to yield (default 1). */
  fromLsn?: number;
}

export interface WalStats extends GroupCommitStats {
  backend: string;
  directIo: boolean;
  syncMethod: SyncMethod;
  nextLsn: number;
  durableLsn: number;
  pendingAppends: number;
}

const DEFAULT_META: RecordMeta = Object.freeze({ type: RECORD_TYPE_DEFAULT, tenant: 0, vshard: 0, database: 0 });
const U32_MAX = 0xffff_ffff;

function metaFrom(options: AppendOptions | undefined): RecordMeta {
  if (options === undefined) return DEFAULT_META;
  if (typeof options !== 'object' || options === null) {
    throw new WalInvalidArgumentError('append options', `must be an object, got ${describe(options)}`);
  }
  const type = options.type ?? RECORD_TYPE_DEFAULT;
  if (!Number.isInteger(type) || type < 1 || type > U32_MAX || (type & RECORD_TYPE_ENCRYPTED_FLAG) !== 0) {
    throw new WalInvalidArgumentError('type', `must be an integer in [1, 2^32) without bit 14 (0x4000), got ${describe(options.type)}`);
  }
  const tenant = options.tenant ?? 0;
  if (!Number.isSafeInteger(tenant) || tenant < 0) throw new WalInvalidArgumentError('tenant', `must be a non-negative safe integer, got ${describe(options.tenant)}`);
  const vshard = options.vshard ?? 0;
  if (!Number.isInteger(vshard) || vshard < 0 || vshard > U32_MAX) throw new WalInvalidArgumentError('vshard', `must be an integer in [0, 2^32), got ${describe(options.vshard)}`);
  const database = options.database ?? 0;
  if (!Number.isSafeInteger(database) || database < 0) throw new WalInvalidArgumentError('database', `must be a non-negative safe integer, got ${describe(options.database)}`);
  return { type, tenant, vshard, database };
}

export class Wal {
  readonly dir: string;
  /** What recovery found when this log was opened. */
  readonly recovery: RecoveryReport;
  private readonly options: ResolvedOptions;
  private readonly io: Io;
  private readonly ownsIo: boolean;
  private readonly lock: IoLock;
  private readonly segment: OpenSegment;
  private readonly writer: GroupCommit;
  private closing: Promise<void> | null = null;

  private constructor(dir: string, options: ResolvedOptions, io: Io, ownsIo: boolean, lock: IoLock, segment: OpenSegment, writer: GroupCommit, recovery: RecoveryReport) {
    this.dir = dir;
    this.options = options;
    this.io = io;
    this.ownsIo = ownsIo;
    this.lock = lock;
    this.segment = segment;
    this.writer = writer;
    this.recovery = recovery;
  }

  static async open(dir: string, options?: WalOptions): Promise<Wal> {
    if (typeof dir !== 'string' || dir.length === 0) throw new WalInvalidArgumentError('dir', `must be a non-empty string, got ${describe(dir)}`);
    const resolved = resolveOptions(options);
    const ownsIo = resolved.io === undefined;
    const io = resolved.io ?? NativeIo.create({ backend: resolved.backend, syncMethod: resolved.syncMethod, queueDepth: resolved.queueDepth });
    let lock: IoLock | undefined;
    let segment: OpenSegment | undefined;
    try {
      await io.mkdirp(dir);
      lock = await io.lock(join(dir, LOCK_FILE_NAME));
      segment = await openActiveSegment(io, dir, resolved);
      await io.fsyncDir(dir);
      const recovery = await recoverSegment(io, segment);
      const writer = await GroupCommit.create({
        io,
        file: segment.file,
        segmentId: segment.header.segmentId,
        nextLsn: recovery.nextLsn,
        endBytes: recovery.endBytes,
        batchBytesMax: resolved.batchBytesMax,
        pendingAppendsMax: resolved.pendingAppendsMax,
      });
      return new Wal(dir, resolved, io, ownsIo, lock, segment, writer, recovery);
    } catch (err) {
      await segment?.file.close().catch(() => undefined);
      await lock?.release().catch(() => undefined);
      if (ownsIo) await io.close().catch(() => undefined);
      throw err;
    }
  }

  /** Which queue carries the I/O: `io_uring`, `threadpool`, or `sim`. */
  get backend(): string {
    return this.io.backend;
  }

  /** Whether the active segment is written with O_DIRECT. */
  get directIo(): boolean {
    return this.segment.file.direct;
  }

  get syncMethod(): SyncMethod {
    return this.io.syncMethod;
  }

  /** The highest LSN known durable; every record up to it survives a crash. */
  get durableLsn(): number {
    return this.writer.durableLsn;
  }

  /** The LSN the next append will receive. */
  get nextLsn(): number {
    return this.writer.nextLsn;
  }

  private refusal(): Error | null {
    if (this.closing !== null) return new WalClosedError();
    if (this.writer.failed !== null) return new WalDurabilityLostError(this.writer.failed);
    return null;
  }

  private checkPayload(payload: unknown, argument: string): Error | null {
    if (!(payload instanceof Uint8Array)) return new WalInvalidArgumentError(argument, `must be a Buffer or Uint8Array, got ${describe(payload)}`);
    if (payload.byteLength > this.options.recordPayloadMaxBytes) return new WalPayloadTooLargeError(payload.byteLength, this.options.recordPayloadMaxBytes);
    return null;
  }

  /** Appends one record; resolves to its own LSN once it is durable. */
  append(payload: Uint8Array, options?: AppendOptions): Promise<number> {
    const refused = this.refusal() ?? this.checkPayload(payload, 'payload');
    if (refused !== null) return Promise.reject(refused);
    let meta: RecordMeta;
    try {
      meta = metaFrom(options);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.writer.append(payload, meta);
  }

  /**
   * Appends records with consecutive LSNs, all with the same options; resolves once all are
   * durable. The records are independent: a crash may keep a prefix of them.
   */
  appendBatch(payloads: readonly Uint8Array[], options?: AppendOptions): Promise<BatchResult> {
    const refused = this.refusal();
    if (refused !== null) return Promise.reject(refused);
    if (!Array.isArray(payloads)) return Promise.reject(new WalInvalidArgumentError('payloads', `must be an array, got ${describe(payloads)}`));
    if (payloads.length === 0) return Promise.reject(new WalInvalidArgumentError('payloads', 'must not be empty'));
    for (let i = 0; i < payloads.length; i++) {
      const bad = this.checkPayload(payloads[i], `payloads[${i}]`);
      if (bad !== null) return Promise.reject(bad);
    }
    let meta: RecordMeta;
    try {
      meta = metaFrom(options);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.writer.appendBatch(payloads, meta);
  }

  /** Resolves once every record appended before the call is durable. */
  sync(): Promise<void> {
    const refused = this.refusal();
    if (refused !== null) return Promise.reject(refused);
    return this.writer.sync();
  }

  stats(): WalStats {
    return {
      ...this.writer.stats(),
      backend: this.io.backend,
      directIo: this.directIo,
      syncMethod: this.io.syncMethod,
      nextLsn: this.writer.nextLsn,
      durableLsn: this.writer.durableLsn,
      pendingAppends: this.writer.pendingCount,
    };
  }

  /**
   * Yields the durable records with LSN ≥ `fromLsn`, in LSN order, each CRC-checked, as they
   * were when the iteration started. Memory stays bounded: one 1 MiB buffer plus one record.
   * Damage inside the durable range throws WalCorruptionError; a damaged record is never yielded.
   */
  read(options?: ReadOptions): AsyncGenerator<WalRecord, void, undefined> {
    let fromLsn = 1;
    if (options !== undefined) {
      if (typeof options !== 'object' || options === null) throw new WalInvalidArgumentError('read options', `must be an object, got ${describe(options)}`);
      if (options.fromLsn !== undefined) {
        if (!Number.isSafeInteger(options.fromLsn) || options.fromLsn < 0) {
          throw new WalInvalidArgumentError('fromLsn', `must be a non-negative safe integer, got ${describe(options.fromLsn)}`);
        }
        fromLsn = options.fromLsn;
      }
    }
    if (this.closing !== null) throw new WalClosedError();
    return this.readFrom(fromLsn, this.writer.durableLsn, this.writer.durableEndBytes);
  }

  private async *readFrom(fromLsn: number, lastLsn: number, endBytes: number): AsyncGenerator<WalRecord, void, undefined> {
    const s = this.segment;
    if (fromLsn > lastLsn || lastLsn < s.header.firstLsn) return;
    const file = await this.io.openFile(s.path, { create: false, direct: s.file.direct ? 'required' : 'off', readOnly: true });
    try {
      const scanner = new SegmentScanner(this.io, file, {
        segmentId: s.header.segmentId,
        dataStartBytes: s.dataStartBytes,
        endBytes,
        firstLsn: s.header.firstLsn,
        payloadLimitBytes: RECORD_PAYLOAD_LIMIT_BYTES,
      });
      for (;;) {
        const records = await scanner.next();
        if (records.length === 0) break;
        for (const r of records) {
          const h = r.header;
          if (h.lsn < fromLsn) continue;
          yield { lsn: h.lsn, type: h.type, tenant: h.tenant, vshard: h.vshard, database: h.database, payload: Buffer.from(r.payload) };
        }
      }
      const stop = scanner.stop!;
      if (stop.kind === 'invalid') throw new WalCorruptionError(s.path, stop.offsetBytes, stop.reason, scanner.nextLsn);
      if (scanner.nextLsn <= lastLsn) {
        throw new WalCorruptionError(s.path, stop.offsetBytes, `the log ends at LSN ${scanner.nextLsn - 1}, durable up to ${lastLsn}`, scanner.nextLsn);
      }
    } finally {
      await file.close();
    }
  }

  /**
   * Waits for every append made before the call to be durable, then releases the file, the lock
   * and the ring. Appends after close reject with WAL_ERR_CLOSED. Idempotent.
   */
  close(): Promise<void> {
    if (this.closing === null) this.closing = this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    let syncError: unknown = null;
    if (this.writer.failed === null) {
      try {
        await this.writer.sync();
      } catch (err) {
        syncError = err;
      }
    }
    await this.segment.file.close();
    await this.lock.release();
    if (this.ownsIo) await this.io.close();
    if (syncError !== null) throw syncError;
  }
}

/** Steps 2 to 4 of open: the last segment, created when the log is new. */
async function openActiveSegment(io: Io, dir: string, options: ResolvedOptions): Promise<OpenSegment> {
  const names = await io.listDir(dir);
  const segments: Array<{ name: string; firstLsn: number }> = [];
  for (const name of names) {
    if (name.endsWith(SEGMENT_TEMP_SUFFIX) && parseSegmentFileName(name.slice(0, -SEGMENT_TEMP_SUFFIX.length)) !== undefined) {
      await io.unlink(join(dir, name));
      continue;
    }
    const firstLsn = parseSegmentFileName(name);
    if (firstLsn !== undefined) segments.push({ name, firstLsn });
  }
  segments.sort((a, b) => a.firstLsn - b.firstLsn);
  if (segments.length === 0) {
    const logId = randomBytes(8).readBigUInt64LE(0);
    const path = await createSegment(io, dir, { logId, segmentId: 1, firstLsn: 1 }, options.directIo);
    return openSegment(io, path, 1, options.directIo, false);
  }
  const last = segments[segments.length - 1]!;
  if (last.firstLsn > LSN_MAX) throw new WalCorruptionError(join(dir, last.name), 0, 'first LSN beyond the LSN limit');
  return openSegment(io, join(dir, last.name), last.firstLsn, options.directIo, false);
}
