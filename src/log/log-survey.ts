/**
 * A survey of a log directory by reading only: what a read-only open sees (docs/design.md,
 * "Read-only opens"). It runs the checks of a writer's open (O4–O8 without their writes): the
 * sealed segments' chain and tails, and recovery's examination of the last segment (V2, V3).
 * It removes no temporary file, finishes no cut, restores no double-write copy and repairs no
 * torn tail: those are a writer's, and another process may be the writer right now.
 *
 * A writer may change the directory while the survey runs (a rollover, a truncation). A survey
 * that fails, or that finds the directory listing changed by the time it is done, runs again,
 * up to SURVEY_ATTEMPTS_MAX times; after that its last error stands.
 */
import { WalCorruptionError, WalCutPendingError, WalError } from '../errors.js';
import { SEGMENT_TEMP_SUFFIX } from '../format/constants.js';
import type { SegmentHeader } from '../format/segment-header.js';
import type { DirectIoMode, Io } from '../io/io.js';
import type { SegmentKeys } from '../crypto/segment-keys.js';
import type { ScanPosition } from '../read/segment-scanner.js';
import type { SegmentToRead } from '../read/log-reader.js';
import { examineSegment, noCheckpointsSeen, type CheckpointsSeen } from '../recovery/recover.js';
import { openSegment } from '../segment/segment-file.js';
import { segmentEntries, TRUNCATE_INTENT_NAME, type SegmentEntry } from './cut.js';
import { checkContinuity, checkSealedChain, checkSealedTail } from './segment-set.js';

/** Surveys of a directory that changed while they ran, before the last error stands. */
export const SURVEY_ATTEMPTS_MAX = 5;

export interface SurveyedSegment extends SegmentToRead {
  sealed: boolean;
  /** Size of the file, preallocated space included. */
  sizeBytes: number;
}

/** Bytes after the valid prefix of the last segment that are not zero: a torn write, or a write still in flight. */
export interface SurveyedTail {
  path: string;
  offsetBytes: number;
  /** Bytes from there to the last non-zero byte within reach of the writes in flight. */
  nonZeroBytes: number;
  /** Why the record at `offsetBytes` is not valid. */
  reason: string;
}

export interface LogSurvey {
  /** In LSN order; empty for a directory with no segment yet. */
  segments: SurveyedSegment[];
  /** The first LSN in the log (1 for an empty one). */
  firstLsn: number;
  /** The last valid LSN (firstLsn − 1 when the log holds no record). */
  lastLsn: number;
  tail: SurveyedTail | null;
  /** Where the scan of the last segment stopped, to continue from; null when it is sealed. */
  position: ScanPosition | null;
  /** The last checkpoint in the last segment's valid prefix. */
  checkpoints: CheckpointsSeen;
  /** The last segment was opened with O_DIRECT: reads of this log may bypass the page cache. */
  direct: boolean;
}

export interface SurveyOptions {
  direct: DirectIoMode;
  keys: SegmentKeys | null;
}

/** The segment files and cut intent of `dir`, as one comparable listing. */
async function listing(io: Io, dir: string): Promise<{ entries: SegmentEntry[]; cutPending: boolean; key: string }> {
  const names = (await io.listDir(dir)).filter((name) => !name.endsWith(SEGMENT_TEMP_SUFFIX));
  const entries = segmentEntries(dir, names);
  return { entries, cutPending: names.includes(TRUNCATE_INTENT_NAME), key: entries.map((e) => e.name).join('/') };
}

export async function surveyLog(io: Io, dir: string, options: SurveyOptions): Promise<LogSurvey> {
  let lastError: unknown = null;
  for (let attempt = 0; attempt < SURVEY_ATTEMPTS_MAX; attempt++) {
    const before = await listing(io, dir);
    if (before.cutPending) {
      lastError = new WalCutPendingError(dir);
      await pause(attempt);
      continue;
    }
    try {
      const survey = await surveyEntries(io, before.entries, options);
      const after = await listing(io, dir);
      if (after.key === before.key && !after.cutPending) return survey;
      lastError = null;
    } catch (err) {
      // A file removed, replaced or sealed under the survey: look again at the directory as it is now.
      const after = await listing(io, dir);
      // A writer's batch may land between the scan of the last segment and the look past its end
      // (V3), which then sees a later batch after the bytes the scan found unwritten: a hole that
      // is not one. A real hole is still there when looked at again.
      const lastPath = before.entries.at(-1)?.path;
      const racedWriter = err instanceof WalCorruptionError && err.path === lastPath;
      if (after.key === before.key && !after.cutPending && !racedWriter) throw err;
      lastError = err;
    }
    await pause(attempt);
  }
  // Only errors of the survey's own reads and checks (WalError, or Node's) are kept in lastError.
  throw (lastError as Error | null) ?? new WalCutPendingError(dir);
}

