/**
 * What the log must contain, kept beside the simulated run.
 *
 *   baseline  the records known present after the last recovery (LSN i+1 at index i);
 *   appended  the records appended since, in call order: append number i gets LSN
 *             baseline.length + 1 + i, or none when the log was poisoned first;
 *   ackedCount how many of `appended` were acknowledged (an append or appendBatch resolved, or a
 *             sync that covered them resolved). Acknowledgements arrive in LSN order.
 *
 * After a crash (or a clean close) and a reopen, the recovered log R must be
 * `baseline ++ appended[0..k)` for some ackedCount ≤ k ≤ appended.length: nothing acknowledged
 * is lost, nothing never appended appears, every byte is what was appended with that LSN, and the
 * next LSN is one above R's last. Tier 2 relaxes only the lower bound on k (and lets R be shorter
 * than the baseline), counting how often that happened.
 */
import type { FaultTier } from './fault-model.js';

export interface RecoveredRecord {
  lsn: number;
  payload: Uint8Array;
}

export class SimViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimViolation';
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

export class Oracle {
  private baseline: Uint8Array[] = [];
  private appended: Uint8Array[] = [];
  private ackedCount = 0;
  /** Index in `appended` of the last acknowledged append or appendBatch, to check ack order. */
  private lastAckIndex = -1;
  /** Tier 2 information: recoveries that lost acknowledged records, and how many records. */
  lostAckedRecoveries = 0;
  lostAckedRecords = 0;

  constructor(readonly tier: FaultTier) {}

  get recordCount(): number {
    return this.baseline.length;
  }

  get appendedCount(): number {
    return this.appended.length;
  }

  /** Notes an append at call time; returns the LSN it must get if it gets one. */
  noteAppend(payload: Uint8Array): number {
    this.appended.push(payload);
    return this.baseline.length + this.appended.length;
  }

  /** An append (or the last record of an appendBatch) resolved with `lsn`. */
  acked(expectedLsn: number, lsn: number): void {
    if (lsn !== expectedLsn) throw new SimViolation(`append acknowledged with LSN ${lsn}, but it was the append that must get LSN ${expectedLsn}`);
    const index = lsn - this.baseline.length - 1;
    if (index <= this.lastAckIndex) throw new SimViolation(`acknowledgement of LSN ${lsn} arrived after that of LSN ${this.lastAckIndex + this.baseline.length + 1}`);
    this.lastAckIndex = index;
    if (index + 1 > this.ackedCount) this.ackedCount = index + 1;
  }

  /** A sync resolved: every append made before it (`coveredCount` of them) is durable. */
  synced(coveredCount: number): void {
    if (coveredCount > this.ackedCount) this.ackedCount = coveredCount;
  }

  /** The payload the record with `lsn` must have, or undefined when no such record was appended. */
  expected(lsn: number): Uint8Array | undefined {
    const i = lsn - 1;
    return i < this.baseline.length ? this.baseline[i] : this.appended[i - this.baseline.length];
  }

  /** How many records must be present after a crash now (tier 1). */
  get durableCount(): number {
    return this.baseline.length + this.ackedCount;
  }

  /**
   * Checks a recovered log and makes it the new baseline. `records` are what a full read
   * returned, `nextLsn` what the log will assign next.
   */
  recovered(records: readonly RecoveredRecord[], nextLsn: number): void {
    const possibleCount = this.baseline.length + this.appended.length;
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      if (r.lsn !== i + 1) throw new SimViolation(`record ${i} of the recovered log has LSN ${r.lsn}, expected ${i + 1} (LSNs must run 1, 2, 3 … with no gap or repeat)`);
      const want = this.expected(r.lsn);
      if (want === undefined) throw new SimViolation(`recovered LSN ${r.lsn} was never appended (${possibleCount} records were)`);
      if (!sameBytes(want, r.payload)) throw new SimViolation(`recovered LSN ${r.lsn} has ${r.payload.byteLength} bytes that differ from the ${want.byteLength} appended`);
    }
    if (nextLsn !== records.length + 1) throw new SimViolation(`after recovering ${records.length} records the next LSN is ${nextLsn}, expected ${records.length + 1}`);
    const mustHave = this.durableCount;
    if (records.length < mustHave) {
      if (this.tier === 1) {
        throw new SimViolation(`recovered ${records.length} records but ${mustHave} were acknowledged (baseline ${this.baseline.length} + acked ${this.ackedCount}): LSN ${records.length + 1} was lost`);
      }
      this.lostAckedRecoveries += 1;
      this.lostAckedRecords += mustHave - records.length;
    }
    const next: Uint8Array[] = [];
    for (let lsn = 1; lsn <= records.length; lsn++) next.push(this.expected(lsn)!);
    this.baseline = next;
    this.appended = [];
    this.ackedCount = 0;
    this.lastAckIndex = -1;
  }
}
