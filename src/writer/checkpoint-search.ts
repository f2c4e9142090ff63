/**
 * Finds the last checkpoint of a log at open: in the last segment's records (recovery's scan saw
 * them, or one scan of the segment does), else the one the segment's header names (a checkpoint
 * in an earlier segment, carried over at each rollover). Shared by the writer's open and a
 * read-only open.
 */
import { WalCorruptionError } from '../errors.js';
import { RECORD_TYPE_CHECKPOINT } from '../format/constants.js';
import type { SegmentHeader } from '../format/segment-header.js';
import { readSegments, yieldEveryRecord, type ReadPlan, type RecordFilter, type WalRecord } from '../read/log-reader.js';
import type { CheckpointsSeen } from '../recovery/recover.js';

export interface CheckpointFound {
  lsn: number;
  payload: Buffer;
}

export async function findLastCheckpoint(
  seen: CheckpointsSeen | null,
  active: { path: string; header: SegmentHeader },
  firstLsn: number,
  durableLsn: number,
  plan: (fromLsn: number, filter: RecordFilter) => ReadPlan,
): Promise<CheckpointFound | null> {
  let found = seen?.lastCheckpoint ?? null;
  if (seen === null && durableLsn >= active.header.firstLsn) {
    const filter: RecordFilter = { ...yieldEveryRecord, systemTypes: new Set([RECORD_TYPE_CHECKPOINT]) };
    for await (const record of readSegments(plan(active.header.firstLsn, filter))) found = { lsn: record.lsn, payload: (record as WalRecord).payload };
  }
  const namedLsn = active.header.checkpointLsn;
  if (found === null && namedLsn > 0 && namedLsn >= firstLsn) {
    const filter: RecordFilter = { ...yieldEveryRecord, toLsn: namedLsn, systemTypes: new Set([RECORD_TYPE_CHECKPOINT]) };
    for await (const record of readSegments(plan(namedLsn, filter))) {
      if (record.lsn === namedLsn) found = { lsn: record.lsn, payload: (record as WalRecord).payload };
    }
    if (found === null) throw new WalCorruptionError(active.path, 0, `the segment header names a checkpoint at LSN ${namedLsn}, which is not one`, namedLsn);
  }
  return found;
}
