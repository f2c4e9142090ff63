/**
 * One simulated run: a seed decides the fault rates, then a sequence of processes ("cycles")
 * each opens the log over the same SimDisk, checks what recovery found against the oracle,
 * runs a random workload, and ends by crashing (at a random I/O completion or between two
 * operations) or by closing cleanly. Everything comes from the seed, so `runSeed(s)` twice
 * gives the same trace hash, and a violation is replayed by the command it prints.
 */
import { WalError, WalIoError } from '../../dist/errors.js';
import { Wal } from '../../dist/writer/wal.js';
import { drawFaultRates, type FaultRates, type FaultTier } from '../../dist/sim/fault-model.js';
import { Oracle, SimViolation, sameBytes, type RecoveredRecord, type TombstonesSeen } from './oracle.js';
import { Prng } from '../../dist/sim/prng.js';
import { SimDisk, type DiskStats } from '../../dist/sim/sim-disk.js';
import { SimIo, type SimIoStats } from '../../dist/sim/sim-io.js';
import { TraceHash } from '../../dist/sim/trace-hash.js';
import { NonceLedger } from './nonce-ledger.js';
import { drawOp, LARGE_BATCH_WORKLOAD_OPS, WORKLOAD_OPS, type WorkloadContext, type WorkloadOp } from './workload.js';

export interface RunOptions {
  tier: FaultTier;
  /** Processes per run; each but the first starts with a recovery. */
  cycles: number;
  /** Operations per process, at most. */
  opsMax: number;
  ops?: readonly WorkloadOp[];
  /**
   * False: no run is encrypted (the draw that decides it is made all the same, so the other
   * draws of a seed stay as they are). Encryption needs the native addon.
   */
  encryption?: boolean;
}

export const RUN_DEFAULTS: RunOptions = { tier: 1, cycles: 12, opsMax: 30 };

/** 64 KiB, the smallest batch allowed: more batches per record, so more batch boundaries to tear. */
const BATCH_BYTES = 64 * 1024;
/**
 * Runs that switch batch sizes use these: segments large enough that a torn write of the larger
 * batches can reach past what a writer of the smaller ones can (V3's window), so an open that
 * failed to raise the segment's largest write first (O8) would leave stale bytes behind.
 */
const BATCH_BYTES_LARGE = 256 * 1024;
const SEGMENT_BYTES_LARGE = 512 * 1024;
/** 64 KiB, the smallest segment allowed: rollovers, sealing and continuity checks in most runs. */
const SEGMENT_BYTES = 64 * 1024;
/** A process whose workload waits this many turns with nothing queued is hung. */
const IDLE_TURNS_MAX = 2000;
/** Opens that fail on injected faults before the run stops injecting them for one open. */
const OPEN_ATTEMPTS_MAX = 6;
/** Tier 2: typed errors at open in a row after which the damage is taken as permanent. */
const TYPED_ERRORS_IN_ROW_MAX = 3;
const WAL_DIR = '/sim/wal';

export interface RunResult {
  seed: number;
  tier: FaultTier;
  rates: FaultRates;
  violation: string | null;
  /** The command that replays this run. */
  reproduce: string;
  trace: string;
  traceEvents: number;
  /** Crashes after which recovery ran and was checked. */
  crashRecoveries: number;
  cleanReopens: number;
  records: number;
  /** Tier 2: recoveries that lost acknowledged records, and the typed errors met instead of a log. */
  lostAckedRecoveries: number;
  lostAckedRecords: number;
  typedErrors: number;
  /** The first typed error a tier-2 run met, for the report. */
  typedErrorSample: string | null;
  disk: DiskStats;
  io: SimIoStats;
  /** Some process of the run opened the log encrypted. */
  encrypted: boolean;
  /** (key, nonce) pairs the nonce oracle saw (each compared at every later check). */
  noncePairs: number;
}

