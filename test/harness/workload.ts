/**
 * The random workload of one simulated process: a list of weighted operations, each a small
 * async function over a WorkloadContext. To test a new feature (rollover, truncation, the DWB,
 * encryption), add an operation to WORKLOAD_OPS: it draws its arguments from `ctx.rng`, calls
 * the Wal, and tells the oracle what it appended (`ctx.append…`) and what was acknowledged.
 *
 * ringwal's own records (checkpoint, tombstone, temporalPurge) take the next LSN in call order
 * like an append (`ctx.oracle.note`), and a read skips their LSNs.
 *
 * Operations never wait on their own appends unless they mean to: appends issued in one turn
 * join one batch, and `ctx.track` keeps the promises so that `settle` and close can wait for
 * them. Every rejection must be a WalError; in tier 1 it must also follow an injected fault.
 */
import { WalDurabilityLostError, WalError, WalNoSpaceError } from '../../dist/errors.js';
import type { Wal } from '../../dist/writer/wal.js';
import { parseSegmentFileName } from '../../dist/segment/segment-file.js';
import { Oracle, SimViolation, isOwnSlot, sameBytes, type AppendEntry, type Slot } from './oracle.js';
import type { Prng } from '../../dist/sim/prng.js';
import { INJECTED_ERRNOS, type SimIo } from '../../dist/sim/sim-io.js';

export interface WorkloadContext {
  readonly rng: Prng;
  readonly wal: Wal;
  readonly io: SimIo;
  readonly oracle: Oracle;
  /** The run's segment size: a payload this large never fits one record (the header block comes first). */
  readonly segmentSizeBytes: number;
  /** This process's batch size: a transaction larger than one batch is refused. */
  readonly batchBytesMax: number;
  /** False once the process crashed: an operation must then stop touching the oracle. */
  alive(): boolean;
  /** True once the log rejected a call with WAL_ERR_IO or WAL_ERR_DURABILITY_LOST. */
  logFailed(): boolean;
  markLogFailed(): void;
  /** Records a violation found inside a callback, where throwing would go nowhere. */
  violation(err: unknown): void;
  /** Keeps a promise until it settles; its rejection was already handled by the caller. */
  track(p: Promise<unknown>): void;
  /** Waits for every tracked promise to settle. */
  settle(): Promise<void>;
  /** Lets the event loop turn once, so queued I/O can complete. */
  yieldTurn(): Promise<void>;
  /** Counts truncation calls, so a reader can tell whether one started while it read. */
  noteTruncation(): void;
  truncationsStarted(): number;
  /** In an encrypted run: a new key for rotateKey, known to every later process of the run; else null. */
  newKey(): { keyId: number; key: Buffer } | null;
}

export interface WorkloadOp {
  name: string;
  /** Relative frequency; an operation of weight 0 is never drawn. */
  weight: number;
  run(ctx: WorkloadContext): Promise<void>;
}

/** Payload sizes: mostly small (the common log record), some spanning blocks, a few near a batch. */
export function drawPayload(rng: Prng): Uint8Array {
  const r = rng.below(100);
  const sizeBytes = r < 70 ? rng.between(0, 200) : r < 96 ? rng.between(201, 5000) : rng.between(5001, 40_000);
  const payload = new Uint8Array(sizeBytes);
  rng.fill(payload);
  return payload;
}

/**
 * The errno an error carries (through a WalDurabilityLostError's cause too), or undefined: in
 * tier 1 it must be one the simulated disk injects (EIO, ENOSPC), never ENOENT or EBADF, which
 * would mean ringwal lost track of its own files.
 */
function errnoOf(err: unknown): string | undefined {
  const inner = err instanceof WalDurabilityLostError ? (err as Error).cause : err;
  return inner instanceof WalError && 'errnoName' in inner ? String(inner.errnoName) : undefined;
}

/** Why a typed error cannot be a tier-1 answer, or null. */
function tierOneObjection(ctx: WorkloadContext, err: WalError): string | null {
  if (ctx.oracle.tier !== 1) return null;
  if (ctx.io.failuresDelivered === 0) return `${err.code} although no fault was injected`;
  const errno = errnoOf(err);
  if (errno !== undefined && !INJECTED_ERRNOS.has(errno)) return `${err.code} with errno ${errno}, which the disk never injects`;
  return null;
}

/** A rejection is acceptable only as a typed error, and in tier 1 only after an injected fault. */
export function checkRejection(ctx: WorkloadContext, what: string, err: unknown): void {
  if (!ctx.alive()) return;
  if (!(err instanceof WalError)) {
    ctx.violation(new SimViolation(`${what} rejected with an untyped error: ${String((err as Error)?.stack ?? err)}`));
    return;
  }
  // Tier-2 damage persists across processes (a misdirected write of an earlier one, a latent
  // sector error), so there any typed error is an acceptable answer.
  const objection = tierOneObjection(ctx, err);
  if (objection !== null) ctx.violation(new SimViolation(`${what} rejected with ${objection}: ${err.message}`));
  if (err.code === 'WAL_ERR_IO' || err.code === 'WAL_ERR_DURABILITY_LOST') ctx.markLogFailed();
}

