/**
 * ringwal: a durable write-ahead log for Node.js on Linux.
 *
 *   const wal = await Wal.open('/var/lib/app/wal');
 *   const lsn = await wal.append(Buffer.from('hello'));   // resolves once durable
 *   for await (const rec of wal.read({ fromLsn: 1 })) console.log(rec.lsn, rec.payload);
 *   await wal.close();
 */
export { Wal } from './writer/wal.js';
export { ReadOnlyWal, READ_ONLY_POLL_MS, type ReadOnlyStats, type SegmentInfo } from './writer/read-only-wal.js';
export type { SurveyedTail } from './log/log-survey.js';
export { WarningCode } from './writer/process-warnings.js';
export { TombstoneSet, COLLECTION_NAME_BYTES_MAX, type TombstoneEntry, type TemporalPurgeEntry } from './writer/tombstones.js';
export type {
  AppendOptions,
  CollectionOf,
  FollowOptions,
  ReadOptions,
  TransactionEntry,
  TransactionSpan,
  TruncateBeforeResult,
  WalRecord,
  WalRecordHeader,
  WalStats,
} from './writer/wal.js';
export type { BatchResult, GroupCommitStats } from './writer/group-commit.js';
export { channels } from './writer/channels.js';
export type { ChannelName, BatchDurableEvent, RolloverEvent, TruncationEvent, RecoveryEvent, FailureEvent, SlowSyncEvent } from './writer/channels.js';
export { SLOW_SYNC_WARNING_CODE } from './writer/slow-sync-warning.js';
export type { WalOptions, ReadOnlyOpenOptions, BackendChoice } from './writer/options.js';
export type { SealedSegmentInfo } from './log/segment-set.js';
export type { DoubleWriteMode } from './segment/double-write-buffer.js';
export type { RecoveryReport, TornTail } from './recovery/recover.js';
export type { Io, IoFile, IoLock, AlignedBuffer, BackendKind, SyncMethod, DirectIoMode, OpenFileOptions } from './io/io.js';
export { readFull } from './io/io.js';
export { NativeIo } from './io/native-io.js';
export type { NativeIoOptions } from './io/native-io.js';
export type { NativeBinding, NativeBindingOption, NativePoolInfo, NativeRingInfo } from './io/native-binding.js';
export * from './errors.js';
export {
  FORMAT_VERSION,
  RECORD_HEADER_SIZE_BYTES,
  RECORD_PAYLOAD_BYTES_LIMIT,
  RECORD_TYPE_REQUIRED_FLAG,
  RECORD_TYPE_ENCRYPTED_FLAG,
  RECORD_TYPE_DEFAULT,
  isSystemRecordType,
} from './format/constants.js';
