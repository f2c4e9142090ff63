/**
 * The third implementation of the I/O interface: one simulated process's view of a SimDisk.
 *
 * Every request is queued and completed later, one per event-loop turn (setImmediate), the one
 * to complete drawn by the seeded PRNG. ringwal itself has no timers (it flushes on
 * process.nextTick and reacts to promise resolutions), so with this queue the whole run is a
 * function of the seed. Faults are decided when a request is submitted (ENOSPC, EIO, a
 * misdirected write) or completed (a failing sync), always from the same PRNG stream.
 *
 * A write reaches the file's current image (the "page cache") when submitted, as an unsynced
 * change; a crash decides its fate. A durable write syncs when it completes. After `crash()`
 * every request still queued never completes and every later call never settles: the process
 * is gone, and the runner opens the log again through a new SimIo over the same disk.
 */
import { dirname } from 'node:path';
import { BLOCK_SIZE_BYTES_DEFAULT } from '../format/constants.js';
import { WalIoError, WalLockedError } from '../errors.js';
import type { AlignedBuffer, Io, IoFile, IoLock, OpenFileOptions, SyncMethod } from '../io/io.js';
import { crc32c, crc32cRanges } from '../format/crc32c.js';
import type { Prng } from './prng.js';
import type { SimDisk, SimInode } from './sim-disk.js';
import { TraceHash } from './trace-hash.js';

/** Trace event kinds, one per request type. */
const Ev = {
  OPEN: 1,
  WRITE: 2,
  READ: 3,
  SYNC: 4,
  SIZE: 5,
  TRUNCATE: 6,
  ALLOCATE: 7,
  CLOSE: 8,
  LOCK: 9,
  UNLOCK: 10,
  MKDIR: 11,
  LIST: 12,
  RENAME: 13,
  UNLINK: 14,
  FSYNC_DIR: 15,
  FAIL: 16,
  DROP_CACHE: 17,
} as const;

/** Completions a due crash may wait for unsynced data before it happens anyway. */
const CRASH_POSTPONE_TURNS_MAX = 64;

export interface SimIoOptions {
  /** The disk this simulated process sees; it outlives the process (reopen with a new SimIo). */
  disk: SimDisk;
  /** Decides the order in which queued requests complete, and every fault. */
  rng: Prng;
  /** Hashes every request and outcome, so two runs of one seed can be compared; default: a new one. */
  trace?: TraceHash;
  /** Distinguishes processes, for lock ownership; default 1 (give each reopen its own). */
  processId?: number;
  /**
   * Turns with nothing queued and no sign of life from the caller before `onHang` fires; default:
   * no hang detection, and the simulated process then turns the event loop only while it has work.
   */
  idleTurnsMax?: number;
  /** Completions after which the process crashes by itself; default null, never. */
  crashAfterCompletions?: number | null;
  onCrash?: () => void;
  onHang?: () => void;
}

/** Counts a run reports; `failuresDelivered` also feeds the check that no ack follows a failure. */
export interface SimIoStats {
  completions: number;
  writeFailures: number;
  syncFailures: number;
  readFailures: number;
  shortReads: number;
  bitFlips: number;
  misdirectedWrites: number;
}

/** The errno values the simulated disk injects: in tier 1, any other in an error is a ringwal bug. */
export const INJECTED_ERRNOS: ReadonlySet<string> = new Set(['EIO', 'ENOSPC']);

interface Request {
  /** Runs when the scheduler picks the request: performs what is left and settles the promise. */
  complete: () => void;
}

export class SimIo implements Io {
  readonly backend = 'sim' as const;
  readonly fallbackReason = null;
  readonly syncMethod: SyncMethod = 'linked-fdatasync';
  readonly disk: SimDisk;
  readonly stats: SimIoStats = { completions: 0, writeFailures: 0, syncFailures: 0, readFailures: 0, shortReads: 0, bitFlips: 0, misdirectedWrites: 0 };
  /** Invariant violations by the caller (unaligned direct I/O, I/O on a closed file): ringwal bugs. */
  readonly assertionFailures: string[] = [];
  private readonly rng: Prng;
  private readonly trace: TraceHash;
  private readonly processId: number;
  private readonly idleTurnsMax: number;
  private crashAfterCompletions: number | null;
  private readonly onCrash: () => void;
  private readonly onHang: () => void;
  private readonly queue: Request[] = [];
  private readonly openFiles = new Set<SimFile>();
  private readonly injected = new WeakMap<object, FailureKind>();
  private idleTurns = 0;
  private crashPostponedTurns = 0;
  private state: 'running' | 'crashed' | 'stopped' = 'running';
  private turnScheduled = false;