type Ending = 'crashed' | 'closed' | 'openFailed' | 'typedError';

export function reproduceCommand(seed: number, options: RunOptions): string {
  const extra = [
    options.cycles !== RUN_DEFAULTS.cycles ? ` --cycles ${options.cycles}` : '',
    options.opsMax !== RUN_DEFAULTS.opsMax ? ` --ops ${options.opsMax}` : '',
  ].join('');
  return `npm run sim -- --seed ${seed} --runs 1 --tier ${options.tier}${extra}`;
}

export async function runSeed(seed: number, options: RunOptions = RUN_DEFAULTS): Promise<RunResult> {
  const rng = new Prng(seed);
  const rates = drawFaultRates(rng, options.tier);
  const disk = new SimDisk(rates, rng.fork());
  const schedulerRng = rng.fork();
  const workRng = rng.fork();
  // Its own stream, forked last, so that the disk, the scheduler and the workload draw as before.
  const batchRng = rng.fork();
  // Pipelining's own stream, forked after that one for the same reason. Per run: how often a
  // durable write stays in flight outside the syncs of later ones; per process: batches in flight.
  const pipelineRng = rng.fork();
  rates.lateLandingP = pipelineRng.pick([0, 0.5, 1]);
  // Encryption's own stream, forked after the others. Half the runs are encrypted: from the
  // first process, or from a later one (a plaintext log turned encrypted). An encrypted process
  // may bring a new key, the older ones given as previousKeys (a rotation across reopen).
  const cryptoRng = rng.fork();
  const drawnMode = cryptoRng.pick(['off', 'off', 'on', 'switch'] as const);
  const cryptoMode = options.encryption === false ? 'off' : drawnMode;
  const encryptFromCycle = cryptoMode === 'off' ? Infinity : cryptoMode === 'on' ? 0 : cryptoRng.between(1, Math.max(1, options.cycles - 1));
  const keys: { keyId: number; key: Buffer }[] = [];
  const nonces = new NonceLedger();
  // In a quarter of the runs processes switch between two batch sizes: a process with larger
  // batches than the segment's writers had raises its recorded largest write before writing (O8),
  // and recovery must look as far as the larger one's torn writes reach.
  const batchSizeRun = batchRng.chance(0.25);
  const segmentSizeBytes = batchSizeRun ? SEGMENT_BYTES_LARGE : SEGMENT_BYTES;
  const ops = options.ops ?? (batchSizeRun ? LARGE_BATCH_WORKLOAD_OPS : WORKLOAD_OPS);
  // Chosen once per run: a log created with O_DIRECT blocks may rightly refuse a buffered reopen.
  const directIo = workRng.chance(0.1) ? ('off' as const) : ('auto' as const);
  // Small segments so most runs roll over several times; preallocation on in some runs only,
  // since zero-filling every 64 KiB segment is the slow part of a simulated run.
  const preallocate = workRng.chance(0.3);
  // The double-write buffer in half the runs; those runs switch its mode between processes, so a
  // copy made by one process meets a log another process ran with the DWB off (or the other mode).
  const dwbRun = workRng.chance(0.5);
  const sealedFiles = new Map<string, Uint8Array>();
  const trace = new TraceHash();
  const oracle = new Oracle(options.tier);
  const ioStats: SimIoStats = { completions: 0, writeFailures: 0, syncFailures: 0, readFailures: 0, shortReads: 0, bitFlips: 0, misdirectedWrites: 0 };
  const result: RunResult = {
    seed,
    tier: options.tier,
    rates,
    violation: null,
    reproduce: reproduceCommand(seed, options),
    trace: '',
    traceEvents: 0,
    crashRecoveries: 0,
    cleanReopens: 0,
    records: 0,
    lostAckedRecoveries: 0,
    lostAckedRecords: 0,
    typedErrors: 0,
    typedErrorSample: null,
    disk: disk.stats,
    io: ioStats,
    encrypted: false,
    noncePairs: 0,
  };
  let previous: Ending | null = null;
  let failedOpens = 0;
  let typedErrorsInRow = 0;
  try {
    for (let cycle = 0; cycle < options.cycles; cycle++) {
      // After several opens failed on injected faults, let one through: the run must progress.
      const faultFree = failedOpens >= OPEN_ATTEMPTS_MAX;
      const doubleWriteBuffer = !dwbRun ? ('off' as const) : workRng.pick(['off', 'buffered', 'direct'] as const);
      const batchBytesMax = batchSizeRun && batchRng.chance(0.5) ? BATCH_BYTES_LARGE : BATCH_BYTES;
      const batchesInFlightMax = pipelineRng.pick([1, 2, 2, 4]);
      if (cycle >= encryptFromCycle && (keys.length === 0 || cryptoRng.chance(0.15))) keys.push({ keyId: keys.length + 1, key: simKey(cryptoRng) });
      const current = keys.at(-1);
      const encryption = current === undefined ? undefined : { ...current, previousKeys: keys.slice(0, -1) };
      if (encryption !== undefined) result.encrypted = true;
      const ending = await runProcess(cycle, {
        encryption,
        keys,
        disk,
        rng: schedulerRng,
        workRng,
        trace,
        oracle,
        options,
        faultFree,
        directIo,
        preallocate,
        doubleWriteBuffer,
        batchBytesMax,
        batchesInFlightMax,
        segmentSizeBytes,
        ops,
        previous,
        result,
        ioStats,
        sealedFiles,
      });
      trace.event(100);
      trace.mix(['crashed', 'closed', 'openFailed', 'typedError'].indexOf(ending));
      nonces.check(disk, `after process ${cycle + 1}`);
      failedOpens = ending === 'openFailed' ? failedOpens + 1 : 0;
      typedErrorsInRow = ending === 'typedError' ? typedErrorsInRow + 1 : 0;
      if (typedErrorsInRow >= TYPED_ERRORS_IN_ROW_MAX) break;
      if (ending !== 'openFailed' && ending !== 'typedError') previous = ending;
    }
  } catch (err) {
    result.violation = err instanceof SimViolation ? err.message : `unexpected exception in the simulator: ${String((err as Error)?.stack ?? err)}`;
  }
  result.trace = trace.value;
  result.traceEvents = trace.events;
  result.noncePairs = nonces.pairs;
  result.records = oracle.recordCount;
  result.lostAckedRecoveries = oracle.lostAckedRecoveries;
  result.lostAckedRecords = oracle.lostAckedRecords;
  return result;
}

