/**
 * The log reader: the durable records of a snapshot of the log's segments, in LSN order, each
 * CRC-checked by the scanner, in bounded memory (one 1 MiB scan buffer, grown only for a larger record, and the copies of one scan step's records, which it yields one by one).
 *
 * The caller decides when a reader must stop (a truncation started after it, the log closed):
 * `check` throws then, and is asked before each file, after each scan step and before each
 * record, since the consumer may run a truncation between two records. The files a reader has
 * open are kept in ReaderFiles with the scan step each is in, so a closing log waits for that
 * step (whose reads must not outlive the file) and then closes the file.
 */
import { WalClosedError, WalCorruptionError, WalUnknownRequiredTypeError } from '../errors.js';
import { segmentCipher, type SegmentKeys } from '../crypto/segment-keys.js';
import { RECORD_PAYLOAD_BYTES_LIMIT, RECORD_TYPE_REQUIRED_FLAG, isSystemRecordType } from '../format/constants.js';
import type { SegmentHeader } from '../format/segment-header.js';
import type { AlignedBuffer, Io, IoFile } from '../io/io.js';
import { SegmentScanner, type ScannedRecord, type ScanPosition, type TransactionSpan } from './segment-scanner.js';

export type { TransactionSpan } from './segment-scanner.js';

/** A record's header fields, what a read with `payloads: false` yields. */
export interface WalRecordHeader {
  lsn: number;
  type: number;
  tenant: number;
  vshard: number;
  database: number;
  payloadSizeBytes: number;
  /** The LSNs of the transaction the record was appended in (appendTransaction), or null. */
  txn: TransactionSpan | null;
}

/** A user record with its payload (a copy: it stays valid after the reader moves on). */
export interface WalRecord extends WalRecordHeader {
  payload: Buffer;
}

/**
 * Which records a read yields, all checked beforehand (Wal.read). Every record in the range is
 * CRC-checked by the scanner whether or not the filter yields it; one it skips is never copied.
 */
export interface RecordFilter {
  /** The last LSN to yield; the reader stops reading after it. */
  toLsn: number;
  /** Types a reader understands: an unknown required type stops the read, an unknown optional one is skipped. */
  knownTypes: ReadonlySet<number> | null;
  types: ReadonlySet<number> | null;
  tenants: ReadonlySet<number> | null;
  databases: ReadonlySet<number> | null;
  payloads: boolean;
  /** Drops a record that passed the other filters (tombstoned collections); null keeps them. */
  skip: ((record: WalRecord | WalRecordHeader) => boolean) | null;
  /** ringwal's own records of these types, and nothing else (internal scans); null for user records. */
  systemTypes: ReadonlySet<number> | null;
}

/** A reader's position for an error message: `check` gets an LSN where it runs once per record. */
export function whereText(where: string | number): string {
  return typeof where === 'number' ? `before LSN ${where}` : where;
}

export const yieldEveryRecord: RecordFilter = {
  toLsn: Number.MAX_SAFE_INTEGER,
  knownTypes: null,
  types: null,
  tenants: null,
  databases: null,
  payloads: true,
  skip: null,
  systemTypes: null,
};

/** Whether a user record passes the filter; throws for an unknown required type. */
function passes(filter: RecordFilter, lsn: number, type: number, tenant: number, database: number): boolean {
  if (filter.knownTypes !== null && !filter.knownTypes.has(type)) {
    if ((type & RECORD_TYPE_REQUIRED_FLAG) !== 0) throw new WalUnknownRequiredTypeError(lsn, type);
    return false;
  }
  if (filter.types !== null && !filter.types.has(type)) return false;
  if (filter.tenants !== null && !filter.tenants.has(tenant)) return false;
  if (filter.databases !== null && !filter.databases.has(database)) return false;
  return true;
}

/** One segment of a snapshot, with where its durable records end. */
export interface SegmentToRead {
  path: string;
  header: SegmentHeader;
  dataStartBytes: number;
  lastLsn: number;
  endBytes: number;
}

/** The files open by readers, each with the scan step it is in (null between steps). */
export class ReaderFiles {
  private readonly files = new Map<IoFile, Promise<unknown> | null>();
  private closed = false;

  /** Registers a file a reader opened; false once closeAll began, and the reader must close it itself. */
  add(file: IoFile): boolean {
    if (this.closed) return false;
    this.files.set(file, null);
    return true;
  }

