/**
 * ringwal's performance targets, each checked against the rows of one run: a measured value and
 * whether it met the target. A target whose row or reference did not run, or failed, is "not
 * measured", never "met": a missing peer must not pass a check it was needed for.
 */
import { diskReference, diskSystem, findRow, nullSystem, quotient, type ComparedRow } from './reference-ratios.js';

export type TargetVerdict = 'met' | 'missed' | 'not measured';

export interface TargetCheck {
  /** What is checked, as a reader says it ("4,096 producers ≥ 2× lmdb"). */
  target: string;
  /** The measured value in `unit` (a ratio, or milliseconds), when measured. */
  value?: number;
  unit: '×' | 'ms';
  /** The value as printed, with its inputs where they help ("0.80× (16.0 / 20.0 ms)"). */
  measured: string;
  verdict: TargetVerdict;
  /** Why a check was not measured: the rows it lacked. */
  reason?: string;
}

type Comparison = '≥' | '≤' | '<';

interface Operand {
  row: ComparedRow | undefined;
  /** Names the row in "not measured" reasons. */
  label: string;
}

const ms = (us: number): string => `${(us / 1000).toFixed(1)} ms`;

function compare(value: number, comparison: Comparison, threshold: number): boolean {
  if (comparison === '≥') return value >= threshold;
  if (comparison === '≤') return value <= threshold;
  return value < threshold;
}

function notMeasured(target: string, unit: TargetCheck['unit'], operands: Operand[]): TargetCheck | undefined {
  const missing = operands.filter((operand) => operand.row === undefined).map((operand) => operand.label);
  if (missing.length === 0) return undefined;
  return { target, unit, measured: '—', verdict: 'not measured', reason: `no successful row of ${missing.join(', ')}` };
}

function verdictOf(
  target: string,
  unit: TargetCheck['unit'],
  value: number | undefined,
  comparison: Comparison,
  threshold: number,
  measured: string,
): TargetCheck {
  if (value === undefined || !Number.isFinite(value))
    return { target, unit, measured: '—', verdict: 'not measured', reason: 'a reference value is zero or not a number' };
  return { target, value, unit, measured, verdict: compare(value, comparison, threshold) ? 'met' : 'missed' };
}

/** subject ÷ reference on one measure, against a threshold. */
function ratioCheck(
  target: string,
  subject: Operand,
  reference: Operand,
  measure: 'recordsPerS' | 'mbPerS',
  comparison: Comparison,
  threshold: number,
): TargetCheck {
  const missing = notMeasured(target, '×', [subject, reference]);
  if (missing !== undefined) return missing;
  const value = quotient(subject.row![measure], reference.row![measure]);
  return verdictOf(target, '×', value, comparison, threshold, value === undefined ? '—' : `${value.toFixed(2)}×`);
}

/**
 * The checks of `subject` (default `ringwal`, the io_uring backend) against the other rows of the
 * same run, in a fixed order.
 */
export function checkTargets(rows: readonly ComparedRow[], subject = 'ringwal'): TargetCheck[] {
  const of = (system: string, workload: string, label = `${system} ${workload}`): Operand => ({ row: findRow(rows, system, workload), label });
  const ringwal = (workload: string): Operand => of(subject, workload);
  const checks: TargetCheck[] = [
    ratioCheck('4,096 producers ≥ 2× lmdb', ringwal('closed-4096'), of('lmdb', 'closed-4096'), 'recordsPerS', '≥', 2),
    ratioCheck('4,096 producers ≥ 0.6× null', ringwal('closed-4096'), of(nullSystem, 'closed-4096'), 'recordsPerS', '≥', 0.6),
    ratioCheck('256 producers ≥ 0.5× null', ringwal('closed-256'), of(nullSystem, 'closed-256'), 'recordsPerS', '≥', 0.5),
  ];

  const open = ringwal('open');
  const nullOpen = of(nullSystem, 'open');
  const tailTarget = 'open loop p99 − null p99 ≤ 1 ms';
  const tailMissing = notMeasured(tailTarget, 'ms', [open, nullOpen]);
  if (tailMissing !== undefined) {
    checks.push(tailMissing);
  } else {
    const p99Us = open.row!.latency?.p99Us;
    const nullP99Us = nullOpen.row!.latency?.p99Us;
    const value = p99Us === undefined || nullP99Us === undefined ? undefined : (p99Us - nullP99Us) / 1000;
    const measured = value === undefined ? '—' : `${value >= 0 ? '+' : ''}${value.toFixed(2)} ms (${ms(p99Us!)} − ${ms(nullP99Us!)})`;
    checks.push(verdictOf(tailTarget, 'ms', value, '≤', 1, measured));
  }

  const sqliteOpen = of('better-sqlite3', 'open');
  const beatTarget = 'open loop p99 < better-sqlite3 p99';
  const beatMissing = notMeasured(beatTarget, '×', [open, sqliteOpen]);
  if (beatMissing !== undefined) {
    checks.push(beatMissing);
  } else {
    const p99Us = open.row!.latency?.p99Us;
    const sqliteP99Us = sqliteOpen.row!.latency?.p99Us;
    const value = quotient(p99Us, sqliteP99Us);
    const measured = value === undefined ? '—' : `${value.toFixed(2)}× (${ms(p99Us!)} / ${ms(sqliteP99Us!)})`;
    checks.push(verdictOf(beatTarget, '×', value, '<', 1, measured));
  }

  checks.push(
    ratioCheck('1 producer ≥ 0.95× disk QD1 4 KiB write+fdatasync', ringwal('closed-1'), of(diskSystem, diskReference.syncedSmall), 'recordsPerS', '≥', 0.95),
    ratioCheck('1 producer ≥ 1.0× better-sqlite3', ringwal('closed-1'), of('better-sqlite3', 'closed-1'), 'recordsPerS', '≥', 1),
    ratioCheck('bulk ≥ 0.9× disk 1 MiB write+fdatasync QD1', ringwal('bulk'), of(diskSystem, diskReference.syncedLarge), 'mbPerS', '≥', 0.9),
  );
  return checks;
}