/** A master key drawn from the run's stream: a seed reproduces it. */
function simKey(rng: Prng): Buffer {
  const key = Buffer.alloc(32);
  for (let i = 0; i < key.length; i++) key[i] = rng.below(256);
  return key;
}

interface ProcessInit {
  /** The process opens the log encrypted with these keys, or plaintext. */
  encryption: { keyId: number; key: Buffer; previousKeys: { keyId: number; key: Buffer }[] } | undefined;
  /** Every key of the run so far, the newest last: a rotation adds one for later processes. */
  keys: { keyId: number; key: Buffer }[];
  disk: SimDisk;
  rng: Prng;
  workRng: Prng;
  trace: TraceHash;
  oracle: Oracle;
  options: RunOptions;
  faultFree: boolean;
  directIo: 'off' | 'auto';
  preallocate: boolean;
  doubleWriteBuffer: 'off' | 'buffered' | 'direct';
  batchBytesMax: number;
  batchesInFlightMax: number;
  segmentSizeBytes: number;
  ops: readonly WorkloadOp[];
  /** Every segment handed to onSegmentSealed, with its bytes then: a sealed file never changes. */
  sealedFiles: Map<string, Uint8Array>;
  previous: Ending | null;
  result: RunResult;
  ioStats: SimIoStats;
}