/** A writer's change is a few syncs long: wait a little longer each time (1, 2, 4, 8 ms). */
function pause(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 2 ** attempt));
}

async function surveyEntries(io: Io, entries: readonly SegmentEntry[], options: SurveyOptions): Promise<LogSurvey> {
  const checkpoints = noCheckpointsSeen();
  if (entries.length === 0)
    return { segments: [], firstLsn: 1, lastLsn: 0, tail: null, position: null, checkpoints: { ...checkpoints, scanned: true }, direct: false };
  const chain = await checkSealedChain(io, entries, options.direct, options.keys);
  const segments: SurveyedSegment[] = chain.sealed.map((s) => ({
    path: s.path,
    header: s.header,
    dataStartBytes: s.header.blockSizeBytes,
    lastLsn: s.seal.lastLsn,
    endBytes: s.seal.endBytes,
    sealed: true,
    sizeBytes: s.sizeBytes,
  }));
  const lastEntry = entries[entries.length - 1]!;
  // Read only and without a sync first: the writer's syncs are its own business.
  const last = await openSegment(io, lastEntry.path, lastEntry, options.direct, true, false, options.keys);
  try {
    const previous = chain.sealed.at(-1);
    if (previous !== undefined) checkContinuity(previous, last);
    const sizeBytes = await last.file.sizeBytes();
    const seal = last.header.seal;
    let tail: SurveyedTail | null = null;
    let position: ScanPosition | null = null;
    let lastLsn: number;
    let endBytes: number;
    if (seal !== null) {
      await checkSealedTail(io, last, seal);
      lastLsn = seal.lastLsn;
      endBytes = seal.endBytes;
    } else {
      const examined = await examineSegment(io, last, checkpoints, undefined, true);
      lastLsn = examined.report.nextLsn - 1;
      endBytes = examined.report.endBytes;
      position = examined.position;
      if (examined.torn !== null) {
        tail = {
          path: last.path,
          offsetBytes: examined.torn.offsetBytes,
          nonZeroBytes: examined.torn.lastNonZeroEndBytes - examined.torn.offsetBytes,
          reason: examined.torn.reason,
        };
      }
    }
    segments.push({ path: last.path, header: last.header, dataStartBytes: last.dataStartBytes, lastLsn, endBytes, sealed: seal !== null, sizeBytes });
    return { segments, firstLsn: segments[0]!.header.firstLsn, lastLsn, tail, position, checkpoints, direct: last.file.direct };
  } finally {
    await last.file.close();
  }
}

/**
 * Continues the scan of the last segment from `position` (LSN `nextLsn` expected there): where
 * its valid records end now. Used by a read-only follower between two surveys.
 */
export async function rescanTail(
  io: Io,
  segment: { path: string; header: SegmentHeader; dataStartBytes: number },
  position: ScanPosition,
  nextLsn: number,
  options: SurveyOptions,
): Promise<{ lastLsn: number; endBytes: number; position: ScanPosition; sealed: boolean } | null> {
  const name = { firstLsn: segment.header.firstLsn, segmentId: segment.header.segmentId };
  let last;
  try {
    last = await openSegment(io, segment.path, name, options.direct, true, false, options.keys);
  } catch (err) {
    // Removed or replaced meanwhile: the caller surveys the directory again.
    if (err instanceof WalError) return null;
    throw err;
  }
  try {
    // The writer sealed it, or a cut rewrote it: a survey sorts out which.
    if (last.header.seal !== null || last.header.incarnation !== segment.header.incarnation) return null;
    const scan = await examineSegment(io, last, undefined, { position, nextLsn });
    return { lastLsn: scan.report.nextLsn - 1, endBytes: scan.report.endBytes, position: scan.position, sealed: false };
  } finally {
    await last.file.close();
  }
}
