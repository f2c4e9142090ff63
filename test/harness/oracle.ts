/**
 * What the log must contain, kept beside the simulated run.
 *
 *   log         what every LSN of the current timeline holds (index lsn − 1): a user record or one
 *               of ringwal's own records (a checkpoint, a tombstone, a temporal purge), which take
 *               an LSN like an append made at that moment but are never yielded by a read. LSNs
 *               below the log's first are holes. Appends are pushed at call time, with the LSN
 *               they must get;
 *   durableEnd  every LSN from the front up to here survives a crash (acknowledged by an append,
 *               appendBatch, own record or sync, or present after the last recovery);
 *   front       [frontMin, frontMax]: where the recovered log may start. A truncateBefore that
 *               started raises frontMax to its LSN (records below may be gone after a crash); one
 *               that resolved raises frontMin to the log's new first LSN (they are gone);
 *   cut         a truncateAfter in flight: its LSN, and the appends made after the call
 *               ("limbo"): they wait behind the cut and take LSNs from lsn + 1 once it resolves,
 *               or continue the old log if it is refused. An acknowledgement of a limbo append
 *               before either is a violation: the record would be one a later cut removes.
 *
 * After a crash (or a clean close) and a reopen, the recovered log R, from first LSN F to last
 * LSN E (the log's next LSN − 1: the last slot may be an own record, which no read shows), must
 * have frontMin ≤ F ≤ frontMax and match one outcome:
 *   old  R = log[F..E] (limbo continuing it), durableEnd ≤ E ≤ every LSN appended;
 *   cut  (only while a truncateAfter(lsn) is in flight) R = log[F..lsn] ++ limbo[0..k):
 *        the cut happened whole; nothing between the two is allowed.
 * A full read of R yields exactly its user slots, in order, byte for byte: an LSN is missing
 * from the read exactly where an own record sits. The last checkpoint and the tombstones the log
 * reports are those of R's own slots. Tier 2 relaxes only the lower bound on E, counting how
 * often that happened.
 */
import type { FaultTier } from '../../dist/sim/fault-model.js';
import type { TemporalPurgeEntry, TombstoneEntry } from '../../dist/writer/tombstones.js';

export interface RecoveredRecord {
  lsn: number;
  payload: Uint8Array;
  /** The transaction the read said the record is part of. */
  txn: { firstLsn: number; lastLsn: number } | null;
}

/** What one LSN holds: a user record, or one of ringwal's own records and what it says. */
export type Slot =
  | { readonly kind: 'user'; readonly payload: Uint8Array }
  | { readonly kind: 'checkpoint'; readonly payload: Uint8Array }
  | { readonly kind: 'transaction'; readonly recordCount: number }
  | { readonly kind: 'tombstone'; readonly tenant: number; readonly collection: string; readonly purgeLsn: number }
  | { readonly kind: 'temporalPurge'; readonly tenant: number; readonly collection: string; readonly cutoffMs: number };

/** One call that takes an LSN; `lsn` is 0 while it is in limbo (made during a truncateAfter). */
export interface AppendEntry {
  readonly slot: Slot;
  lsn: number;
}

/** What `Wal.lastCheckpoint()` returns. */
export interface CheckpointSeen {
  lsn: number;
  payload: Uint8Array;
}

