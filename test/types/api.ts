// The public API as a TypeScript user sees it: what must compile does, and each misuse marked
// with an expect-error directive must be refused by the types (tsc fails if one compiles).
import {
  ErrorCode,
  NativeIo,
  RECORD_PAYLOAD_BYTES_LIMIT,
  Wal,
  WarningCode,
  WalAbortError,
  WalError,
  WalIoError,
  WalNoSpaceError,
  WalUnknownRequiredTypeError,
  channels,
  readFull,
  type AppendOptions,
  type BatchDurableEvent,
  type BatchResult,
  type DoubleWriteMode,
  type ErrorCodeName,
  type Io,
  type IoFile,
  type NativeBinding,
  type NativeIoOptions,
  type ReadOptions,
  type RecoveryReport,
  type SealedSegmentInfo,
  type TornTail,
  type TruncateBeforeResult,
  type TruncationEvent,
  type WalOptions,
  type WalRecord,
  type WalRecordHeader,
  type WalStats,
  ReadOnlyWal,
  type SegmentInfo,
} from 'ringwal';
import { Prng, SimDisk, SimIo, drawFaultRates, noFaults, type FaultRates, type SimIoOptions } from 'ringwal/sim';

export async function use(dir: string): Promise<void> {
  const sealed: SealedSegmentInfo[] = [];
  const mode: DoubleWriteMode = 'buffered';
  const options: WalOptions = {
    segmentSizeBytes: 64 * 1024 * 1024,
    recordPayloadBytesMax: 1024,
    pendingBytesMax: 1 << 26,
    doubleWriteBuffer: mode,
    onSegmentSealed: (info) => void sealed.push(info),
  };
  const wal: Wal = await Wal.open(dir, options);
  const recovery: RecoveryReport = wal.recovery;
  const torn: TornTail | null = recovery.tornTail;
  if (torn !== null) {
    const shared: boolean = torn.inSharedBlock;
    const copy: string | null = torn.quarantinePath;
    void shared;
    void copy;
  }
  const meta: AppendOptions = { type: 0x8001, tenant: 1, vshard: 2, database: 3 };
  const lsn: number = await wal.append(Buffer.from('x'), meta);
  const batch: BatchResult = await wal.appendBatch([new Uint8Array(4)], meta);
  const read = { fromLsn: lsn, toLsn: lsn + 10, types: [0x8001], knownTypes: [0x8001, 0x0002] } satisfies ReadOptions;
  for await (const rec of wal.read(read)) {
    const r: WalRecord = rec;
    const payload: Buffer = r.payload;
    const size: number = r.payloadSizeBytes;
    void payload;
    void size;
  }
  for await (const h of wal.read({ payloads: false, tenants: [1], databases: [3] })) {
    const header: WalRecordHeader = h;
    void header;
    // @ts-expect-error: a headers-only read has no payload
    void h.payload;
  }
  // An options object whose payloads flag is known only at run time yields either shape.
  const flexible: ReadOptions = { payloads: lsn > 0 };
  for await (const rec of wal.read(flexible)) {
    if ('payload' in rec) void rec.payload;
  }
  const unknown = new WalUnknownRequiredTypeError(1, 0x8001);
  const unknownAt: number = unknown.lsn + unknown.type;
  void unknownAt;
  const removed: TruncateBeforeResult = await wal.truncateBefore(batch.firstLsn);
  void removed.segmentsRemoved;
  await wal.truncateAfter(lsn);
  const stats: WalStats = await wal.stats();
  const reason: string | null = stats.backendFallbackReason;
  void reason;
  const syncMethod: 'linked-fdatasync' | 'rwf-dsync' = wal.syncMethod;
  void syncMethod;
  const perBatch: number = stats.recordsPerBatch.mean + stats.recordBytesPerBatch.max + stats.batchesInFlight;
  void perBatch;
  const channelName: 'ringwal:batch-durable' = channels.batchDurable;
  void channelName;
  const latencyOf = (event: BatchDurableEvent): number => event.syncLatencyUs;
  void latencyOf;
  // The fields after `kind` depend on it.
  const removedOf = (event: TruncationEvent): number => (event.kind === 'before' ? event.bytesRemoved : event.nextLsn);
  void removedOf;
  // @ts-expect-error: only a truncateBefore removes whole files it can count the bytes of
  const cutBytes = (event: TruncationEvent): number => event.bytesRemoved;
  void cutBytes;
  await Wal.open(dir, { slowSyncWarningMs: null });
  await wal.close();
  const reader: ReadOnlyWal = await Wal.open(dir, { readOnly: true, directIo: 'auto' });
  const firstSegment: SegmentInfo | undefined = reader.segments()[0];
  void firstSegment?.sealed;
  // @ts-expect-error: a read-only handle has no append
  void reader.append;
  // @ts-expect-error: the options of writing do not go with readOnly
  void Wal.open(dir, { readOnly: true, segmentSizeBytes: 1 << 20 });
  await reader.close();
  void RECORD_PAYLOAD_BYTES_LIMIT;

  // @ts-expect-error: the payload is bytes, not a string
  await wal.append('text');
  // @ts-expect-error: an option that does not exist
  await Wal.open(dir, { segmentSize: 1 });
  // @ts-expect-error: the old name of the payload limit is gone
  await Wal.open(dir, { recordPayloadMaxBytes: 1 });
  // @ts-expect-error: truncateAfter resolves to nothing
  const nothing: number = await wal.truncateAfter(1);
  void nothing;
}