/**
 * An append (or appendBatch) rejected: for lack of space the log goes on and the rejected
 * records leave the timeline; any other typed error follows an injected fault.
 */
function checkAppendRejection(ctx: WorkloadContext, what: string, err: unknown, entries: readonly AppendEntry[]): void {
  checkRejection(ctx, what, err);
  if (!ctx.alive() || !(err instanceof WalNoSpaceError)) return;
  const accepted = err.accepted === null ? 0 : err.accepted.lastLsn - err.accepted.firstLsn + 1;
  if (accepted > 0 && (err.accepted!.firstLsn !== entries[0]!.lsn || accepted >= entries.length)) {
    ctx.violation(
      new SimViolation(
        `${what} rejected for lack of space with LSNs ${err.accepted!.firstLsn}..${err.accepted!.lastLsn} accepted, which are not a proper prefix of the batch`,
      ),
    );
    return;
  }
  ctx.oracle.rejectedNoSpace(entries.slice(accepted));
}

/**
 * The caller's buffer may be reused as soon as append returns: the workload scribbles over it,
 * so a record that kept a reference instead of a copy shows up as wrong bytes.
 */
function reuse(buffer: Uint8Array): void {
  buffer.fill(0x5a);
}

function checkAckAllowed(ctx: WorkloadContext, what: string): boolean {
  if (!ctx.alive()) return false;
  // Once the log reported a failed write or sync, it must acknowledge nothing more. (A failed
  // background write, such as zero-filling the next segment, does not fail the log; whether an
  // acknowledged record really was durable is checked after the next crash.)
  if (ctx.logFailed()) {
    ctx.violation(new SimViolation(`${what} was acknowledged after the log reported a write or sync failure`));
    return false;
  }
  return true;
}

function appendOne(ctx: WorkloadContext): void {
  const payload = drawPayload(ctx.rng);
  const entry = ctx.oracle.noteAppend(payload);
  const what = (): string => `append of LSN ${entry.lsn === 0 ? '(after a truncateAfter)' : entry.lsn}`;
  const callerBuffer = payload.slice();
  const appended = ctx.wal.append(callerBuffer);
  reuse(callerBuffer);
  ctx.track(
    appended
      .then(
        (lsn) => {
          if (checkAckAllowed(ctx, what())) ctx.oracle.acked([entry], lsn, lsn, ctx.io.stats.completions);
        },
        (err: unknown) => checkAppendRejection(ctx, what(), err, [entry]),
      )
      .catch((err: unknown) => ctx.violation(err)),
  );
}

/** Draws an LSN the call must refuse: out of [min, max], or not an integer. */
function drawInvalidLsn(rng: Prng, min: number, max: number, marginAbove: number): number {
  const r = rng.below(5);
  if (r === 0) return min - rng.between(1, 3);
  if (r === 1) return max + marginAbove + rng.between(1, 3);
  if (r === 2) return min + 0.5;
  return r === 3 ? Number.NaN : Number.POSITIVE_INFINITY;
}

/**
 * truncateAfter checks its LSN only once the appends made before it are durable, so an invalid
 * LSN above the range is drawn this far above: more records than one process appends.
 */
const INVALID_LSN_MARGIN = 100_000;
/** Share of truncation calls made with an invalid LSN on purpose, to check the refusal. */
const INVALID_LSN_P = 0.1;

/** The first LSN of each segment file in the directory now, ascending. */
function segmentStarts(ctx: WorkloadContext): number[] {
  const starts: number[] = [];
  for (const name of ctx.io.disk.list(ctx.wal.dir) ?? []) {
    const parsed = parseSegmentFileName(name);
    if (parsed !== undefined) starts.push(parsed.firstLsn);
  }
  return starts.sort((a, b) => a - b);
}

/** A failed truncateBefore leaves the writer as it was: the log is not failed. */
function checkRemovalRejection(ctx: WorkloadContext, what: string, err: unknown): void {
  if (!ctx.alive()) return;
  ctx.oracle.truncatingBefore = false;
  if (!(err instanceof WalError)) {
    ctx.violation(new SimViolation(`${what} rejected with an untyped error: ${String((err as Error)?.stack ?? err)}`));
    return;
  }
  const objection = tierOneObjection(ctx, err);
  if (objection !== null) ctx.violation(new SimViolation(`${what} rejected with ${objection}: ${err.message}`));
}