/** What `Wal.tombstones()` returns, as far as the oracle compares it. */
export interface TombstonesSeen {
  readonly tombstones: readonly TombstoneEntry[];
  readonly temporalPurges: readonly TemporalPurgeEntry[];
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

/** One of ringwal's own records: an LSN a read skips. */
export type OwnSlot = Exclude<Slot, { kind: 'user' }>;

/** Whether `slot` is one of ringwal's own records; a hole or a user record is not. */
export function isOwnSlot(slot: Slot | undefined): slot is OwnSlot {
  return slot !== undefined && slot.kind !== 'user';
}

interface Cut {
  lsn: number;
  limbo: AppendEntry[];
}

/** One allowed outcome of a recovery: the content by LSN and the range of last LSNs. */
interface Outcome {
  name: string;
  slotOf(lsn: number): Slot | undefined;
  endMin: number;
  endMax: number;
}

/** The tombstones and purges `slots` fold to: per tenant and collection, the highest value wins. */
function foldTombstones(slots: Iterable<Slot | undefined>): TombstonesSeen {
  const tombstones = new Map<string, TombstoneEntry>();
  const temporalPurges = new Map<string, TemporalPurgeEntry>();
  for (const slot of slots) {
    if (slot?.kind === 'tombstone') {
      const key = `${slot.tenant}\u0000${slot.collection}`;
      if ((tombstones.get(key)?.purgeLsn ?? -1) < slot.purgeLsn)
        tombstones.set(key, { tenant: slot.tenant, collection: slot.collection, purgeLsn: slot.purgeLsn });
    } else if (slot?.kind === 'temporalPurge') {
      const key = `${slot.tenant}\u0000${slot.collection}`;
      const known = temporalPurges.get(key);
      if (known === undefined || known.cutoffMs < slot.cutoffMs)
        temporalPurges.set(key, { tenant: slot.tenant, collection: slot.collection, cutoffMs: slot.cutoffMs });
    }
  }
  return { tombstones: [...tombstones.values()], temporalPurges: [...temporalPurges.values()] };
}

/** One line per entry, sorted, so two sets compare as strings whatever their order. */
function tombstoneLines(set: TombstonesSeen): string {
  const lines = [
    ...set.tombstones.map((t) => `tombstone ${t.tenant}/${JSON.stringify(t.collection)} < ${t.purgeLsn}`),
    ...set.temporalPurges.map((p) => `purge ${p.tenant}/${JSON.stringify(p.collection)} < ${p.cutoffMs} ms`),
  ];
  return lines.sort().join('; ');
}

export class Oracle {
  private log: Array<Slot | undefined> = [];
  /** The call behind each LSN of `log` made in this process (undefined for recovered ones). */
  private entries: Array<AppendEntry | undefined> = [];
  private durableEnd = 0;
  private frontMin = 1;
  private frontMax = 1;
  /** The highest LSN of a rejected truncateBefore since the last recovery (0 for none). */
  private removedUpTo = 0;
  /** The highest LSN acknowledged in the current timeline, to check acknowledgement order. */
  private lastAckLsn = 0;
  /** The I/O completion the last acknowledgement came in (-1: none since the timeline changed). */
  private ackCompletion = -1;
  /** `lastAckLsn` before that completion's acknowledgements. */
  private lastAckLsnBefore = 0;
  /**
   * The LSN of the last checkpoint the log must know of (0: none): the last one acknowledged,
   * the last one recovered, or the last one a cut left. The log may know of a later one (its
   * acknowledgement is on its way), never of an earlier one.
   */
  private knownCheckpointLsn = 0;
  private cut: Cut | null = null;
  /**
   * A truncateBefore / a truncateAfter was called and has not settled. The workload runs at most
   * one of each kind at a time; one may be queued behind the other.
   */
  truncatingBefore = false;
  truncatingAfter = false;
  /** The last call that took an LSN, which a sync made now covers. */
  lastEntry: AppendEntry | null = null;
  /** Tier 2 information: recoveries that lost acknowledged records, and how many records. */
  lostAckedRecoveries = 0;
  lostAckedRecords = 0;

  constructor(readonly tier: FaultTier) {}

  /** Records (user and own) in the log after the last recovery. */
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

  /**
   * The transaction that a cut after `lsn` would keep part of (its transaction record at or
   * below `lsn`, its last record above), in the timeline as noted now; null when there is none.
   */
  transactionAcross(lsn: number): { firstLsn: number; lastLsn: number } | null {
    for (let at = Math.min(lsn, this.log.length); at >= 1; at--) {
      const slot = this.log[at - 1];
      if (slot?.kind !== 'transaction') continue;
      // Transactions never nest: the nearest transaction record at or below decides.
      return at + slot.recordCount > lsn ? { firstLsn: at + 1, lastLsn: at + slot.recordCount } : null;
    }
    return null;
  }

  /**
   * Whether a log recovered now may hold a tombstone or temporal purge: one is noted at or above
   * the front, or in limbo. When none is, its tombstones() can only be empty.
   */
  get mayHoldTombstones(): boolean {
    const isPurge = (slot: Slot | undefined): boolean => slot?.kind === 'tombstone' || slot?.kind === 'temporalPurge';
    for (let lsn = this.frontMin; lsn <= this.log.length; lsn++) if (isPurge(this.log[lsn - 1])) return true;
    return this.cut?.limbo.some((e) => isPurge(e.slot)) ?? false;
  }