  /** Runs one scan step of `file`, so that closeAll waits for it. */
  async step<T>(file: IoFile, step: Promise<T>): Promise<T> {
    this.files.set(
      file,
      step.catch(() => undefined),
    );
    const result = await step;
    if (this.files.has(file)) this.files.set(file, null);
    return result;
  }

  /** The reader is done with `file`: closes it unless closeAll already took it. */
  async release(file: IoFile): Promise<void> {
    if (this.files.delete(file)) await file.close();
  }

  /** Stops every reader: waits for each one's step in flight, then closes its file. */
  async closeAll(): Promise<void> {
    this.closed = true;
    const open = [...this.files];
    this.files.clear();
    for (const [file, step] of open) {
      await step;
      await file.close();
    }
  }
}

export interface ReadPlan {
  io: Io;
  segments: readonly SegmentToRead[];
  /** The first LSN to yield. */
  fromLsn: number;
  filter: RecordFilter;
  direct: 'required' | 'off';
  files: ReaderFiles;
  /**
   * Throws when the reader must stop (a truncation after it began, a closed log). `where` says
   * where the reader is, for the error: a description, or the LSN of the record about to be yielded.
   */
  check: (where: string | number) => void;
  /**
   * A follower's round: where the previous round stopped in the segment at `path` (which this
   * round resumes instead of scanning it from the start), and, updated after every scan step,
   * where this one stands.
   */
  progress?: ReadProgress;
  /** A scan buffer the plan's scans may use (one at a time: a follower's rounds run one after another). */
  scanBuffer?: AlignedBuffer;
  /** A file to scan instead of opening the segment's (a follower's copy of durable bytes in memory), or null. */
  fileFor?: (segment: SegmentToRead) => IoFile | null;
  /** The keys of encrypted segments; without them an encrypted segment is WAL_ERR_KEY_MISSING. */
  keys?: SegmentKeys | null;
}

export interface ReadProgress {
  /** The segment the read stands in; null before the first one. */
  path: string | null;
  /** The LSN expected next there, and the scan position before it. */
  nextLsn: number;
  position: ScanPosition | null;
}

type ReadRecord = WalRecord | WalRecordHeader;

/**
 * Fewer records than this in a step are decrypted on the event loop: a thread-pool round trip
 * costs about as much as decrypting 20-odd small records (bench/results/2026-12-02-encryption.md).
 */
const ASYNC_DECRYPT_RECORDS_MIN = 64;

/**
 * The records the plan asks for, one at a time. `plan` may be a function that makes it (after
 * waiting for what must finish first). The records of a scan step are handed out from an array,
 * each through an already settled promise: an async generator would cost about three times as
 * much per record (bench/results/2026-12-02-replay-profile.md).
 */
export function readSegments(plan: ReadPlan | (() => Promise<ReadPlan>)): AsyncGenerator<ReadRecord, void, undefined> {
  return new RecordIterator(plan);
}

const DONE: IteratorReturnResult<void> = Object.freeze({ value: undefined, done: true });