/** An invalid LSN must be refused with WAL_ERR_INVALID_ARGUMENT (or fail on an injected fault). */
/** Calls truncateBefore or truncateAfter with an LSN out of range: it must be refused as invalid. */
function truncateInvalid(ctx: WorkloadContext, kind: 'before' | 'after', lsn: number, what: string): void {
  if (kind === 'before') ctx.oracle.truncatingBefore = true;
  else ctx.oracle.truncatingAfter = true;
  const cut: Promise<unknown> = kind === 'before' ? ctx.wal.truncateBefore(lsn) : ctx.wal.truncateAfter(lsn);
  ctx.track(
    cut.then(
      () => ctx.violation(new SimViolation(`${what} resolved`)),
      (err: unknown) => checkInvalidRefusal(ctx, what, err, kind),
    ),
  );
}

function checkInvalidRefusal(ctx: WorkloadContext, what: string, err: unknown, kind: 'before' | 'after'): void {
  if (!ctx.alive()) return;
  if (kind === 'before') ctx.oracle.truncatingBefore = false;
  else ctx.oracle.truncatingAfter = false;
  if (err instanceof WalError && err.code === 'WAL_ERR_INVALID_ARGUMENT') return;
  // A log already failed refuses every call with WAL_ERR_DURABILITY_LOST before it looks at the
  // arguments; in tier 2 media damage (not only an injected I/O error) can have failed it.
  if ((ctx.io.failuresDelivered > 0 || ctx.oracle.tier === 2) && err instanceof WalError) {
    checkRejection(ctx, what, err);
    return;
  }
  ctx.violation(new SimViolation(`${what} rejected with ${err instanceof WalError ? err.code : String(err)} instead of WAL_ERR_INVALID_ARGUMENT`));
}

/** The first LSN at or above `lsn` that is not one of ringwal's own records in `slots`. */
function skipOwn(slots: ReadonlyArray<Slot | undefined>, lsn: number): number {
  let at = lsn;
  while (at <= slots.length && isOwnSlot(slots[at - 1])) at += 1;
  return at;
}

/**
 * A concurrent reader: started after some acknowledgements, it must yield every user record that
 * was durable when it started, from max(fromLsn, firstLsn), in order and byte for byte, skipping
 * exactly the LSNs of ringwal's own records, and never a record that was not appended under its
 * LSN. Appends and rollovers go on while it reads.
 */
async function readConcurrently(ctx: WorkloadContext): Promise<void> {
  const view = ctx.oracle.readerView();
  const firstLsn = ctx.wal.firstLsn;
  const durableLsn = ctx.wal.durableLsn;
  // A truncation running beside the reader may remove what it was about to read: then the reader
  // may stop early with a typed error, but still never yield a wrong byte.
  const truncating = ctx.oracle.truncating;
  const truncationsBefore = ctx.truncationsStarted();
  const overlapped = (): boolean => truncating || ctx.truncationsStarted() !== truncationsBefore;
  const readFailuresBefore = ctx.io.stats.readFailures;
  if (!truncating && durableLsn < view.durableEnd && ctx.io.failuresDelivered === 0)
    throw new SimViolation(`the log reports durable LSN ${durableLsn} but ${view.durableEnd} was acknowledged`);
  const fromLsn = ctx.rng.chance(0.5) ? undefined : ctx.rng.between(0, durableLsn + 2);
  const startLsn = Math.max(fromLsn ?? 1, firstLsn);
  let expectLsn = startLsn;
  try {
    let first = true;
    for await (const r of ctx.wal.read(fromLsn === undefined ? undefined : { fromLsn })) {
      if (!ctx.alive()) return;
      if (truncating) {
        // The reader waited for the running truncation and reads the log it leaves, which the
        // view taken before it does not describe (the bytes are CRC-checked by the reader; the
        // recovery checks cover the content). The oracle took in what the truncation did before
        // the reader planned its read, so while no cut is in flight there and no truncation
        // started since, the LSNs it skips must be own records of the oracle's timeline now.
        if (first) expectLsn = r.lsn;
        first = false;
        if (r.lsn < expectLsn) throw new SimViolation(`read from LSN ${startLsn} yielded LSN ${r.lsn} where ${expectLsn} was next (after a truncation)`);
        if (!ctx.oracle.cutInFlight && ctx.truncationsStarted() === truncationsBefore) {
          for (let lsn = expectLsn; lsn < r.lsn; lsn++) {
            if (!isOwnSlot(ctx.oracle.slotAt(lsn)))
              throw new SimViolation(`read from LSN ${startLsn} skipped LSN ${lsn}, which is not one of ringwal's own records (after a truncation)`);
          }
        }
        expectLsn = r.lsn + 1;
        continue;
      }
      const wantLsn = skipOwn(view.slots, expectLsn);
      const want = r.lsn <= view.slots.length ? view.slots[r.lsn - 1] : undefined;
      if (r.lsn !== wantLsn)
        throw new SimViolation(
          `read from LSN ${startLsn} yielded LSN ${r.lsn} where ${wantLsn} was next${isOwnSlot(want) ? ` (LSN ${r.lsn} holds a ${want.kind} record)` : ''}`,
        );
      if (want?.kind !== 'user' || !sameBytes(want.payload, r.payload))
        throw new SimViolation(
          `read from LSN ${startLsn} yielded LSN ${r.lsn} with bytes that were not under it when the read started${overlapped() ? ' (a truncation ran beside it)' : ''}`,
        );
      expectLsn = r.lsn + 1;
    }
  } catch (err) {
    if (err instanceof SimViolation) throw err;
    if (!ctx.alive()) return;
    // A tier-2 bit flip on read makes the reader stop with a typed error: allowed. So does a
    // close of the log under a reader that is still iterating (it stops with WAL_ERR_CLOSED).
    if (err instanceof WalError && (ctx.io.disk.rates.tier === 2 || overlapped())) return;
    if (err instanceof WalError && err.code === 'WAL_ERR_CLOSED') return;
    // A read the disk failed on purpose while this reader ran stops it with that error.
    if (err instanceof WalError && err.code === 'WAL_ERR_IO' && ctx.io.stats.readFailures > readFailuresBefore && tierOneObjection(ctx, err) === null) return;
    throw new SimViolation(`read from LSN ${startLsn} failed: ${String((err as Error)?.stack ?? err)}`);
  }
  // Own records after the last user record yielded are not yielded either: the first user record
  // above it is the one the reader missed.
  const missedLsn = skipOwn(view.slots, expectLsn);
  if (ctx.alive() && missedLsn <= durableLsn && ctx.io.stats.readFailures === readFailuresBefore && ctx.io.failuresDelivered === 0 && !overlapped()) {
    throw new SimViolation(`read from LSN ${startLsn} stopped before LSN ${missedLsn}, but LSNs up to ${durableLsn} were durable when it started`);
  }
}

