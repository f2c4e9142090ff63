/**
 * What the log must contain, kept beside the simulated run.
 *
 *   log         the expected payload of every LSN of the current timeline (index lsn − 1); LSNs
 *               below the log's first are holes. Appends are pushed at call time, with the LSN
 *               they must get;
 *   durableEnd  every LSN from the front up to here survives a crash (acknowledged by an append,
 *               appendBatch or sync, or present after the last recovery);
 *   front       [frontMin, frontMax]: where the recovered log may start. A truncateBefore that
 *               started raises frontMax to its LSN (records below may be gone after a crash); one
 *               that resolved raises frontMin to the log's new first LSN (they are gone);
 *   cut         a truncateAfter in flight: its LSN, and the appends made after the call
 *               ("limbo"): they wait behind the cut and take LSNs from lsn + 1 once it resolves,
 *               or continue the old log if it is refused. An acknowledgement of a limbo append
 *               before either is a violation: the record would be one a later cut removes.
 *
 * After a crash (or a clean close) and a reopen, the recovered log R, from first LSN F to last
 * LSN E, must have frontMin ≤ F ≤ frontMax and match one outcome:
 *   old  R = log[F..E] (limbo continuing it), durableEnd ≤ E ≤ every LSN appended;
 *   cut  (only while a truncateAfter(lsn) is in flight) R = log[F..lsn] ++ limbo[0..k):
 *        the cut happened whole; nothing between the two is allowed.
 * Every byte is what was appended with that LSN and the next LSN is E + 1. Tier 2 relaxes only
 * the lower bound on E, counting how often that happened.
 */
import type { FaultTier } from '../../dist/sim/fault-model.js';

export interface RecoveredRecord {
  lsn: number;
  payload: Uint8Array;
}

/** One appended record; `lsn` is 0 while it is in limbo (appended during a truncateAfter). */
export interface AppendEntry {
  readonly payload: Uint8Array;
  lsn: number;
}

export class SimViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimViolation';
  }
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

interface Cut {
  lsn: number;
  limbo: AppendEntry[];
}

/** One allowed outcome of a recovery: the content by LSN and the range of last LSNs. */
interface Outcome {
  name: string;
  payloadOf(lsn: number): Uint8Array | undefined;
  endMin: number;
  endMax: number;
}

export class Oracle {
  private log: Array<Uint8Array | undefined> = [];
  /** The append behind each LSN of `log` made in this process (undefined for recovered ones). */
  private entries: Array<AppendEntry | undefined> = [];
  private durableEnd = 0;
  private frontMin = 1;
  private frontMax = 1;
  /** The highest LSN of a rejected truncateBefore since the last recovery (0 for none). */
  private removedUpTo = 0;
  /** The highest LSN acknowledged in the current timeline, to check acknowledgement order. */
  private lastAckLsn = 0;
  private cut: Cut | null = null;
  /**
   * A truncateBefore / a truncateAfter was called and has not settled. The workload runs at most
   * one of each kind at a time; one may be queued behind the other.
   */
  truncatingBefore = false;
  truncatingAfter = false;
  /** The last append made, which a sync made now covers. */
  lastEntry: AppendEntry | null = null;
  /** Tier 2 information: recoveries that lost acknowledged records, and how many records. */
  lostAckedRecoveries = 0;
  lostAckedRecords = 0;

  constructor(readonly tier: FaultTier) {}

  /** Records in the log after the last recovery. */
  get recordCount(): number {
    return Math.max(0, this.log.length - this.frontMin + 1);
  }

  /** The LSN the next append gets, or 0 while a truncateAfter makes it unknown. */
  get nextLsn(): number {
    return this.cut === null ? this.log.length + 1 : 0;
  }

  get cutInFlight(): boolean {
    return this.cut !== null;
  }

  /** A truncation of either kind is queued or running. */
  get truncating(): boolean {
    return this.truncatingBefore || this.truncatingAfter;
  }

  /** Notes an append at call time. */
  noteAppend(payload: Uint8Array): AppendEntry {
    let entry: AppendEntry;
    if (this.cut !== null) {
      entry = { payload, lsn: 0 };
      this.cut.limbo.push(entry);
    } else {
      this.log.push(payload);
      entry = { payload, lsn: this.log.length };
      this.entries[entry.lsn - 1] = entry;
    }
    this.lastEntry = entry;
    return entry;
  }