async function runProcess(cycle: number, init: ProcessInit): Promise<Ending> {
  const { disk, workRng } = init;
  // Most processes crash by themselves somewhere in their I/O; the rest end between operations.
  const crashAfterCompletions = workRng.chance(0.7) ? workRng.between(1, 120) : null;
  // The first violation a callback found, kept whole (it may not be an Error) until the process ends.
  let violation: { error: unknown } | null = null;
  let signal: (ending: Ending | 'hang') => void = () => undefined;
  const ended = new Promise<Ending | 'hang'>((resolve) => (signal = resolve));
  const savedRates = { ...disk.rates };
  if (init.faultFree) quiesce(disk.rates);
  const io = new SimIo({
    disk,
    rng: init.rng,
    trace: init.trace,
    processId: cycle + 1,
    idleTurnsMax: IDLE_TURNS_MAX,
    crashAfterCompletions,
    onCrash: () => signal('crashed'),
    onHang: () => signal('hang'),
  });
  const tracked = new Set<Promise<unknown>>();
  let ending: Ending | 'hang';
  try {
    const life = lifetime(cycle, io, init, tracked, (err) => (violation ??= { error: err })).then(
      (e) => e,
      (err: unknown) => {
        if (io.crashed) return 'crashed' as const;
        throw err;
      },
    );
    ending = await Promise.race([life, ended]);
  } finally {
    Object.assign(disk.rates, savedRates);
    io.stop();
    accumulate(init.ioStats, io.stats);
  }
  // TypeScript does not see the callback above assign it, and would take it for null here.
  if (violation !== null) throw (violation as { error: unknown }).error;
  if (io.assertionFailures.length > 0) throw new SimViolation(`ringwal broke an I/O invariant: ${io.assertionFailures[0]}`);
  if (ending === 'hang') throw new SimViolation(`hang: the workload waited ${IDLE_TURNS_MAX} turns with no I/O queued (cycle ${cycle})`);
  return ending;
}

function quiesce(rates: FaultRates): void {
  rates.writeEioP = 0;
  rates.writeEnospcP = 0;
  rates.syncEioP = 0;
  rates.readBitFlipP = 0;
  rates.misdirectedWriteP = 0;
}

function accumulate(into: SimIoStats, from: SimIoStats): void {
  into.completions += from.completions;
  into.writeFailures += from.writeFailures;
  into.syncFailures += from.syncFailures;
  into.readFailures += from.readFailures;
  into.shortReads += from.shortReads;
  into.bitFlips += from.bitFlips;
  into.misdirectedWrites += from.misdirectedWrites;
}

/** The hook ran: the file's bytes now are what it must hold for as long as it exists. */
function noteSealed(init: ProcessInit, path: string, violation: (err: unknown) => void): void {
  const inode = init.disk.lookup(path);
  if (inode === undefined) {
    violation(new SimViolation(`onSegmentSealed named ${path}, which does not exist`));
    return;
  }
  const bytes = inode.current.bytes.slice(0, inode.current.sizeBytes);
  const earlier = init.sealedFiles.get(path);
  if (earlier !== undefined && !sameBytes(earlier, bytes)) violation(new SimViolation(`onSegmentSealed named ${path} twice, with different bytes`));
  init.sealedFiles.set(path, bytes);
}

/** A sealed segment is never written again: every one handed to the hook that still exists is unchanged. */
function checkSealedFiles(init: ProcessInit): void {
  // Tier 2 may damage any file (a misdirected write, a garbage sector of a torn write).
  if (init.options.tier === 2) return;
  for (const [path, bytes] of init.sealedFiles) {
    const inode = init.disk.lookup(path);
    if (inode === undefined) continue;
    if (!sameBytes(inode.current.bytes.subarray(0, inode.current.sizeBytes), bytes))
      throw new SimViolation(`${path} changed after onSegmentSealed was handed it`);
  }
}