/** One appendBatch of `count` payloads drawn by `draw`, checked as it resolves or rejects. */
function appendBatchOf(ctx: WorkloadContext, count: number, draw: (rng: Prng) => Uint8Array): void {
  const payloads: Uint8Array[] = [];
  const entries: AppendEntry[] = [];
  for (let i = 0; i < count; i++) {
    const payload = draw(ctx.rng);
    payloads.push(payload);
    entries.push(ctx.oracle.noteAppend(payload));
  }
  const what = (): string => `appendBatch of LSNs ${entries[0]!.lsn}..${entries[count - 1]!.lsn}`;
  const callerBuffers = payloads.map((p) => p.slice());
  const appended = ctx.wal.appendBatch(callerBuffers);
  for (const b of callerBuffers) reuse(b);
  ctx.track(
    appended
      .then(
        (result) => {
          if (checkAckAllowed(ctx, what())) ctx.oracle.acked(entries, result.firstLsn, result.lastLsn, ctx.io.stats.completions);
        },
        (err: unknown) => checkAppendRejection(ctx, what(), err, entries),
      )
      .catch((err: unknown) => ctx.violation(err)),
  );
}

/** Share of own-record calls made with an invalid argument on purpose, to check the refusal. */
const INVALID_OWN_ARGUMENT_P = 0.1;
/**
 * Tenants and collections of tombstones and purges: few, one of each far more often than the
 * rest, so that purges of one collection meet in most logs and the highest must win. Names of 1
 * and 255 bytes of UTF-8 (the limits), and multi-byte ones, whose byte length is not their
 * string length; tenants up to the largest safe integer.
 */
const OWN_TENANTS: readonly number[] = [0, 0, 0, 0, 1, 2 ** 40, Number.MAX_SAFE_INTEGER];
const OWN_COLLECTIONS: readonly string[] = ['users', 'users', 'users', 'orders', 'x', 'commandes-été', '日本'.repeat(42), 'c'.repeat(255)];
/** A plausible wall-clock time (late 2023), so cutoffs look like the ones callers write. */
const CUTOFF_BASE_MS = 1_700_000_000_000;

/**
 * One of ringwal's own records, called like an append: noted at call time (it takes the next
 * LSN in call order, waits in limbo behind a truncateAfter, leaves the timeline when refused for
 * lack of space), checked as it resolves to its LSN or rejects by the rules of an append.
 */
function appendOwn(ctx: WorkloadContext, slot: Slot, call: () => Promise<number>, onAcked: (lsn: number) => void = () => undefined): void {
  const entry = ctx.oracle.note(slot);
  const what = (): string => `${slot.kind} of LSN ${entry.lsn === 0 ? '(after a truncateAfter)' : entry.lsn}`;
  ctx.track(
    call()
      .then(
        (lsn) => {
          if (!checkAckAllowed(ctx, what())) return;
          ctx.oracle.acked([entry], lsn, lsn, ctx.io.stats.completions);
          onAcked(lsn);
        },
        (err: unknown) => checkAppendRejection(ctx, what(), err, [entry]),
      )
      .catch((err: unknown) => ctx.violation(err)),
  );
}

/**
 * A call with an invalid argument: refused at once with `code`, whatever state the log is in
 * (the arguments are checked first), taking no LSN.
 */