  constructor(options: SimIoOptions) {
    this.disk = options.disk;
    this.rng = options.rng;
    this.trace = options.trace ?? new TraceHash();
    this.processId = options.processId ?? 1;
    this.idleTurnsMax = options.idleTurnsMax ?? Number.POSITIVE_INFINITY;
    this.crashAfterCompletions = options.crashAfterCompletions ?? null;
    this.onCrash = options.onCrash ?? (() => undefined);
    this.onHang = options.onHang ?? (() => undefined);
    this.scheduleTurn();
  }

  /** Idle turns are needed to notice a hang or to crash with nothing queued; otherwise turn only with work. */
  private get turnsWhileIdle(): boolean {
    return Number.isFinite(this.idleTurnsMax) || this.crashAfterCompletions !== null;
  }

  get crashed(): boolean {
    return this.state === 'crashed';
  }

  get openFileCount(): number {
    return this.openFiles.size;
  }

  /** Paths of the files still open, for a violation message. */
  get openFilePaths(): string[] {
    return [...this.openFiles].map((f) => f.path);
  }

  /** Write, sync and read failures handed to the caller so far in this process. */
  get failuresDelivered(): number {
    return this.stats.writeFailures + this.stats.syncFailures + this.stats.readFailures;
  }

  /** The workload calls this when it makes progress without I/O, so waiting is not taken for a hang. */
  noteActivity(): void {
    this.idleTurns = 0;
  }

  /** Power loss now: queued requests never complete, the disk keeps only what the model allows. */
  crash(): void {
    if (this.state !== 'running') return;
    this.state = 'crashed';
    this.queue.length = 0;
    this.openFiles.clear();
    this.disk.crash();
    this.onCrash();
  }

  /** Crash at the next moment something is unsynced (or at once if nothing more is queued). */
  crashSoon(): void {
    this.crashAfterCompletions = this.stats.completions;
    this.scheduleTurn();
  }

  /** Ends the process without a crash (after the log was closed); the disk keeps its cache. */
  stop(): void {
    if (this.state === 'running') this.state = 'stopped';
  }

  private scheduleTurn(): void {
    if (this.turnScheduled || this.state !== 'running') return;
    this.turnScheduled = true;
    setImmediate(() => this.turn());
  }

  private turn(): void {
    this.turnScheduled = false;
    if (this.state !== 'running') return;
    const crashAfter = this.crashAfterCompletions;
    if (crashAfter !== null && this.stats.completions >= crashAfter && (this.queue.length === 0 || this.crashNowOrLater())) {
      this.crash();
      return;
    }
    if (this.queue.length === 0) {
      this.idleTurns += 1;
      if (this.idleTurns > this.idleTurnsMax) {
        this.state = 'stopped';
        this.onHang();
        return;
      }
      if (!this.turnsWhileIdle) return;
    } else {
      this.idleTurns = 0;
      // Swap-remove: the order of the rest does not matter, the next pick is random again.
      const i = this.rng.below(this.queue.length);
      const request = this.queue[i]!;
      this.queue[i] = this.queue[this.queue.length - 1]!;
      this.queue.pop();
      this.stats.completions += 1;
      request.complete();
    }
    this.scheduleTurn();
  }

  /**
   * A crash with nothing unsynced tests little: most of the time, wait for a moment when a write
   * is in flight or unsynced, up to a bound so a run that writes no more still crashes.
   */
  private crashNowOrLater(): boolean {
    if (this.disk.hasPending() || this.crashPostponedTurns >= CRASH_POSTPONE_TURNS_MAX || !this.rng.chance(0.8)) return true;
    this.crashPostponedTurns += 1;
    return false;
  }