/**
 * V6: after an open, nothing but zeros follows the last valid record of the active segment: a
 * torn write's bytes are erased as far as any writer's write could reach (O8 keeps that bound
 * true), so they can never be taken for records written later.
 */
function checkTailErased(init: ProcessInit, wal: Wal): void {
  // Tier 2 may put bytes anywhere (a misdirected write).
  if (init.options.tier === 2) return;
  const { path, endBytes } = wal.recovery;
  const image = init.disk.lookup(path)?.current;
  if (image === undefined) throw new SimViolation(`the recovered segment ${path} is not on the disk`);
  const tail = image.bytes.subarray(endBytes, Math.max(endBytes, image.sizeBytes));
  const at = tail.findIndex((b) => b !== 0);
  if (at >= 0) throw new SimViolation(`${path}: a non-zero byte at offset ${endBytes + at}, after the last valid record (which ends at ${endBytes})`);
}

/** What a process reads back after opening: every user record, and the tombstones (ringwal's own records) if asked. */
async function readAll(wal: Wal, withTombstones: boolean): Promise<{ records: RecoveredRecord[]; tombstones: TombstonesSeen | null }> {
  const records: RecoveredRecord[] = [];
  for await (const r of wal.read()) records.push({ lsn: r.lsn, payload: r.payload, txn: r.txn });
  if (!withTombstones) return { records, tombstones: null };
  const set = await wal.tombstones();
  return { records, tombstones: { tombstones: set.tombstones, temporalPurges: set.temporalPurges } };
}