  /** An append (or appendBatch of `entries`) resolved with LSNs firstLsn..lastLsn. */
  acked(entries: readonly AppendEntry[], firstLsn: number, lastLsn: number): void {
    const last = entries[entries.length - 1]!;
    if (last.lsn === 0) {
      throw new SimViolation(
        `an append made after truncateAfter(${this.cut?.lsn}) was called was acknowledged with LSN ${lastLsn} before the cut finished: the cut could remove it`,
      );
    }
    const want = `${entries[0]!.lsn}..${last.lsn}`;
    if (firstLsn !== entries[0]!.lsn || lastLsn !== last.lsn)
      throw new SimViolation(`append acknowledged with LSNs ${firstLsn}..${lastLsn}, but it was the append that must get LSNs ${want}`);
    if (lastLsn <= this.lastAckLsn) throw new SimViolation(`acknowledgement of LSN ${lastLsn} arrived after that of LSN ${this.lastAckLsn}`);
    this.lastAckLsn = lastLsn;
    if (lastLsn > this.durableEnd) this.durableEnd = lastLsn;
  }

  /**
   * Appends rejected with WAL_ERR_NO_SPACE: they never got their LSNs, and every append made
   * after them takes one LSN less (the writer only ever rejects the appends still waiting, in
   * call order, so those after them were waiting too or came later).
   */
  rejectedNoSpace(entries: readonly AppendEntry[]): void {
    for (const entry of entries) {
      if (entry.lsn === 0) {
        const limbo = this.cut?.limbo ?? [];
        if (limbo.includes(entry)) throw new SimViolation('an append made after a truncateAfter was rejected for lack of space before the cut finished');
        continue;
      }
      const index = entry.lsn - 1;
      if (this.entries[index] !== entry)
        throw new SimViolation(`append of LSN ${entry.lsn} was rejected for lack of space, but the log no longer holds it there`);
      if (entry.lsn <= this.durableEnd)
        throw new SimViolation(`append of LSN ${entry.lsn} was rejected for lack of space after it was acknowledged or recovered`);
      this.log.splice(index, 1);
      this.entries.splice(index, 1);
      entry.lsn = 0;
      for (let i = index; i < this.entries.length; i++) {
        const later = this.entries[i];
        if (later !== undefined) later.lsn = i + 1;
      }
    }
  }

  /** A sync resolved: `covered`, the last append made before it, is durable if it is still in the log. */
  synced(covered: AppendEntry | null): void {
    if (covered === null || covered.lsn === 0 || this.log[covered.lsn - 1] !== covered.payload) return;
    if (covered.lsn > this.durableEnd) this.durableEnd = covered.lsn;
  }

  /** The payload of `lsn` in the current timeline. */
  expected(lsn: number): Uint8Array | undefined {
    return lsn >= this.frontMin ? this.log[lsn - 1] : undefined;
  }

  /** The log as a reader that starts now must see it: payloads by LSN and the durable end. */
  readerView(): { payloads: ReadonlyArray<Uint8Array | undefined>; durableEnd: number; frontMin: number } {
    return { payloads: this.log.slice(), durableEnd: this.durableEnd, frontMin: this.frontMin };
  }

  /** How far the log must survive a crash now (tier 1). */
  get durableLsn(): number {
    return this.durableEnd;
  }

  truncateBeforeStarted(lsn: number): void {
    if (lsn > this.frontMax) this.frontMax = lsn;
  }

  /**
   * A truncateBefore(lsn) was rejected (a directory fsync after an unlink failed): the segments
   * it unlinked are gone from the log even so, so the log may start as far as `lsn` from now on.
   */
  truncateBeforeRejected(lsn: number): void {
    if (lsn > this.removedUpTo) this.removedUpTo = lsn;
  }

  /** A truncateBefore resolved and the log now starts at `firstLsn`. */
  truncateBeforeResolved(lsn: number, firstLsn: number): void {
    const highest = Math.max(this.frontMin, lsn, this.removedUpTo);
    if (firstLsn < this.frontMin || firstLsn > highest) {
      throw new SimViolation(
        `truncateBefore(${lsn}) left the log starting at LSN ${firstLsn}, outside [${this.frontMin}, ${highest}]: ${firstLsn < this.frontMin ? 'removed records reappeared' : `records ≥ ${lsn} were removed`}`,
      );
    }
    this.frontMin = firstLsn;
  }

  /** A valid truncateAfter(lsn) was called: until it resolves, both outcomes are allowed. */
  truncateAfterStarted(lsn: number): void {
    if (this.cut !== null) throw new Error('one truncateAfter at a time');
    this.cut = { lsn, limbo: [] };
  }

  /** The cut is durable: LSNs above `lsn` are gone, and the limbo entries follow it in call order. */
  truncateAfterResolved(): void {
    const cut = this.cut!;
    this.cut = null;
    this.log.length = cut.lsn;
    this.entries.length = cut.lsn;
    this.durableEnd = cut.lsn;
    this.lastAckLsn = cut.lsn;
    this.appendLimbo(cut.limbo);
  }