  /** Queues `perform`; its result or its thrown error settles the promise when the request is picked. */
  private request<T>(perform: () => T): Promise<T> {
    if (this.state !== 'running') return new Promise<T>(() => undefined);
    return new Promise<T>((resolve, reject) => {
      this.queue.push({
        complete: () => {
          let value: T;
          try {
            value = perform();
          } catch (err) {
            const kind = this.injected.get(err as object);
            if (kind === 'write') this.stats.writeFailures += 1;
            else if (kind === 'sync') this.stats.syncFailures += 1;
            else if (kind === 'read') this.stats.readFailures += 1;
            reject(err);
            return;
          }
          resolve(value);
        },
      });
      this.idleTurns = 0;
      this.scheduleTurn();
    });
  }

  /**
   * @internal A failure injected into a write or a sync, traced now and counted when delivered:
   * the check that nothing is acknowledged after a failure needs the moment the caller learns it.
   */
  fail(kind: FailureKind, errno: string, syscall: string, path: string): WalIoError {
    this.trace.event(Ev.FAIL);
    this.trace.mixString(errno);
    const err = new WalIoError(errno, syscall, path);
    this.injected.set(err, kind);
    return err;
  }

  /** @internal Records a caller bug and returns the error to reject with. */
  assertionFailed(message: string): Error {
    this.assertionFailures.push(message);
    return new Error(`sim assertion: ${message}`);
  }

  /** @internal */
  draw(p: number): boolean {
    return this.rng.chance(p);
  }

  /** @internal */
  drawBelow(n: number): number {
    return this.rng.below(n);
  }

  /** @internal */
  traceEvent(kind: number, ...values: number[]): void {
    this.trace.event(kind);
    for (const v of values) this.trace.mix(v);
  }

  /** @internal */
  enqueue<T>(perform: () => T): Promise<T> {
    return this.request(perform);
  }

  /** @internal */
  forget(file: SimFile): void {
    this.openFiles.delete(file);
  }

  /** Alignment does not matter to an ArrayBuffer; the check of every request's alignment does. */
  allocAligned(sizeBytes: number, alignmentBytes: number): AlignedBuffer {
    if (!Number.isInteger(sizeBytes) || sizeBytes < 0 || sizeBytes % 4 !== 0)
      throw this.assertionFailed(`allocAligned(${sizeBytes}): size must be a multiple of 4`);
    const arrayBuffer = new ArrayBuffer(sizeBytes);
    return { arrayBuffer, bytes: new Uint8Array(arrayBuffer), words: new Uint32Array(arrayBuffer), alignmentBytes };
  }

  /** The simulated disk has nothing to pin: the hint changes nothing, and leaves no trace. */
  registerBuffers(_buffers: readonly AlignedBuffer[]): void {}

  /** From the seed: a run draws the same salts again. */
  randomFill(out: Uint8Array): void {
    for (let i = 0; i < out.byteLength; i++) out[i] = this.rng.below(256);
  }

  /** The portable CRC: the simulated disk needs no native addon. */
  crc32cRanges(bytes: Uint8Array, ranges: Uint32Array, count: number, out: Uint32Array): void {
    crc32cRanges(bytes, ranges, count, out);
  }

  openFile(path: string, options: OpenFileOptions): Promise<IoFile> {
    return this.request(() => {
      let inode = this.disk.lookup(path);
      if (inode === undefined) {
        if (!options.create) throw new WalIoError('ENOENT', 'open', path);
        inode = this.disk.create(path);
        if (inode === undefined) throw new WalIoError('ENOENT', 'open', path);
      }
      const direct = options.direct !== 'off';
      const alignmentBytes = direct ? this.disk.rates.alignmentBytes : BLOCK_SIZE_BYTES_DEFAULT;
      const file = new SimFile(this, path, inode, direct, alignmentBytes, options.readOnly);
      this.openFiles.add(file);
      this.traceEvent(Ev.OPEN, inode.id, options.create ? 1 : 0);
      return file;
    });
  }