async function lifetime(cycle: number, io: SimIo, init: ProcessInit, tracked: Set<Promise<unknown>>, violation: (err: unknown) => void): Promise<Ending> {
  const { oracle, options, workRng, result, disk } = init;
  const tier = options.tier;
  let wal: Wal;
  try {
    wal = await Wal.open(WAL_DIR, {
      io,
      batchBytesMax: init.batchBytesMax,
      batchesInFlightMax: init.batchesInFlightMax,
      directIo: init.directIo,
      segmentSizeBytes: init.segmentSizeBytes,
      preallocate: init.preallocate,
      doubleWriteBuffer: init.doubleWriteBuffer,
      onSegmentSealed: (info) => noteSealed(init, info.path, violation),
      encryption: init.encryption,
    });
  } catch (err) {
    if (io.crashed) return 'crashed';
    if (!(err instanceof WalError)) throw new SimViolation(`open failed with an untyped error: ${String((err as Error)?.stack ?? err)}`);
    if (io.openFileCount > 0 || disk.lockCount() > 0)
      throw new SimViolation(`a failed open left ${io.openFileCount} files open (${io.openFilePaths.join(', ')}) and ${disk.lockCount()} locks held`);
    // An injected I/O failure during open is an operating error: open again.
    if (err instanceof WalIoError && io.failuresDelivered > 0) return 'openFailed';
    if (tier === 1) throw new SimViolation(`open failed on a disk with only tier-1 faults (cycle ${cycle}): ${err.code}: ${err.message}`);
    // Tier 2: damage ringwal cannot repair must surface as a typed error, which it did. A bit
    // flipped on read is transient, so open again; the run ends when the error persists.
    result.typedErrors += 1;
    result.typedErrorSample ??= `${err.code}: ${err.message}`;
    return 'typedError';
  }
  checkSealedFiles(init);
  checkTailErased(init, wal);
  let recovered: { records: RecoveredRecord[]; tombstones: TombstonesSeen | null };
  try {
    // A log that cannot hold a tombstone is not scanned for them: the scan, a second read of the
    // whole log, could only confirm the empty set there, and cost 3 % of a tier-1 run's time
    // (8 % in tier 2) doing so.
    recovered = await readAll(wal, oracle.mayHoldTombstones);
  } catch (err) {
    if (io.crashed) return 'crashed';
    // A read the disk failed on purpose: an operating error, as at open.
    if (tier === 1 && err instanceof WalIoError && io.stats.readFailures > 0) {
      await wal.close().catch(() => undefined);
      return 'openFailed';
    }
    if (tier === 2 && err instanceof WalError) {
      result.typedErrors += 1;
      result.typedErrorSample ??= `${err.code}: ${err.message}`;
      await wal.close().catch(() => undefined);
      return 'typedError';
    }
    throw new SimViolation(`reading the recovered log failed (cycle ${cycle}): ${String((err as Error)?.stack ?? err)}`);
  }
  oracle.recovered(recovered.records, wal.firstLsn, wal.nextLsn);
  // Own records are never read back as records: what the log says of them must be what the
  // recovered range holds, the last checkpoint (found from the last segment alone) included.
  oracle.checkLastCheckpoint(wal.lastCheckpoint(), wal.firstLsn, wal.durableLsn, `after recovery (cycle ${cycle})`);
  if (recovered.tombstones !== null) oracle.checkRecoveredTombstones(recovered.tombstones);
  if (init.previous === 'crashed') result.crashRecoveries += 1;
  else if (init.previous === 'closed') result.cleanReopens += 1;

  let logFailed = false;
  let truncations = 0;
  const ctx: WorkloadContext = {
    rng: workRng,
    wal,
    io,
    oracle,
    segmentSizeBytes: init.segmentSizeBytes,
    batchBytesMax: init.batchBytesMax,
    alive: () => !io.crashed,
    logFailed: () => logFailed,
    markLogFailed() {
      logFailed = true;
    },
    violation,
    track(p) {
      const settled: Promise<unknown> = p.then(
        (): void => void tracked.delete(settled),
        (): void => void tracked.delete(settled),
      );
      tracked.add(settled);
    },
    async settle() {
      while (tracked.size > 0 && !io.crashed) await Promise.all([...tracked]);
    },
    yieldTurn() {
      io.noteActivity();
      return new Promise<void>((resolve) => setImmediate(resolve));
    },
    noteTruncation() {
      truncations += 1;
    },
    truncationsStarted: () => truncations,
    newKey() {
      if (init.encryption === undefined) return null;
      const spec = { keyId: init.keys.length + 1, key: simKey(workRng) };
      init.keys.push(spec);
      return spec;
    },
  };
  const opCount = workRng.between(1, options.opsMax);
  for (let i = 0; i < opCount; i++) {
    if (io.crashed) return 'crashed';
    // After a failed write or sync the log refuses everything; the process closes (or crashes)
    // and reopens. Other failures (a segment that could not be made for lack of space, a failed
    // directory fsync of a removal, a failed read) leave the log running, and the workload goes on.
    if (ctx.logFailed()) break;
    await drawOp(workRng, init.ops).run(ctx);
  }
  if (io.crashed) return 'crashed';
  if (workRng.chance(0.5)) {
    // The crash comes from the I/O scheduler, preferably while a write is unsynced.
    io.crashSoon();
    return new Promise<Ending>(() => undefined);
  }
  if (io.crashed) return 'crashed';
  try {
    await wal.close();
  } catch (err) {
    if (io.crashed) return 'crashed';
    if (!(err instanceof WalError) || (tier === 1 && io.failuresDelivered === 0))
      throw new SimViolation(`close failed without an injected fault: ${String((err as Error)?.stack ?? err)}`);
  }
  if (io.crashed) return 'crashed';
  await ctx.settle();
  if (tracked.size > 0) throw new SimViolation(`close resolved while ${tracked.size} appends were still unsettled`);
  if (io.openFileCount > 0 || disk.lockCount() > 0)
    throw new SimViolation(`close left ${io.openFileCount} files open (${io.openFilePaths.join(', ')}) and ${disk.lockCount()} locks held`);
  await io.close();
  return 'closed';
}
