/**
 * The random workload of one simulated process: a list of weighted operations, each a small
 * async function over a WorkloadContext. To test a new feature (rollover, truncation, the DWB,
 * encryption), add an operation to WORKLOAD_OPS: it draws its arguments from `ctx.rng`, calls
 * the Wal, and tells the oracle what it appended (`ctx.append…`) and what was acknowledged.
 *
 * Operations never wait on their own appends unless they mean to: appends issued in one turn
 * join one batch, and `ctx.track` keeps the promises so that `settle` and close can wait for
 * them. Every rejection must be a WalError; in tier 1 it must also follow an injected fault.
 */
import { WalError } from '../errors.js';
import type { Wal } from '../writer/wal.js';
import { Oracle, SimViolation } from './oracle.js';
import type { Prng } from './prng.js';
import type { SimIo } from './sim-io.js';

export interface WorkloadContext {
  readonly rng: Prng;
  readonly wal: Wal;
  readonly io: SimIo;
  readonly oracle: Oracle;
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

/** A rejection is acceptable only as a typed error, and in tier 1 only after an injected fault. */
export function checkRejection(ctx: WorkloadContext, what: string, err: unknown): void {
  if (!ctx.alive()) return;
  if (!(err instanceof WalError)) {
    ctx.violation(new SimViolation(`${what} rejected with an untyped error: ${String((err as Error)?.stack ?? err)}`));
    return;
  }
  // Tier-2 damage persists across processes (a misdirected write of an earlier one, a latent
  // sector error), so there any typed error is an acceptable answer.
  if (ctx.oracle.tier === 1 && ctx.io.failuresDelivered === 0) ctx.violation(new SimViolation(`${what} rejected with ${err.code} although no fault was injected: ${err.message}`));
  if (err.code === 'WAL_ERR_IO' || err.code === 'WAL_ERR_DURABILITY_LOST') ctx.markLogFailed();
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
  const expectedLsn = ctx.oracle.noteAppend(payload);
  ctx.track(
    ctx.wal.append(payload).then(
      (lsn) => {
        if (checkAckAllowed(ctx, `append of LSN ${expectedLsn}`)) ctx.oracle.acked(expectedLsn, lsn);
      },
      (err: unknown) => checkRejection(ctx, `append of LSN ${expectedLsn}`, err),
    ),
  );
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
      const count = ctx.rng.between(1, 24);
      const payloads: Uint8Array[] = [];
      let firstLsn = 0;
      for (let i = 0; i < count; i++) {
        const payload = drawPayload(ctx.rng);
        payloads.push(payload);
        const lsn = ctx.oracle.noteAppend(payload);
        if (i === 0) firstLsn = lsn;
      }
      const lastLsn = firstLsn + count - 1;
      ctx.track(
        ctx.wal.appendBatch(payloads).then(
          (result) => {
            if (!checkAckAllowed(ctx, `appendBatch of LSNs ${firstLsn}..${lastLsn}`)) return;
            if (result.firstLsn !== firstLsn) ctx.violation(new SimViolation(`appendBatch resolved with first LSN ${result.firstLsn}, expected ${firstLsn}`));
            else ctx.oracle.acked(lastLsn, result.lastLsn);
          },
          (err: unknown) => checkRejection(ctx, `appendBatch of LSNs ${firstLsn}..${lastLsn}`, err),
        ),
      );
    },
  },
  {
    name: 'sync',
    weight: 8,
    async run(ctx) {
      const covered = ctx.oracle.appendedCount;
      ctx.track(
        ctx.wal.sync().then(
          () => {
            if (checkAckAllowed(ctx, `sync covering ${covered} appends`)) ctx.oracle.synced(covered);
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
      // A reader beside the writer sees exactly the durable prefix as it was when it started.
      const mustHave = ctx.oracle.durableCount;
      let count = 0;
      try {
        for await (const r of ctx.wal.read()) {
          if (!ctx.alive()) return;
          count += 1;
          const want = ctx.oracle.expected(r.lsn);
          if (r.lsn !== count) throw new SimViolation(`read yielded LSN ${r.lsn} as record ${count}`);
          if (want === undefined || !Buffer.from(want).equals(r.payload)) throw new SimViolation(`read yielded LSN ${r.lsn} with bytes that were not appended under it`);
        }
      } catch (err) {
        if (err instanceof SimViolation) throw err;
        // A tier-2 bit flip on read makes the reader stop with a typed error: allowed.
        if (ctx.alive() && !(err instanceof WalError && ctx.io.disk.rates.tier === 2)) throw new SimViolation(`read failed: ${String((err as Error)?.stack ?? err)}`);
        return;
      }
      if (ctx.alive() && count < mustHave && ctx.io.failuresDelivered === 0) throw new SimViolation(`read yielded ${count} records but ${mustHave} were acknowledged before it started`);
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