  lock(path: string): Promise<IoLock> {
    return this.request(() => {
      if (!this.disk.hasDir(dirname(path))) throw new WalIoError('ENOENT', 'open', path);
      if (!this.disk.tryLock(path, this.processId)) throw new WalLockedError(path);
      // The native lock opens the file with O_CREAT; the entry exists from then on.
      if (this.disk.lookup(path) === undefined) this.disk.create(path);
      this.traceEvent(Ev.LOCK);
      let released = false;
      return {
        release: () =>
          this.request(() => {
            if (released) return;
            released = true;
            this.disk.unlock(path, this.processId);
            this.traceEvent(Ev.UNLOCK);
          }),
      };
    });
  }

  mkdirp(dir: string): Promise<void> {
    return this.request(() => {
      const created = this.disk.mkdirp(dir);
      this.traceEvent(Ev.MKDIR, created.length);
    });
  }

  listDir(dir: string): Promise<string[]> {
    return this.request(() => {
      const names = this.disk.list(dir);
      if (names === undefined) throw new WalIoError('ENOENT', 'readdir', dir);
      this.traceEvent(Ev.LIST, names.length);
      return names;
    });
  }

  rename(fromPath: string, toPath: string): Promise<void> {
    return this.request(() => {
      if (!this.disk.rename(fromPath, toPath)) throw new WalIoError('ENOENT', 'rename', fromPath);
      this.traceEvent(Ev.RENAME);
    });
  }

  unlink(path: string): Promise<void> {
    return this.request(() => {
      if (!this.disk.unlink(path)) throw new WalIoError('ENOENT', 'unlink', path);
      this.traceEvent(Ev.UNLINK);
    });
  }

  fsyncDir(dir: string): Promise<void> {
    return this.request(() => {
      // A directory fsync can fail like any other; nothing is made durable then.
      if (this.draw(this.disk.rates.syncEioP)) throw this.fail('sync', 'EIO', 'fsync', dir);
      if (!this.disk.fsyncDir(dir)) throw new WalIoError('ENOENT', 'open', dir);
      this.traceEvent(Ev.FSYNC_DIR);
    });
  }

  async close(): Promise<void> {
    if (this.openFiles.size > 0) throw this.assertionFailed(`Io.close with ${this.openFiles.size} files open`);
    this.stop();
  }
}

type FailureKind = 'write' | 'sync' | 'read';

export class SimFile implements IoFile {
  readonly syncMethod: SyncMethod = 'linked-fdatasync';
  private closed = false;
  private closing: Promise<void> = Promise.resolve();
  /** Requests of this file not yet completed: close() waits for them, as the native file does. */
  private inFlight = 0;
  private idle: Array<() => void> = [];

  constructor(
    private readonly io: SimIo,
    readonly path: string,
    private readonly inode: SimInode,
    readonly direct: boolean,
    readonly alignmentBytes: number,
    private readonly readOnly: boolean,
  ) {}

  /** What O_DIRECT would refuse with EINVAL, and what no I/O may do at all: bugs, not faults. */
  private check(buffer: AlignedBuffer, bufferOffsetBytes: number, lengthBytes: number, fileOffsetBytes: number, writing: boolean): Error | null {
    const where = `${this.path} (buffer ${bufferOffsetBytes}, length ${lengthBytes}, offset ${fileOffsetBytes})`;
    if (this.closed) return this.io.assertionFailed(`I/O on a closed file: ${where}`);
    if (writing && this.readOnly) return this.io.assertionFailed(`write to a read-only file: ${where}`);
    if (bufferOffsetBytes < 0 || lengthBytes < 0 || fileOffsetBytes < 0 || bufferOffsetBytes + lengthBytes > buffer.bytes.byteLength) {
      return this.io.assertionFailed(`request outside its buffer of ${buffer.bytes.byteLength} bytes: ${where}`);
    }
    if (this.direct) {
      const a = this.alignmentBytes;
      if (bufferOffsetBytes % a !== 0 || lengthBytes % a !== 0 || fileOffsetBytes % a !== 0 || buffer.alignmentBytes % a !== 0) {
        return this.io.assertionFailed(`unaligned O_DIRECT request (alignment ${a}): ${where}`);
      }
    }
    return null;
  }