  /** A truncation of either kind is queued or running. */
  get truncating(): boolean {
    return this.truncatingBefore || this.truncatingAfter;
  }

  /** Notes an append of a user record at call time. */
  noteAppend(payload: Uint8Array): AppendEntry {
    return this.note({ kind: 'user', payload });
  }

  /**
   * Notes, at call time, any call that takes the next LSN in call order: an append, or one of
   * ringwal's own records (checkpoint, tombstone, temporalPurge go through the same queue).
   */
  note(slot: Slot): AppendEntry {
    let entry: AppendEntry;
    if (this.cut !== null) {
      entry = { slot, lsn: 0 };
      this.cut.limbo.push(entry);
    } else {
      this.log.push(slot);
      entry = { slot, lsn: this.log.length };
      this.entries[entry.lsn - 1] = entry;
    }
    this.lastEntry = entry;
    return entry;
  }

  /**
   * An append (or appendBatch of `entries`, or an own record) resolved with LSNs firstLsn..lastLsn,
   * in the drain of I/O completion number `completion`. Acknowledgements come in LSN order, but
   * for one case: checkpoint()'s promise resolves through one await more than an append's, so
   * its acknowledgement may trail those of later LSNs that became durable in the same completion
   * (never one of an earlier completion).
   */
  acked(entries: readonly AppendEntry[], firstLsn: number, lastLsn: number, completion: number): void {
    const last = entries[entries.length - 1]!;
    if (last.lsn === 0) {
      throw new SimViolation(
        `an append made after truncateAfter(${this.cut?.lsn}) was called was acknowledged with LSN ${lastLsn} before the cut finished: the cut could remove it`,
      );
    }
    const want = `${entries[0]!.lsn}..${last.lsn}`;
    if (firstLsn !== entries[0]!.lsn || lastLsn !== last.lsn)
      throw new SimViolation(`append acknowledged with LSNs ${firstLsn}..${lastLsn}, but it was the append that must get LSNs ${want}`);
    if (completion !== this.ackCompletion) {
      this.ackCompletion = completion;
      this.lastAckLsnBefore = this.lastAckLsn;
    }
    const floorLsn = last.slot.kind === 'checkpoint' ? this.lastAckLsnBefore : this.lastAckLsn;
    if (lastLsn <= floorLsn) throw new SimViolation(`acknowledgement of LSN ${lastLsn} arrived after that of LSN ${floorLsn}`);
    if (lastLsn > this.lastAckLsn) this.lastAckLsn = lastLsn;
    if (lastLsn > this.durableEnd) this.durableEnd = lastLsn;
    if (last.slot.kind === 'checkpoint' && last.lsn > this.knownCheckpointLsn) this.knownCheckpointLsn = last.lsn;
  }

  /**
   * Calls rejected with WAL_ERR_NO_SPACE: they never got their LSNs, and every call made after
   * them takes one LSN less (the writer only ever rejects the calls still waiting, in call
   * order, so those after them were waiting too or came later).
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

  /** A sync resolved: `covered`, the last call made before it, is durable if it is still in the log. */
  synced(covered: AppendEntry | null): void {
    if (covered === null || covered.lsn === 0 || this.log[covered.lsn - 1] !== covered.slot) return;
    if (covered.lsn > this.durableEnd) this.durableEnd = covered.lsn;
  }

  /** What `lsn` holds in the current timeline (undefined below the front or beyond the last call). */
  slotAt(lsn: number): Slot | undefined {
    return lsn >= this.frontMin ? this.log[lsn - 1] : undefined;
  }

  /** The log as a reader that starts now must see it: slots by LSN and the durable end. */
  readerView(): { slots: ReadonlyArray<Slot | undefined>; durableEnd: number; frontMin: number } {
    return { slots: this.log.slice(), durableEnd: this.durableEnd, frontMin: this.frontMin };
  }

  /** How far the log must survive a crash now (tier 1). */
  get durableLsn(): number {
    return this.durableEnd;
  }