function refuseOwn(ctx: WorkloadContext, what: string, code: string, call: () => Promise<unknown>): void {
  const nextLsn = ctx.wal.nextLsn;
  const refused = call();
  if (ctx.wal.nextLsn !== nextLsn) ctx.violation(new SimViolation(`${what} took LSN ${nextLsn}`));
  ctx.track(
    refused.then(
      () => ctx.violation(new SimViolation(`${what} resolved`)),
      (err: unknown) => {
        if (!ctx.alive()) return;
        if (!(err instanceof WalError) || err.code !== code)
          ctx.violation(new SimViolation(`${what} rejected with ${err instanceof WalError ? err.code : String(err)} instead of ${code}`));
      },
    ),
  );
}

/** Calls with a wrong type are the point here: the casts tell TypeScript so. */
type TombstoneArgs = Parameters<Wal['tombstone']>[0];
type TemporalPurgeArgs = Parameters<Wal['temporalPurge']>[0];

/** Records in one transaction of the workload: few and small, so a valid one always fits a batch. */
const TRANSACTION_RECORDS_MAX = 10;
const TRANSACTION_PAYLOAD_BYTES_MAX = 2000;

/**
 * A transaction: a transaction record (own slot) and its records, noted at call time in one go;
 * acknowledged with the LSNs right after the transaction record's. Recovery must keep all of
 * them or none (Oracle.mismatch). Sometimes a transaction that must be refused: empty, not
 * bytes, or larger than one batch.
 */
function appendTransactionOp(ctx: WorkloadContext): void {
  if (ctx.rng.chance(INVALID_OWN_ARGUMENT_P)) {
    const r = ctx.rng.below(3);
    // Each record of 4 KiB takes 4,144 bytes of a batch: one more than a batch's worth is too many.
    const tooMany = Math.floor(ctx.batchBytesMax / 4096) + 1;
    const entries: unknown = r === 0 ? [] : r === 1 ? [{ payload: 'text' }] : Array.from({ length: tooMany }, () => ({ payload: new Uint8Array(4096) }));
    const what = `appendTransaction(${r === 0 ? 'no records' : r === 1 ? 'a string payload' : `${tooMany} records of 4 KiB with batches of ${ctx.batchBytesMax} bytes`})`;
    refuseOwn(ctx, what, 'WAL_ERR_INVALID_ARGUMENT', () => ctx.wal.appendTransaction(entries as Parameters<Wal['appendTransaction']>[0]));
    return;
  }
  const count = ctx.rng.between(1, TRANSACTION_RECORDS_MAX);
  const payloads: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const payload = new Uint8Array(ctx.rng.between(0, TRANSACTION_PAYLOAD_BYTES_MAX));
    ctx.rng.fill(payload);
    payloads.push(payload);
  }
  const start = ctx.oracle.note({ kind: 'transaction', recordCount: count });
  const entries = payloads.map((payload) => ctx.oracle.noteAppend(payload));
  const what = (): string => `appendTransaction of LSNs ${entries[0]!.lsn}..${entries[count - 1]!.lsn}`;
  const callerBuffers = payloads.map((p) => p.slice());
  const appended = ctx.wal.appendTransaction(callerBuffers.map((payload) => ({ payload })));
  for (const b of callerBuffers) reuse(b);
  ctx.track(
    appended
      .then(
        (result) => {
          if (!checkAckAllowed(ctx, what())) return;
          if (start.lsn !== result.firstLsn - 1)
            throw new SimViolation(
              `${what()} resolved with LSNs ${result.firstLsn}..${result.lastLsn}, but its transaction record was to take LSN ${start.lsn}`,
            );
          ctx.oracle.acked(entries, result.firstLsn, result.lastLsn, ctx.io.stats.completions);
        },
        (err: unknown) => checkAppendRejection(ctx, what(), err, [start, ...entries]),
      )
      .catch((err: unknown) => ctx.violation(err)),
  );
}

function checkpointOp(ctx: WorkloadContext): void {
  if (ctx.rng.chance(INVALID_OWN_ARGUMENT_P)) {
    // Not bytes at all, or more bytes than one record holds.
    const oversized = ctx.rng.chance(0.5);
    const payload = oversized ? new Uint8Array(ctx.segmentSizeBytes) : ctx.rng.pick<unknown>(['state', null, undefined, [1, 2, 3], 42, new ArrayBuffer(8)]);
    const what = `checkpoint(${oversized ? `${ctx.segmentSizeBytes} bytes` : describeValue(payload)})`;
    refuseOwn(ctx, what, oversized ? 'WAL_ERR_PAYLOAD_TOO_LARGE' : 'WAL_ERR_INVALID_ARGUMENT', () => ctx.wal.checkpoint(payload as Uint8Array));
    return;
  }
  const payload = drawPayload(ctx.rng);
  const callerBuffer = payload.slice();
  appendOwn(
    ctx,
    { kind: 'checkpoint', payload },
    () => {
      const checkpointed = ctx.wal.checkpoint(callerBuffer);
      reuse(callerBuffer);
      return checkpointed;
    },
    // Resolved: the log knows of it, or of a later one whose acknowledgement is on its way.
    (lsn) => ctx.oracle.checkLastCheckpoint(ctx.wal.lastCheckpoint(), ctx.wal.firstLsn, ctx.wal.durableLsn, `checkpoint of LSN ${lsn} resolved`),
  );
}