  write(buffer: AlignedBuffer, bufferOffsetBytes: number, lengthBytes: number, fileOffsetBytes: number, durable: boolean): Promise<void> {
    const bad = this.check(buffer, bufferOffsetBytes, lengthBytes, fileOffsetBytes, true);
    if (bad !== null) return Promise.reject(bad);
    const io = this.io;
    const rates = io.disk.rates;
    const inode = this.inode;
    let failure: WalIoError | null = null;
    let inFlight: ReturnType<SimInode['writeInFlight']> | null = null;
    // Faults are drawn in a fixed order, so a seed decides them whatever the outcome.
    const enospc = io.draw(rates.writeEnospcP);
    const eio = io.draw(rates.writeEioP);
    const misdirected = io.draw(rates.misdirectedWriteP);
    if (enospc) {
      failure = io.fail('write', 'ENOSPC', 'write', this.path);
    } else {
      let atBytes = fileOffsetBytes;
      if (misdirected) {
        io.stats.misdirectedWrites += 1;
        const shiftBytes = (1 + io.drawBelow(4)) * this.alignmentBytes;
        atBytes = fileOffsetBytes >= shiftBytes && io.draw(0.5) ? fileOffsetBytes - shiftBytes : fileOffsetBytes + shiftBytes;
      }
      // The caller may reuse its buffer once the promise settles, not before; copy now anyway,
      // since the change must stay as it was submitted until a crash decides its fate.
      const data = buffer.bytes.slice(bufferOffsetBytes, bufferOffsetBytes + lengthBytes);
      // A durable write may stay in flight until it completes: a later write's sync does not cover it.
      if (durable && rates.lateLandingP > 0 && io.draw(rates.lateLandingP)) inFlight = inode.writeInFlight(atBytes, data, rates.sectorBytes);
      else inode.write(atBytes, data, rates.sectorBytes);
      // An EIO write may have reached the medium in part: its change stays pending for the crash.
      if (eio) failure = io.fail('write', 'EIO', 'write', this.path);
    }
    io.traceEvent(
      Ev.WRITE,
      inode.id,
      fileOffsetBytes,
      lengthBytes,
      durable ? 1 : 0,
      fileOffsetBytes >= this.alignmentBytes ? crc32c(buffer.bytes.subarray(bufferOffsetBytes, bufferOffsetBytes + lengthBytes)) : 0,
    );
    return this.track(
      io.enqueue(() => {
        if (inFlight !== null) inode.land(inFlight);
        if (failure !== null) throw failure;
        if (durable) this.syncOrFail('fdatasync');
      }),
    );
  }

  /** Counts a request of this file until it settles. */
  private track<T>(request: Promise<T>): Promise<T> {
    this.inFlight += 1;
    const done = (): void => {
      this.inFlight -= 1;
      if (this.inFlight > 0) return;
      const waiters = this.idle;
      this.idle = [];
      for (const resolve of waiters) resolve();
    };
    request.then(done, done);
    return request;
  }

  /** The sync half of a durable write, or a datasync: fails by the PRNG, fsyncgate-style. */
  private syncOrFail(syscall: string): void {
    const io = this.io;
    const rates = io.disk.rates;
    if (io.draw(rates.syncEioP)) {
      // After a failed fsync Linux may have dropped the dirty pages, kept them dirty, or (page
      // cache only) kept them cached and marked clean, so that reads return what is not on disk.
      if (!this.direct && io.draw(rates.syncFailCleanP)) this.inode.markPendingClean();
      else if (io.draw(rates.syncFailDropsP)) this.inode.dropPending();
      throw io.fail('sync', 'EIO', syscall, this.path);
    }
    this.inode.sync();
  }