  /**
   * Checks what `Wal.lastCheckpoint()` returned (`actual`) when the log starts at `firstLsn` and
   * is durable up to `durableLsn`. Valid when a checkpoint was acknowledged, a truncation
   * resolved, or a recovery ended; not while a truncateAfter runs (it forgets the cut checkpoint
   * before its promise resolves). It must be a durable checkpoint of the current timeline, not
   * removed, and no older than the last one the log must know of; null only when that one was
   * removed (or there is none).
   */
  checkLastCheckpoint(actual: CheckpointSeen | null, firstLsn: number, durableLsn: number, what: string): void {
    const known = this.knownCheckpointLsn;
    const knownText = known === 0 ? 'none was written' : `the last one the log must know of is at LSN ${known}`;
    if (actual === null) {
      if (known >= firstLsn) throw new SimViolation(`${what}: lastCheckpoint() is null, but ${knownText} and the log starts at LSN ${firstLsn}`);
      return;
    }
    const where = `${what}: lastCheckpoint() is at LSN ${actual.lsn}`;
    if (actual.lsn < firstLsn) throw new SimViolation(`${where}, below the log's first LSN ${firstLsn}: a removed checkpoint`);
    if (actual.lsn < known) throw new SimViolation(`${where}, but ${knownText}`);
    if (actual.lsn > durableLsn) throw new SimViolation(`${where}, beyond the durable LSN ${durableLsn}`);
    const slot = this.slotAt(actual.lsn);
    if (slot?.kind !== 'checkpoint') throw new SimViolation(`${where}, which holds ${slot === undefined ? 'nothing' : `a ${slot.kind} record`} (${knownText})`);
    if (!sameBytes(slot.payload, actual.payload))
      throw new SimViolation(`${where} with ${actual.payload.byteLength} bytes that differ from the ${slot.payload.byteLength} checkpointed`);
  }

  /** Checks what `Wal.tombstones()` returned right after a recovery: the fold of the recovered log's own slots. */
  checkRecoveredTombstones(actual: TombstonesSeen): void {
    const want = tombstoneLines(foldTombstones(this.log.slice(this.frontMin - 1)));
    const got = tombstoneLines(actual);
    if (got !== want) throw new SimViolation(`after recovery tombstones() is {${got}}, but the recovered log holds {${want}}`);
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

  /**
   * The cut is durable: LSNs above `lsn` are gone, and the limbo entries follow it in call order.
   * Every slot up to `lsn` was durable and acknowledged before the cut began, so the last
   * checkpoint among them is the one the log must know of now.
   */
  truncateAfterResolved(): void {
    const cut = this.cut!;
    this.cut = null;
    this.log.length = cut.lsn;
    this.entries.length = cut.lsn;
    this.durableEnd = cut.lsn;
    this.lastAckLsn = cut.lsn;
    this.ackCompletion = -1;
    this.knownCheckpointLsn = this.lastCheckpointUpTo(this.log, cut.lsn);
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
      this.log.push(e.slot);
      e.lsn = this.log.length;
      this.entries[e.lsn - 1] = e;
    }
  }

  /** The LSN of the last checkpoint slot at or below `lsn` (0: none). */
  private lastCheckpointUpTo(slots: ReadonlyArray<Slot | undefined>, lsn: number): number {
    for (let at = Math.min(lsn, slots.length); at >= 1; at--) if (slots[at - 1]?.kind === 'checkpoint') return at;
    return 0;
  }

  private outcomes(): Outcome[] {
    const log = this.log;
    const limbo = this.cut?.limbo ?? [];
    const old: Outcome = {
      name: 'the log as it was',
      slotOf: (lsn) => (lsn <= log.length ? log[lsn - 1] : limbo[lsn - log.length - 1]?.slot),
      endMin: this.durableEnd,
      endMax: log.length + limbo.length,
    };
    if (this.cut === null) return [old];
    const cutLsn = this.cut.lsn;
    const cut: Outcome = {
      name: `the log cut after LSN ${cutLsn}`,
      slotOf: (lsn) => (lsn <= cutLsn ? log[lsn - 1] : limbo[lsn - cutLsn - 1]?.slot),
      endMin: cutLsn,
      endMax: cutLsn + limbo.length,
    };
    return [old, cut];
  }