/** Breaks one of a tombstone's or purge's arguments; the rest stay valid. */
function breakOwnArgs(rng: Prng, args: Record<string, unknown>, valueKey: string, invalidValues: readonly unknown[]): unknown {
  const r = rng.below(4);
  if (r === 0) return rng.pick<unknown>([null, 'tenant 1', 7]);
  if (r === 1) return { ...args, tenant: rng.pick<unknown>([-1, 1.5, '1', undefined, 2 ** 53]) };
  if (r === 2) return { ...args, collection: rng.pick<unknown>(['', 'c'.repeat(256), 'é'.repeat(128), '\uD800', 42, undefined]) };
  return { ...args, [valueKey]: rng.pick(invalidValues) };
}

/** Purges of one collection per tombstone or temporalPurge operation, made in one turn, their values in any order. */
const OWN_BURST_MAX = 3;

function tombstoneOp(ctx: WorkloadContext): void {
  const tenant = ctx.rng.pick(OWN_TENANTS);
  const collection = ctx.rng.pick(OWN_COLLECTIONS);
  const count = ctx.rng.between(1, OWN_BURST_MAX);
  for (let i = 0; i < count; i++) {
    // Mostly an LSN near the log, sometimes the largest one allowed.
    const purgeLsn = ctx.rng.chance(0.1) ? Number.MAX_SAFE_INTEGER : ctx.rng.between(0, ctx.wal.nextLsn + 10);
    if (ctx.rng.chance(INVALID_OWN_ARGUMENT_P)) {
      const args = breakOwnArgs(ctx.rng, { tenant, collection, purgeLsn }, 'purgeLsn', [-1, 0.5, Number.NaN, undefined, 2 ** 53]);
      refuseOwn(ctx, `tombstone(${describeValue(args)})`, 'WAL_ERR_INVALID_ARGUMENT', () => ctx.wal.tombstone(args as TombstoneArgs));
      continue;
    }
    appendOwn(ctx, { kind: 'tombstone', tenant, collection, purgeLsn }, () => ctx.wal.tombstone({ tenant, collection, purgeLsn }));
  }
}

function temporalPurgeOp(ctx: WorkloadContext): void {
  const tenant = ctx.rng.pick(OWN_TENANTS);
  const collection = ctx.rng.pick(OWN_COLLECTIONS);
  const count = ctx.rng.between(1, OWN_BURST_MAX);
  for (let i = 0; i < count; i++) {
    const r = ctx.rng.below(10);
    // Mostly a recent time; sometimes the epoch or before it (any integer is a valid cutoff).
    const cutoffMs = r === 0 ? 0 : r === 1 ? -ctx.rng.between(1, 1000) : CUTOFF_BASE_MS + ctx.rng.between(0, 1_000_000);
    if (ctx.rng.chance(INVALID_OWN_ARGUMENT_P)) {
      const args = breakOwnArgs(ctx.rng, { tenant, collection, cutoffMs }, 'cutoffMs', [1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '5', undefined]);
      refuseOwn(ctx, `temporalPurge(${describeValue(args)})`, 'WAL_ERR_INVALID_ARGUMENT', () => ctx.wal.temporalPurge(args as TemporalPurgeArgs));
      continue;
    }
    appendOwn(ctx, { kind: 'temporalPurge', tenant, collection, cutoffMs }, () => ctx.wal.temporalPurge({ tenant, collection, cutoffMs }));
  }
}