  /**
   * The truncateAfter was refused once it was its turn (an earlier truncation moved the bounds):
   * nothing was cut, and the limbo entries continue the old log in call order.
   */
  truncateAfterRefused(): void {
    const cut = this.cut!;
    this.cut = null;
    this.appendLimbo(cut.limbo);
  }

  private appendLimbo(limbo: readonly AppendEntry[]): void {
    for (const e of limbo) {
      this.log.push(e.payload);
      e.lsn = this.log.length;
      this.entries[e.lsn - 1] = e;
    }
  }

  private outcomes(): Outcome[] {
    const log = this.log;
    const limbo = this.cut?.limbo ?? [];
    const old: Outcome = {
      name: 'the log as it was',
      payloadOf: (lsn) => (lsn <= log.length ? log[lsn - 1] : limbo[lsn - log.length - 1]?.payload),
      endMin: this.durableEnd,
      endMax: log.length + limbo.length,
    };
    if (this.cut === null) return [old];
    const cutLsn = this.cut.lsn;
    const cut: Outcome = {
      name: `the log cut after LSN ${cutLsn}`,
      payloadOf: (lsn) => (lsn <= cutLsn ? log[lsn - 1] : limbo[lsn - cutLsn - 1]?.payload),
      endMin: cutLsn,
      endMax: cutLsn + limbo.length,
    };
    return [old, cut];
  }

  /** Why `records` (F..E) is not `outcome`, or null when it is. */
  private mismatch(outcome: Outcome, records: readonly RecoveredRecord[], endLsn: number): string | null {
    for (const r of records) {
      const want = outcome.payloadOf(r.lsn);
      if (want === undefined) return `recovered LSN ${r.lsn} was never appended`;
      if (!sameBytes(want, r.payload)) return `recovered LSN ${r.lsn} has ${r.payload.byteLength} bytes that differ from the ${want.byteLength} appended`;
    }
    if (endLsn > outcome.endMax) return `the log ends at LSN ${endLsn}, beyond the ${outcome.endMax} appended`;
    if (endLsn < outcome.endMin && this.tier === 1) return `the log ends at LSN ${endLsn} but LSN ${outcome.endMin} was durable: LSN ${endLsn + 1} was lost`;
    return null;
  }

  /**
   * Checks a recovered log and makes it the new baseline. `records` are what a full read
   * returned, `firstLsn` and `nextLsn` what the log reports.
   */
  recovered(records: readonly RecoveredRecord[], firstLsn: number, nextLsn: number): void {
    if (firstLsn < this.frontMin || firstLsn > this.frontMax) {
      throw new SimViolation(
        `the recovered log starts at LSN ${firstLsn}, outside [${this.frontMin}, ${this.frontMax}]: ${firstLsn < this.frontMin ? 'removed records reappeared' : 'records no truncateBefore removed are missing'}`,
      );
    }
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      if (r.lsn !== firstLsn + i)
        throw new SimViolation(
          `record ${i} of the recovered log has LSN ${r.lsn}, expected ${firstLsn + i} (LSNs must run from the first with no gap or repeat)`,
        );
    }
    const endLsn = firstLsn + records.length - 1;
    if (nextLsn !== endLsn + 1) throw new SimViolation(`after recovering LSNs ${firstLsn}..${endLsn} the next LSN is ${nextLsn}, expected ${endLsn + 1}`);
    const outcomes = this.outcomes();
    const why = outcomes.map((o) => this.mismatch(o, records, endLsn));
    const matched = why.findIndex((w) => w === null);
    if (matched < 0) throw new SimViolation(outcomes.map((o, i) => `not ${o.name}: ${why[i]}`).join('; '));
    const outcome = outcomes[matched]!;
    if (endLsn < outcome.endMin) {
      this.lostAckedRecoveries += 1;
      this.lostAckedRecords += outcome.endMin - endLsn;
    }
    const next: Array<Uint8Array | undefined> = new Array<Uint8Array | undefined>(firstLsn - 1);
    for (const r of records) next.push(outcome.payloadOf(r.lsn));
    this.log = next;
    this.entries = [];
    this.durableEnd = endLsn;
    this.frontMin = firstLsn;
    this.frontMax = firstLsn;
    this.removedUpTo = 0;
    this.lastAckLsn = 0;
    this.cut = null;
    this.truncatingBefore = false;
    this.truncatingAfter = false;
    this.lastEntry = null;
  }
}