/** Node's conventions: `await using`, a read's signal, the log's state, Node's system-error fields. */
export async function conventions(dir: string, signal: AbortSignal): Promise<string> {
  await using wal = await Wal.open(dir);
  for await (const rec of wal.read({ signal })) void rec.lsn;
  const state: 'open' | 'failed' | 'closed' = wal.state;
  const failure: unknown = wal.failure;
  void failure;
  // @ts-expect-error: append takes no signal
  await wal.append(Buffer.from('x'), { signal });
  const err: unknown = await wal.sync().catch((e: unknown) => e);
  if (err instanceof WalIoError) {
    const errno: number = err.errno;
    const name: string = err.errnoName;
    return `${state} ${errno} ${name} ${err.syscall} ${err.path ?? ''}`;
  }
  if (err instanceof WalAbortError) return err.code;
  // Warning codes are literal types, as error codes are.
  const warning: 'RINGWAL_MEMORY_FILE_SYSTEM' = WarningCode.MEMORY_FILE_SYSTEM;
  return `${state} ${warning}`;
}

export function errors(err: unknown): string {
  if (err instanceof WalNoSpaceError) {
    // Node's shape: the negative number in errno, its name beside it (code is ringwal's).
    const errno: number = err.errno;
    return `${err.errnoName} ${errno} ${err.syscall} ${err.accepted?.lastLsn ?? 'none'}`;
  }
  if (err instanceof WalError) {
    const code: ErrorCodeName = err.code;
    return code === ErrorCode.CORRUPT ? 'corrupt' : code;
  }
  return 'other';
}

export function io(): Io {
  const nativeOptions: NativeIoOptions = { backend: 'auto', syncMethod: 'linked-fdatasync', queueDepth: 64 };
  const native: Io = NativeIo.create(nativeOptions);
  void native;
  const rng = new Prng(1);
  const rates: FaultRates = { ...drawFaultRates(rng, 1), ...noFaults(4096) };
  const simOptions: SimIoOptions = { disk: new SimDisk(rates, rng.fork()), rng: rng.fork() };
  const sim = new SimIo(simOptions);
  // @ts-expect-error: internal methods of the simulated Io are not in its public type
  sim.draw(0.5);
  // @ts-expect-error: internal members of the native Io are not in its public type
  void NativeIo.create(nativeOptions).native;
  return sim;
}

export async function readSome(file: IoFile): Promise<number> {
  const binding: NativeBinding | undefined = undefined;
  void binding;
  const sim = io();
  return readFull(file, sim.allocAligned(4096, 4096), 0, 4096, 0);
}