  /**
   * Why the recovered log F..E, read as `records` (ascending LSNs, all in F..E), is not
   * `outcome`, or null when it is: every user slot read back byte for byte, no own slot read as
   * a user record.
   */
  private mismatch(outcome: Outcome, records: readonly RecoveredRecord[], firstLsn: number, endLsn: number): string | null {
    if (endLsn > outcome.endMax) return `the log ends at LSN ${endLsn}, beyond the ${outcome.endMax} appended`;
    let next = 0;
    // The transaction the LSN being checked is part of, if any.
    let txn: { firstLsn: number; lastLsn: number } | null = null;
    for (let lsn = firstLsn; lsn <= endLsn; lsn++) {
      const want = outcome.slotOf(lsn);
      if (want === undefined) return `recovered LSN ${lsn} was never appended`;
      if (txn !== null && lsn > txn.lastLsn) txn = null;
      const r = records[next];
      const got = r?.lsn === lsn ? r : undefined;
      if (want.kind !== 'user') {
        if (got !== undefined) return `the read yielded LSN ${lsn} as a user record, but a ${want.kind} record was written there`;
        if (want.kind === 'transaction') {
          txn = { firstLsn: lsn + 1, lastLsn: lsn + want.recordCount };
          // All of it or none: the log may not end inside it.
          if (txn.lastLsn > endLsn) return `the transaction of LSNs ${txn.firstLsn}..${txn.lastLsn} survived in part: the log ends at LSN ${endLsn}`;
        }
        continue;
      }
      if (got === undefined) return `the read skipped LSN ${lsn}, a user record (it yielded ${r === undefined ? 'nothing more' : `LSN ${r.lsn}`} next)`;
      if (!sameBytes(want.payload, got.payload))
        return `recovered LSN ${lsn} has ${got.payload.byteLength} bytes that differ from the ${want.payload.byteLength} appended`;
      if ((got.txn?.firstLsn ?? 0) !== (txn?.firstLsn ?? 0) || (got.txn?.lastLsn ?? 0) !== (txn?.lastLsn ?? 0))
        return `the read marked LSN ${lsn} with transaction ${JSON.stringify(got.txn)}, but it was written ${txn === null ? 'outside any' : `in the transaction of LSNs ${txn.firstLsn}..${txn.lastLsn}`}`;
      next += 1;
    }
    if (endLsn < outcome.endMin && this.tier === 1) return `the log ends at LSN ${endLsn} but LSN ${outcome.endMin} was durable: LSN ${endLsn + 1} was lost`;
    return null;
  }

  /**
   * Checks a recovered log and makes it the new baseline. `records` are what a full read
   * returned (user records only), `firstLsn` and `nextLsn` what the log reports.
   */
  recovered(records: readonly RecoveredRecord[], firstLsn: number, nextLsn: number): void {
    if (firstLsn < this.frontMin || firstLsn > this.frontMax) {
      throw new SimViolation(
        `the recovered log starts at LSN ${firstLsn}, outside [${this.frontMin}, ${this.frontMax}]: ${firstLsn < this.frontMin ? 'removed records reappeared' : 'records no truncateBefore removed are missing'}`,
      );
    }
    const endLsn = nextLsn - 1;
    if (endLsn < firstLsn - 1) throw new SimViolation(`the recovered log starts at LSN ${firstLsn} but its next LSN is ${nextLsn}`);
    let previous = firstLsn - 1;
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      if (r.lsn <= previous || r.lsn > endLsn)
        throw new SimViolation(
          `record ${i} of the recovered log ${firstLsn}..${endLsn} has LSN ${r.lsn} after LSN ${previous} (LSNs must rise, within the log, an own record's LSN the only gap)`,
        );
      previous = r.lsn;
    }
    const outcomes = this.outcomes();
    const why = outcomes.map((o) => this.mismatch(o, records, firstLsn, endLsn));
    const matched = why.findIndex((w) => w === null);
    if (matched < 0) throw new SimViolation(outcomes.map((o, i) => `not ${o.name}: ${why[i]}`).join('; '));
    const outcome = outcomes[matched]!;
    if (endLsn < outcome.endMin) {
      this.lostAckedRecoveries += 1;
      this.lostAckedRecords += outcome.endMin - endLsn;
    }
    const next: Array<Slot | undefined> = new Array<Slot | undefined>(firstLsn - 1);
    for (let lsn = firstLsn; lsn <= endLsn; lsn++) next.push(outcome.slotOf(lsn));
    this.log = next;
    this.entries = [];
    this.durableEnd = endLsn;
    this.frontMin = firstLsn;
    this.frontMax = firstLsn;
    this.removedUpTo = 0;
    this.lastAckLsn = 0;
    this.ackCompletion = -1;
    this.knownCheckpointLsn = this.lastCheckpointUpTo(next, endLsn);
    this.cut = null;
    this.truncatingBefore = false;
    this.truncatingAfter = false;
    this.lastEntry = null;
  }
}