/** A value as a violation message shows it (NaN, undefined and a lone surrogate survive). */
function describeValue(value: unknown): string {
  if (value === undefined || typeof value === 'number') return String(value);
  if (typeof value === 'string') return JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}… (${value.length} chars)` : value);
  if (value instanceof ArrayBuffer) return `ArrayBuffer(${value.byteLength})`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return JSON.stringify(value);
  return `{ ${Object.entries(value)
    .map(([k, v]) => `${k}: ${describeValue(v)}`)
    .join(', ')} }`;
}

export const WORKLOAD_OPS: readonly WorkloadOp[] = [
  {
    name: 'append',
    weight: 40,
    async run(ctx) {
      // Several appends in one turn: they share a batch, like concurrent callers.
      const count = ctx.rng.between(1, 12);
      for (let i = 0; i < count; i++) appendOne(ctx);
    },
  },
  {
    name: 'appendBatch',
    weight: 12,
    async run(ctx) {
      appendBatchOf(ctx, ctx.rng.between(1, 24), drawPayload);
    },
  },
  {
    name: 'sync',
    weight: 8,
    async run(ctx) {
      const covered = ctx.oracle.lastEntry;
      ctx.track(
        ctx.wal.sync().then(
          () => {
            if (checkAckAllowed(ctx, 'sync')) ctx.oracle.synced(covered);
          },
          (err: unknown) => checkRejection(ctx, 'sync', err),
        ),
      );
    },
  },
  {
    name: 'yield',
    weight: 25,
    async run(ctx) {
      const turns = ctx.rng.between(1, 6);
      for (let i = 0; i < turns; i++) await ctx.yieldTurn();
    },
  },
  {
    name: 'settle',
    weight: 8,
    async run(ctx) {
      await ctx.settle();
    },
  },
  {
    name: 'read',
    weight: 4,
    async run(ctx) {
      // Half the readers run beside the operations that follow (appends, rollovers, truncations).
      if (ctx.rng.chance(0.5)) {
        await readConcurrently(ctx);
        return;
      }
      ctx.track(readConcurrently(ctx).catch((err: unknown) => ctx.violation(err)));
    },
  },
  {
    name: 'truncateBefore',
    weight: 3,
    async run(ctx) {
      if (ctx.oracle.truncatingBefore) return;
      const wal = ctx.wal;
      const first = wal.firstLsn;
      const next = wal.nextLsn;
      if (ctx.rng.chance(INVALID_LSN_P)) {
        // Above the range only with no cut queued: while one is, the bound is the LSN space.
        const lsn = drawInvalidLsn(ctx.rng, 0, ctx.oracle.cutInFlight ? Number.MAX_SAFE_INTEGER : next, INVALID_LSN_MARGIN);
        truncateInvalid(ctx, 'before', lsn, `truncateBefore(${lsn}) with the log at ${first}..${next - 1}`);
        return;
      }
      // Mostly a checkpoint inside the log; sometimes below its start (a no-op) or at its end.
      const r = ctx.rng.below(10);
      const lsn = r === 0 ? ctx.rng.between(0, first) : r === 1 ? next : ctx.rng.between(first, next);
      const what = `truncateBefore(${lsn}) with the log at ${first}..${next - 1}`;
      // Segments named now whose successor is also named now were sealed and known to the log:
      // the call must remove every one of them that ends below `lsn`.
      const starts = segmentStarts(ctx);
      let reachMin = starts[0] ?? first;
      for (let i = 1; i < starts.length - 1; i++) if (starts[i]! <= lsn) reachMin = starts[i]!;
      // A cut queued ahead runs first and may replace or remove those segments.
      const cutAhead = ctx.oracle.cutInFlight;
      ctx.oracle.truncatingBefore = true;
      ctx.oracle.truncateBeforeStarted(lsn);
      ctx.noteTruncation();
      ctx.track(
        wal
          .truncateBefore(lsn)
          .then(
            (result) => {
              // Removing segments does not depend on the writer: it may finish after a failed append.
              if (!ctx.alive()) return;
              ctx.oracle.truncatingBefore = false;
              const firstAfter = wal.firstLsn;
              ctx.oracle.truncateBeforeResolved(lsn, firstAfter);
              const removed = result.segmentsRemoved;
              if (!Number.isSafeInteger(removed) || removed < 0 || removed > 0 !== firstAfter > first || removed > 0 !== result.bytesRemoved > 0) {
                throw new SimViolation(`${what} resolved with ${JSON.stringify(result)} and moved the first LSN to ${firstAfter}`);
              }
              if (!cutAhead && firstAfter < reachMin)
                throw new SimViolation(`${what} stopped at LSN ${firstAfter}, but the sealed segments up to ${reachMin} hold only records below ${lsn}`);
              const startsAfter = segmentStarts(ctx);
              if (startsAfter[0] !== firstAfter)
                throw new SimViolation(`${what}: the log reports first LSN ${firstAfter} but its first segment file starts at ${startsAfter[0]}`);
              const removedFiles = starts.filter((s) => s < firstAfter).length;
              if (!cutAhead && removed < removedFiles)
                throw new SimViolation(`${what} reported ${removed} segments removed, but ${removedFiles} segment files below LSN ${firstAfter} are gone`);
              // A checkpoint in a removed segment is forgotten, the last one left is still known.
              ctx.oracle.checkLastCheckpoint(wal.lastCheckpoint(), firstAfter, wal.durableLsn, `${what} resolved`);
            },
            (err: unknown) => {
              checkRemovalRejection(ctx, what, err);
              if (ctx.alive()) ctx.oracle.truncateBeforeRejected(lsn);
            },
          )
          .catch((err: unknown) => ctx.violation(err)),
      );
    },
  },
  {
    name: 'checkpoint',
    weight: 3,
    async run(ctx) {
      checkpointOp(ctx);
    },
  },
  {
    name: 'tombstone',
    weight: 2,
    async run(ctx) {
      tombstoneOp(ctx);
    },
  },
  {
    name: 'temporalPurge',
    weight: 1,
    async run(ctx) {
      temporalPurgeOp(ctx);
    },
  },
  {
    name: 'appendTransaction',
    weight: 6,
    async run(ctx) {
      appendTransactionOp(ctx);
    },
  },
  {
    name: 'rotateKey',
    weight: 1,
    async run(ctx) {
      const spec = ctx.newKey();
      if (spec === null) return;
      // No LSN changes: the next append goes to the new segment. A failure follows a fault.
      ctx.track(ctx.wal.rotateKey(spec).catch((err: unknown) => checkRejection(ctx, `rotateKey(${spec.keyId})`, err)));
    },
  },
  {
    name: 'truncateAfter',
    weight: 2,
    async run(ctx) {
      if (ctx.oracle.truncatingAfter) return;
      const wal = ctx.wal;
      const first = wal.firstLsn;
      const durable = wal.durableLsn;
      // A truncateBefore queued ahead may still move the first LSN: the cut is checked again then.
      const removalAhead = ctx.oracle.truncatingBefore;
      if (ctx.rng.chance(INVALID_LSN_P)) {
        const lsn = drawInvalidLsn(ctx.rng, first - 1, wal.nextLsn - 1, INVALID_LSN_MARGIN);
        truncateInvalid(ctx, 'after', lsn, `truncateAfter(${lsn}) with the log at ${first}..${durable} durable`);
        return;
      }
      // Mostly a few records back (a Raft conflict); sometimes the whole log, or nothing.
      const r = ctx.rng.below(10);
      const lsn = r === 0 ? first - 1 : r === 1 ? durable : Math.max(first - 1, durable - ctx.rng.between(0, 40));
      const what = `truncateAfter(${lsn}) with the log at ${first}..${durable} durable`;
      // Cutting there would keep part of a transaction: the call must be refused. (Appends
      // rejected for lack of space before its turn may move the transaction's LSNs.)
      const across = ctx.oracle.transactionAcross(lsn);
      ctx.oracle.truncatingAfter = true;
      ctx.oracle.truncateAfterStarted(lsn);
      ctx.noteTruncation();
      ctx.track(
        wal
          .truncateAfter(lsn)
          .then(
            () => {
              if (!checkAckAllowed(ctx, what)) return;
              if (across !== null && ctx.io.failuresDelivered === 0)
                throw new SimViolation(`${what} resolved, though it cuts inside the transaction of LSNs ${across.firstLsn}..${across.lastLsn}`);
              ctx.oracle.truncatingAfter = false;
              ctx.oracle.truncateAfterResolved();
              if (wal.durableLsn < lsn || (!removalAhead && wal.firstLsn !== first))
                throw new SimViolation(`${what} resolved with the log at ${wal.firstLsn}..${wal.durableLsn} durable`);
              // A checkpoint above the cut is gone: the last one at or below it is the last now.
              ctx.oracle.checkLastCheckpoint(wal.lastCheckpoint(), wal.firstLsn, wal.durableLsn, `${what} resolved`);
            },
            (err: unknown) => {
              if (!ctx.alive()) return;
              // Refused at its turn: a truncateBefore ahead of it raised the first LSN above the
              // cut, appends it counted on were rejected for lack of space, or it cuts inside a
              // transaction.
              if (err instanceof WalError && err.code === 'WAL_ERR_INVALID_ARGUMENT' && (removalAhead || ctx.io.failuresDelivered > 0 || across !== null)) {
                ctx.oracle.truncatingAfter = false;
                ctx.oracle.truncateAfterRefused();
                ctx.oracle.checkLastCheckpoint(wal.lastCheckpoint(), wal.firstLsn, wal.durableLsn, `${what} refused`);
                return;
              }
              checkRejection(ctx, what, err);
            },
          )
          .catch((err: unknown) => ctx.violation(err)),
      );
    },
  },
];

/** A payload of 4..16 KiB: a batch of 16..40 of them is larger than 64 KiB, often several times. */
function drawLargePayload(rng: Prng): Uint8Array {
  const payload = new Uint8Array(rng.between(4096, 16_384));
  rng.fill(payload);
  return payload;
}

/**
 * The workload of runs whose processes switch between small and large batches: the same
 * operations, plus appendBatch calls big enough to fill a large batch, whose torn writes reach
 * further into the segment than a small writer's can (O8, V3).
 */
export const LARGE_BATCH_WORKLOAD_OPS: readonly WorkloadOp[] = [
  ...WORKLOAD_OPS,
  {
    name: 'largeAppendBatch',
    weight: 10,
    async run(ctx) {
      appendBatchOf(ctx, ctx.rng.between(16, 40), drawLargePayload);
    },
  },
];

/** Draws an operation by weight. */
export function drawOp(rng: Prng, ops: readonly WorkloadOp[] = WORKLOAD_OPS): WorkloadOp {
  let total = 0;
  for (const op of ops) total += op.weight;
  let r = rng.below(total);
  for (const op of ops) {
    if (r < op.weight) return op;
    r -= op.weight;
  }
  throw new Error('unreachable: weights changed during the draw');
}