  read(buffer: AlignedBuffer, bufferOffsetBytes: number, lengthBytes: number, fileOffsetBytes: number): Promise<number> {
    const bad = this.check(buffer, bufferOffsetBytes, lengthBytes, fileOffsetBytes, false);
    if (bad !== null) return Promise.reject(bad);
    const io = this.io;
    const inode = this.inode;
    return this.track(
      io.enqueue(() => {
        const image = inode.current;
        const rates = io.disk.rates;
        const availableBytes = Math.max(0, Math.min(lengthBytes, image.sizeBytes - fileOffsetBytes));
        // Faults are drawn in a fixed order, so a seed decides them whatever the outcome.
        const eio = io.draw(rates.readEioP);
        const short = io.draw(rates.shortReadP);
        if (availableBytes > 0 && inode.unreadable(fileOffsetBytes, availableBytes, rates.sectorBytes)) throw io.fail('read', 'EIO', 'read', this.path);
        if (eio) throw io.fail('read', 'EIO', 'read', this.path);
        let gotBytes = availableBytes;
        // A short read before the end of the file: at least one unit, and on the block grid for O_DIRECT.
        const unitBytes = this.direct ? this.alignmentBytes : 1;
        if (short && availableBytes > unitBytes) {
          io.stats.shortReads += 1;
          gotBytes = unitBytes * (1 + io.drawBelow(Math.floor((availableBytes - 1) / unitBytes)));
        }
        if (gotBytes > 0) buffer.bytes.set(image.bytes.subarray(fileOffsetBytes, fileOffsetBytes + gotBytes), bufferOffsetBytes);
        if (gotBytes > 0 && io.draw(io.disk.rates.readBitFlipP)) {
          // A latent sector error the drive did not catch: one bit of this read is wrong.
          io.stats.bitFlips += 1;
          const bit = io.drawBelow(gotBytes * 8);
          buffer.bytes[bufferOffsetBytes + (bit >>> 3)]! ^= 1 << (bit & 7);
        }
        io.traceEvent(Ev.READ, inode.id, fileOffsetBytes, gotBytes);
        return gotBytes;
      }),
    );
  }

  datasync(): Promise<void> {
    if (this.closed) return Promise.reject(this.io.assertionFailed(`datasync on a closed file: ${this.path}`));
    return this.track(
      this.io.enqueue(() => {
        this.syncOrFail('fdatasync');
        this.io.traceEvent(Ev.SYNC, this.inode.id);
      }),
    );
  }

  dropCache(): Promise<void> {
    if (this.closed) return Promise.reject(this.io.assertionFailed(`dropCache on a closed file: ${this.path}`));
    return this.track(
      this.io.enqueue(() => {
        if (!this.direct) this.inode.dropCleanPages();
        this.io.traceEvent(Ev.DROP_CACHE, this.inode.id);
      }),
    );
  }

  sizeBytes(): Promise<number> {
    if (this.closed) return Promise.reject(this.io.assertionFailed(`size of a closed file: ${this.path}`));
    return this.io.enqueue(() => {
      this.io.traceEvent(Ev.SIZE, this.inode.current.sizeBytes);
      return this.inode.current.sizeBytes;
    });
  }

  truncate(sizeBytes: number): Promise<void> {
    if (this.closed || this.readOnly || !Number.isSafeInteger(sizeBytes) || sizeBytes < 0) {
      return Promise.reject(this.io.assertionFailed(`truncate(${sizeBytes}) of ${this.path} (closed ${this.closed}, read-only ${this.readOnly})`));
    }
    return this.io.enqueue(() => {
      this.inode.resize(sizeBytes, true);
      this.io.traceEvent(Ev.TRUNCATE, this.inode.id, sizeBytes);
    });
  }

  allocate(offsetBytes: number, lengthBytes: number): Promise<void> {
    if (this.closed || this.readOnly || offsetBytes < 0 || lengthBytes <= 0) {
      return Promise.reject(this.io.assertionFailed(`allocate(${offsetBytes}, ${lengthBytes}) of ${this.path}`));
    }
    return this.io.enqueue(() => {
      if (this.io.draw(this.io.disk.rates.writeEnospcP)) throw this.io.fail('write', 'ENOSPC', 'fallocate', this.path);
      this.inode.resize(offsetBytes + lengthBytes, false);
      this.io.traceEvent(Ev.ALLOCATE, this.inode.id, offsetBytes, lengthBytes);
    });
  }

  close(): Promise<void> {
    if (this.closed) return this.closing;
    this.closed = true;
    const idle = this.inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => this.idle.push(resolve));
    this.closing = idle.then(() =>
      this.io.enqueue(() => {
        this.io.forget(this);
        this.io.traceEvent(Ev.CLOSE, this.inode.id);
      }),
    );
    return this.closing;
  }
}