class RecordIterator implements AsyncGenerator<ReadRecord, void, undefined> {
  private steps: AsyncGenerator<ReadStep, void, undefined> | null = null;
  /**
   * The next step, asked for as soon as the current one arrived, so that its reads and its
   * decryption (in the thread pool) run while the consumer takes the current step's records.
   * Not for a follower's round, whose progress must stop at what it handed out.
   */
  private ahead: Promise<IteratorResult<ReadStep, void>> | null = null;
  private readAhead = false;
  private check: ((where: string | number) => void) | null = null;
  private records: ReadRecord[] = [];
  private index = 0;
  private finished = false;
  /** Calls that read (a step, or the close of the scan) not yet settled: others wait behind them. */
  private busy = 0;
  /** Settles after the last of them. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly plan: ReadPlan | (() => Promise<ReadPlan>)) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<ReadRecord, void>> {
    if (this.busy === 0 && this.index < this.records.length) {
      const record = this.records[this.index]!;
      try {
        // The consumer may have started a truncation or closed the log since the last record.
        this.check!(record.lsn);
      } catch (err) {
        return this.serial(() => this.fail(err));
      }
      this.index += 1;
      return Promise.resolve({ value: record, done: false });
    }
    return this.serial(() => this.nextStep());
  }

  return(): Promise<IteratorResult<ReadRecord, void>> {
    return this.serial(async () => {
      await this.finish();
      return DONE;
    });
  }

  throw(err: unknown): Promise<IteratorResult<ReadRecord, void>> {
    return this.serial(() => this.fail(err));
  }

  /** Runs `op` once every call before it has settled, in call order. */
  private serial<T>(op: () => Promise<T>): Promise<T> {
    const body = async (): Promise<T> => {
      try {
        return await op();
      } finally {
        // Before the caller resumes: its next call may take the fast path again.
        this.busy -= 1;
      }
    };
    this.busy += 1;
    const run = this.busy === 1 ? body() : this.tail.then(body, body);
    this.tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async nextStep(): Promise<IteratorResult<ReadRecord, void>> {
    try {
      for (;;) {
        if (this.finished) return DONE;
        if (this.index < this.records.length) {
          const record = this.records[this.index]!;
          this.check!(record.lsn);
          this.index += 1;
          return { value: record, done: false };
        }
        if (this.steps === null) {
          const p = typeof this.plan === 'function' ? await this.plan() : this.plan;
          this.check = p.check;
          this.steps = readSegmentSteps(p);
          this.readAhead = p.progress === undefined;
        }
        const pending = this.ahead ?? this.steps.next();
        this.ahead = null;
        const step = await pending;
        if (step.done === true) {
          this.finished = true;
          return DONE;
        }
        if (this.readAhead) {
          const ahead = this.steps.next();
          // Its failure surfaces when the consumer gets to it, after this step's records.
          ahead.catch(() => undefined);
          this.ahead = ahead;
        }
        // Payloads still being decrypted: the next step is read meanwhile.
        if (step.value.ready !== null) await step.value.ready;
        this.records = step.value.records;
        this.index = 0;
      }
    } catch (err) {
      return this.fail(err);
    }
  }

  /** Ends the read (its files released) and rejects with `err`, as a generator that threw. */
  private async fail(err: unknown): Promise<never> {
    await this.finish();
    throw err;
  }

  private async finish(): Promise<void> {
    if (this.finished && this.steps === null) return;
    this.finished = true;
    this.records = [];
    const steps = this.steps;
    this.steps = null;
    // A step read ahead runs to its end first (a generator's return waits for it anyway).
    const ahead = this.ahead;
    this.ahead = null;
    if (ahead !== null) await ahead.catch(() => undefined);
    // Closing the step generator runs its finally blocks: each open file is released.
    if (steps !== null) await steps.return(undefined);
  }
}

/** The records the plan asks for, in arrays of one scan step each. */
/** One scan step's records; with `ready`, their payloads are being decrypted and are theirs once it resolves. */
interface ReadStep {
  records: ReadRecord[];
  ready: Promise<void> | null;
}

async function* readSegmentSteps(plan: ReadPlan): AsyncGenerator<ReadStep, void, undefined> {
  for (const segment of plan.segments) {
    if (segment.header.firstLsn > plan.filter.toLsn) return;
    if (segment.lastLsn < Math.max(plan.fromLsn, segment.header.firstLsn)) continue;
    if (!(yield* readSegment(plan, segment))) return;
  }
}

/** Yields the segment's records the plan asks for, a scan step at a time; false once past `toLsn` (nothing more to read). */
async function* readSegment(plan: ReadPlan, segment: SegmentToRead): AsyncGenerator<ReadStep, boolean, undefined> {
  const filter = plan.filter;
  const { io, check, files } = plan;
  check(`before opening ${segment.path}`);
  let file: IoFile;
  try {
    file = plan.fileFor?.(segment) ?? (await io.openFile(segment.path, { create: false, direct: plan.direct, readOnly: true }));
  } catch (err) {
    check(`${segment.path} was removed`);
    throw err;
  }
  if (!files.add(file)) {
    // The log closed its readers' files already; this one opened too late to be among them.
    await file.close();
    throw new WalClosedError();
  }
  try {
    const cipher = segmentCipher(plan.keys, segment.path, segment.header);
    const progress = plan.progress;
    const resume = progress !== undefined && progress.path === segment.path && progress.position !== null ? progress.position : undefined;
    const scanner = new SegmentScanner(io, file, {
      segmentId: segment.header.segmentId,
      dataStartBytes: segment.dataStartBytes,
      endBytes: segment.endBytes,
      firstLsn: resume === undefined ? segment.header.firstLsn : progress!.nextLsn,
      payloadBytesLimit: RECORD_PAYLOAD_BYTES_LIMIT,
      lsnLimit: segment.lastLsn,
      resume,
      buffer: plan.scanBuffer,
      // A file on disk: the next chunk is read while this one is parsed.
      readAhead: file.direct,
      cipher,
    });
    for (;;) {
      let records;
      try {
        records = await files.step(file, scanner.next());
      } catch (err) {
        // A read of a file the log closed under us, or of bytes a truncation replaced.
        check(`while reading ${segment.path}`);
        throw err;
      }
      check(`while reading ${segment.path}`);
      if (records.length === 0) break;
      if (progress !== undefined) {
        // Past every record of this step, yielded or not: a resumed scan starts after them.
        progress.path = segment.path;
        progress.nextLsn = scanner.nextLsn;
        progress.position = scanner.position;
      }
      const chosen: ScannedRecord[] = [];
      let pastEnd = false;
      let stopped: { error: unknown } | null = null;
      for (const r of records) {
        const h = r.header;
        if (h.lsn < plan.fromLsn) continue;
        // ringwal's own records are never user records, whatever the filter.
        try {
          if (
            isSystemRecordType(h.type)
              ? filter.systemTypes?.has(h.type) === true
              : filter.systemTypes === null && passes(filter, h.lsn, h.type, h.tenant, h.database)
          )
            chosen.push(r);
        } catch (err) {
          // An unknown required type: what came before it is still the reader's.
          stopped = { error: err };
          break;
        }
        // Nothing after toLsn is read, so damage beyond it is not this reader's to find.
        if (h.lsn >= filter.toLsn) {
          pastEnd = true;
          break;
        }
      }
      // The payloads it yields, decrypted in one call; a lazy read decrypts nothing. Many of them
      // are copied out and decrypted in the thread pool while this reader parses the next step
      // and the consumer takes the step before (RecordIterator reads a step ahead). The
      // simulator's stay on the event loop (determinism), and so do those a skip filter must see.
      let ready: Promise<void> | null = null;
      let payloads: Buffer[] | null = null;
      if (filter.payloads && cipher !== null && chosen.length >= ASYNC_DECRYPT_RECORDS_MIN && io.backend !== 'sim' && filter.skip === null) {
        ({ payloads, ready } = scanner.detachSealed(chosen));
        // Awaited by the iterator before any of these records is handed out.
        ready.catch(() => undefined);
      } else if (filter.payloads) scanner.openPayloads(chosen);
      const out: (WalRecord | WalRecordHeader)[] = [];
      for (let i = 0; i < chosen.length; i++) {
        const r = chosen[i]!;
        const h = r.header;
        const record: WalRecord | WalRecordHeader = filter.payloads
          ? {
              lsn: h.lsn,
              type: h.type,
              tenant: h.tenant,
              vshard: h.vshard,
              database: h.database,
              payloadSizeBytes: h.payloadSizeBytes,
              txn: r.transaction,
              payload: payloads !== null ? payloads[i]! : scanner.copyPayload(r),
            }
          : { lsn: h.lsn, type: h.type, tenant: h.tenant, vshard: h.vshard, database: h.database, payloadSizeBytes: h.payloadSizeBytes, txn: r.transaction };
        if (filter.skip === null || !filter.skip(record)) out.push(record);
      }
      if (out.length > 0) yield { records: out, ready };
      else if (ready !== null) await ready;
      if (stopped !== null) throw stopped.error;
      if (pastEnd) return false;
    }
    check(`at the end of ${segment.path}`);
    const stop = scanner.stop!;
    if (stop.kind === 'invalid') throw new WalCorruptionError(segment.path, stop.offsetBytes, stop.reason, scanner.nextLsn);
    if (scanner.nextLsn <= segment.lastLsn) {
      throw new WalCorruptionError(
        segment.path,
        stop.offsetBytes,
        `the segment ends at LSN ${scanner.nextLsn - 1}, durable up to ${segment.lastLsn}`,
        scanner.nextLsn,
      );
    }
  } finally {
    await files.release(file);
  }
  return true;
}
