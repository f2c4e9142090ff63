/**
 * The real disk: the I/O interface over the C addon, with either an io_uring ring of ringwal's
 * own or the libuv thread pool as the queue. Hot-path requests (write, read, sync) go through the
 * queue; cold-path metadata calls (open, rename, directory fsync) use node:fs directly, because
 * they happen a handful of times per segment and gain nothing from a ring.
 */
import { randomFillSync } from 'node:crypto';
import * as fs from 'node:fs';
import { promisify } from 'node:util';
import { BLOCK_SIZE_BYTES_DEFAULT, BLOCK_SIZE_BYTES_MAX } from '../format/constants.js';
import { WalBackendUnavailableError, WalDirectIoUnsupportedError, WalInvalidArgumentError, WalIoError, WalLockedError } from '../errors.js';
import type { AlignedBuffer, Io, IoFile, IoLock, OpenFileOptions, SyncMethod } from './io.js';
import {
  NativeDurability,
  NativeSyscall,
  errnoName,
  errnoValue,
  loadNativeBinding,
  type NativeBackendKind,
  type NativeBinding,
  type NativeBindingOption,
  type NativeHandle,
  type NativePoolInfo,
  type NativeRingInfo,
} from './native-binding.js';
import { POOL_QUEUE_DEPTH_MAX, QUEUE_DEPTH_MAX } from './io.js';

const fsOpen = promisify(fs.open);
const fsClose = promisify(fs.close);
const fsFstat = promisify(fs.fstat);
const fsFtruncate = promisify(fs.ftruncate);
const fsFsync = promisify(fs.fsync);

const ENOMEM = errnoValue('ENOMEM');

const SYSCALL_NAMES: Record<number, string> = {
  [NativeSyscall.WRITE]: 'write',
  [NativeSyscall.FDATASYNC]: 'fdatasync',
  [NativeSyscall.READ]: 'read',
  [NativeSyscall.FSYNC]: 'fsync',
};

export interface NativeIoOptions {
  backend: 'auto' | 'io_uring' | 'threadpool';
  syncMethod: SyncMethod;
  queueDepth: number;
  /** The addon's binding object, or the path of its `.node` file; default: the one `npm install` built. */
  nativeBinding?: NativeBindingOption;
}

/**
 * A node:fs failure as a WalIoError, Node's error its cause. One without an errno (a Node
 * check, not a system call) counts as EIO; its cause says what it was.
 */
function ioErrorFrom(err: unknown, syscall: string, path?: string): WalIoError {
  const e = err as NodeJS.ErrnoException;
  const name = typeof e.errno === 'number' && typeof e.code === 'string' ? e.code : 'EIO';
  return new WalIoError(name, e.syscall ?? syscall, path, { cause: err });
}

type Submit = (reqId: number) => number;

interface Waiting {
  submit: Submit;
  resolve: (result: number) => void;
  reject: (err: Error) => void;
  path: string;
}

export class NativeIo implements Io {
  readonly backend: NativeBackendKind;
  readonly syncMethod: SyncMethod;
  fallbackReason: string | null = null;
  /** The ring or the pool: every request goes to it through the addon's one backend surface. */
  private readonly handle: NativeHandle;
  private readonly completions: Int32Array;
  private readonly resolvers: Array<((result: number) => void) | undefined>;
  private readonly rejecters: Array<((err: Error) => void) | undefined>;
  private readonly paths: string[];
  private readonly freeIds: number[];
  private readonly depth: number;
  /** Requests beyond the queue depth wait here, in order, instead of failing. */
  private readonly waiting: Waiting[] = [];
  /** close() waits here until no request is in flight or waiting. */
  private drainWaiters: Array<() => void> = [];
  private closed = false;
  /** Buffers to register with the ring once nothing is in flight (registerBuffers). */
  private buffersToRegister: ArrayBuffer[] | null = null;

  /** @internal The addon this Io calls, shared with its files. */
  readonly native: NativeBinding;

  private constructor(native: NativeBinding, backend: NativeBackendKind, handle: NativeHandle, completions: Int32Array, depth: number, syncMethod: SyncMethod) {
    this.native = native;
    this.backend = backend;
    this.handle = handle;
    this.syncMethod = syncMethod;
    this.completions = completions;
    this.depth = depth;
    this.resolvers = new Array<((result: number) => void) | undefined>(depth).fill(undefined);
    this.rejecters = new Array<((err: Error) => void) | undefined>(depth).fill(undefined);
    this.paths = new Array<string>(depth).fill('');
    this.freeIds = [];
    for (let id = depth - 1; id >= 0; id--) this.freeIds.push(id);
  }

  /** Requests submitted and not yet completed, plus those waiting for a free slot. */
  private get busyCount(): number {
    return this.depth - this.freeIds.length + this.waiting.length;
  }

  static create(options: NativeIoOptions): NativeIo {
    const depth = options.queueDepth;
    if (!Number.isInteger(depth) || depth < 1 || depth > QUEUE_DEPTH_MAX) {
      throw new WalInvalidArgumentError('queueDepth', `must be an integer in [1, ${QUEUE_DEPTH_MAX}]`);
    }
    if (options.backend === 'threadpool' && depth > POOL_QUEUE_DEPTH_MAX) {
      throw new WalInvalidArgumentError('queueDepth', `the thread pool has at most ${POOL_QUEUE_DEPTH_MAX} slots, got ${depth}`);
    }
    const native = loadNativeBinding(options.nativeBinding);
    const completions = new Int32Array(depth * 3);
    // The callback needs the instance, which needs the handle: bind through a holder.
    const holder: { io?: NativeIo } = {};
    const onCompletions = (count: number): void => holder.io!.onCompletions(count);
    let backend: NativeBackendKind = 'io_uring';
    let handle: NativeHandle | undefined;
    let fallbackReason: string | null = null;
    if (options.backend !== 'threadpool') {
      const ring = native.backendCreate('io_uring', depth, completions, onCompletions);
      if (typeof ring === 'number') {
        const why = ringUnavailableReason(native, ring);
        if (options.backend === 'io_uring') throw new WalBackendUnavailableError('io_uring', why);
        fallbackReason = why;
      } else {
        handle = ring;
      }
    }
    let slots = depth;
    if (handle === undefined) {
      backend = 'threadpool';
      // A fallback from io_uring keeps the depth asked for as far as the pool has slots.
      slots = Math.min(depth, POOL_QUEUE_DEPTH_MAX);
      const pool = native.backendCreate('threadpool', slots, completions, onCompletions);
      if (typeof pool === 'number') throw new WalBackendUnavailableError('threadpool', errnoName(pool));
      handle = pool;
    }
    const io = new NativeIo(native, backend, handle, completions, slots, options.syncMethod);
    io.fallbackReason = fallbackReason;
    holder.io = io;
    return io;
  }

  private onCompletions(count: number): void {
    const c = this.completions;
    for (let i = 0; i < count; i++) {
      const reqId = c[3 * i]!;
      const result = c[3 * i + 1]!;
      const syscall = c[3 * i + 2]!;
      const resolve = this.resolvers[reqId];
      const reject = this.rejecters[reqId];
      if (resolve === undefined || reject === undefined) throw new Error(`completion for idle request ${reqId}`);
      const path = this.paths[reqId]!;
      this.resolvers[reqId] = undefined;
      this.rejecters[reqId] = undefined;
      this.freeIds.push(reqId);
      if (result < 0) reject(new WalIoError(errnoName(result), SYSCALL_NAMES[syscall] ?? `syscall ${syscall}`, path));
      else resolve(result);
    }
    while (this.waiting.length > 0 && this.freeIds.length > 0) {
      const next = this.waiting.shift()!;
      this.start(next.submit, next.resolve, next.reject, next.path);
    }
    // Now, before the promises' callbacks can submit more: the ring changes its set only idle.
    if (this.busyCount === 0 && this.buffersToRegister !== null) this.registerNow();
    if (this.busyCount === 0 && this.drainWaiters.length > 0) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  private start(submit: Submit, resolve: (result: number) => void, reject: (err: Error) => void, path: string): void {
    const reqId = this.freeIds.pop()!;
    const rc = submit(reqId);
    if (rc < 0) {
      this.freeIds.push(reqId);
      reject(new WalIoError(errnoName(rc), 'io_uring_enter', path));
      return;
    }
    this.resolvers[reqId] = resolve;
    this.rejecters[reqId] = reject;
    this.paths[reqId] = path;
  }

  private request(submit: Submit, path: string): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      if (this.freeIds.length === 0) this.waiting.push({ submit, resolve, reject, path });
      else this.start(submit, resolve, reject, path);
    });
  }

  /** Test hook: the `countdown`-th next request of `syscall` ('write' or 'fdatasync') fails with `errno`. */
  injectFault(syscall: 'write' | 'fdatasync', countdown: number, errno: number): void {
    const code = syscall === 'write' ? NativeSyscall.WRITE : NativeSyscall.FDATASYNC;
    const rc = this.native.testing.injectFault(this.handle, code, countdown, errno);
    if (rc < 0) throw new WalIoError(errnoName(rc), 'inject_fault');
  }

  /** Diagnostic: the backend's counters (docs/native-api.md, `testing.info`), or -EBADF once closed. */
  info(): NativeRingInfo | NativePoolInfo | number {
    return this.native.testing.info(this.handle);
  }

  /**
   * Registers the buffers with the ring now if nothing is in flight, else as soon as nothing is:
   * the ring refuses to change its set under requests in flight (-EBUSY), and the kernel would
   * have to wait for them. The thread pool has nothing to register, its pwrite takes any memory.
   */
  registerBuffers(buffers: readonly AlignedBuffer[]): void {
    if (this.backend !== 'io_uring' || this.closed) return;
    this.buffersToRegister = buffers.map((buffer) => buffer.arrayBuffer);
    if (this.busyCount === 0) this.registerNow();
  }

  /**
   * The kernel counts registered memory against RLIMIT_MEMLOCK unless the process has
   * CAP_IPC_LOCK, and answers ENOMEM past it. That limit is 8 MiB by default, which two default
   * batch buffers (4 MiB and a block each) exceed by two blocks, while one fits: so on ENOMEM
   * fewer buffers are tried, each one a write path that still gains. Any other refusal leaves the
   * buffers unregistered, which costs speed and nothing else; `info().fixedBuffers` tells.
   */
  private registerNow(): void {
    const buffers = this.buffersToRegister!;
    this.buffersToRegister = null;
    // At most buffers.length calls: each one either ends the loop or tries one buffer fewer.
    for (let count = buffers.length; ; count--) {
      const rc = this.native.backendRegisterBuffers(this.handle, buffers.slice(0, count));
      if (rc !== -ENOMEM || count <= 1) return;
    }
  }

  allocAligned(sizeBytes: number, alignmentBytes: number): AlignedBuffer {
    const ab = this.native.allocAligned(sizeBytes, alignmentBytes);
    if (typeof ab === 'number') throw new WalIoError(errnoName(ab), 'mmap');
    return { arrayBuffer: ab, bytes: new Uint8Array(ab), words: new Uint32Array(ab), alignmentBytes };
  }

  randomFill(out: Uint8Array): void {
    try {
      randomFillSync(out);
    } catch (err) {
      throw ioErrorFrom(err, 'getrandom');
    }
  }

  crc32cRanges(bytes: Uint8Array, ranges: Uint32Array, count: number, out: Uint32Array): void {
    const rc = this.native.crc32cRanges(bytes, ranges, count, out);
    if (rc < 0) throw new RangeError(`crc32cRanges: ${errnoName(rc)}`);
  }

  /**
   * RWF_DSYNC is trusted only where the file system is known to honour it for asynchronous
   * direct writes: FUSE (and virtiofs, which shares its code) ignores it for an O_DIRECT write
   * that does not extend the file, so nothing would ever be flushed there.
   */
  private async syncMethodFor(path: string): Promise<SyncMethod> {
    if (this.syncMethod !== 'rwf-dsync') return this.syncMethod;
    try {
      const type = (await fs.promises.statfs(path)).type;
      return RWF_DSYNC_FILE_SYSTEMS.has(type) ? 'rwf-dsync' : 'linked-fdatasync';
    } catch {
      return 'linked-fdatasync';
    }
  }

  async openFile(path: string, options: OpenFileOptions): Promise<IoFile> {
    const c = fs.constants;
    const baseFlags = (options.readOnly ? c.O_RDONLY : c.O_RDWR) | (options.create ? c.O_CREAT : 0);
    if (options.direct !== 'off') {
      let fd: number | undefined;
      try {
        fd = await fsOpen(path, baseFlags | c.O_DIRECT, 0o644);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EINVAL') throw ioErrorFrom(err, 'open', path);
        if (options.direct === 'required') throw new WalDirectIoUnsupportedError(path, code, 'open');
      }
      if (fd !== undefined) {
        const inMemory = await isMemoryFileSystem(path);
        const alignmentBytes = inMemory ? 0 : directAlignment(this.native, fd);
        if (alignmentBytes !== 0) return new NativeFile(this, path, fd, true, alignmentBytes, await this.syncMethodFor(path));
        // Open accepted the flag, but statx or the file system type says it is not direct I/O.
        await fsClose(fd);
        if (options.direct === 'required') throw new WalDirectIoUnsupportedError(path, 'EINVAL', inMemory ? 'statfs' : 'statx');
      }
    }
    let fd: number;
    try {
      fd = await fsOpen(path, baseFlags, 0o644);
    } catch (err) {
      throw ioErrorFrom(err, 'open', path);
    }
    return new NativeFile(this, path, fd, false, BLOCK_SIZE_BYTES_DEFAULT, await this.syncMethodFor(path));
  }

  async lock(path: string): Promise<IoLock> {
    let fd: number;
    try {
      fd = await fsOpen(path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
    } catch (err) {
      throw ioErrorFrom(err, 'open', path);
    }
    const rc = this.native.flock(fd, true);
    if (rc < 0) {
      await fsClose(fd);
      const name = errnoName(rc);
      if (name === 'EWOULDBLOCK' || name === 'EAGAIN') throw new WalLockedError(path);
      throw new WalIoError(name, 'flock', path);
    }
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        await fsClose(fd);
      },
    };
  }

  async mkdirp(dir: string): Promise<void> {
    try {
      await fs.promises.mkdir(dir, { recursive: true });
    } catch (err) {
      throw ioErrorFrom(err, 'mkdir', dir);
    }
  }

  async listDir(dir: string): Promise<string[]> {
    try {
      return (await fs.promises.readdir(dir)).sort();
    } catch (err) {
      throw ioErrorFrom(err, 'readdir', dir);
    }
  }

  async rename(fromPath: string, toPath: string): Promise<void> {
    try {
      await fs.promises.rename(fromPath, toPath);
    } catch (err) {
      throw ioErrorFrom(err, 'rename', fromPath);
    }
  }

  async unlink(path: string): Promise<void> {
    try {
      await fs.promises.unlink(path);
    } catch (err) {
      throw ioErrorFrom(err, 'unlink', path);
    }
  }

  async fsyncDir(dir: string): Promise<void> {
    let fd: number;
    try {
      fd = await fsOpen(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    } catch (err) {
      throw ioErrorFrom(err, 'open', dir);
    }
    try {
      await fsFsync(fd);
    } catch (err) {
      throw ioErrorFrom(err, 'fsync', dir);
    } finally {
      await fsClose(fd);
    }
  }

  /** Waits for every request in flight (a reader's read, say), then releases the ring or pool. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.busyCount > 0) await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
    if (this.closed) return;
    this.closed = true;
    const rc = this.native.backendClose(this.handle);
    if (rc < 0) throw new WalIoError(errnoName(rc), 'close');
  }

  /** @internal used by NativeFile */
  submitWrite(
    fd: number,
    path: string,
    buffer: AlignedBuffer,
    bufferOffsetBytes: number,
    lengthBytes: number,
    fileOffsetBytes: number,
    durability: number,
  ): Promise<number> {
    return this.request(
      (r) => this.native.backendWrite(this.handle, r, fd, buffer.arrayBuffer, bufferOffsetBytes, lengthBytes, fileOffsetBytes, durability),
      path,
    );
  }

  /** @internal used by NativeFile */
  submitRead(fd: number, path: string, buffer: AlignedBuffer, bufferOffsetBytes: number, lengthBytes: number, fileOffsetBytes: number): Promise<number> {
    return this.request((r) => this.native.backendRead(this.handle, r, fd, buffer.arrayBuffer, bufferOffsetBytes, lengthBytes, fileOffsetBytes), path);
  }

  /** @internal used by NativeFile */
  submitSync(fd: number, path: string): Promise<number> {
    return this.request((r) => this.native.backendFsync(this.handle, r, fd, true), path);
  }
}

/** Why backendCreate('io_uring') refused: its errno, and for a kernel that lacks operations, which ones. */
function ringUnavailableReason(native: NativeBinding, rc: number): string {
  // ENOTSUP and EOPNOTSUPP are one number on Linux: compare the value, not a name.
  if (-rc !== errnoValue('EOPNOTSUPP')) return `io_uring_setup failed with ${errnoName(rc)}`;
  const probe = native.ringProbe();
  const missing = typeof probe === 'number' ? 'no opcode probe (a kernel before 5.6)' : probe.missing.join(', ');
  return `EOPNOTSUPP: io_uring lacks operations ringwal needs: ${missing}`;
}

/** statfs magic numbers of file systems that live in the page cache (linux/magic.h). */
const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;
/** ext4, XFS and btrfs (linux/magic.h): RWF_DSYNC on an asynchronous O_DIRECT write is honoured there. */
const RWF_DSYNC_FILE_SYSTEMS = new Set([0xef53, 0x58465342, 0x9123683e]);

/**
 * tmpfs accepts O_DIRECT since Linux 6.6, but its data is the page cache itself, so a WAL there
 * is not doing direct I/O whatever the flag says; ringwal reports it as buffered.
 */
export async function isMemoryFileSystem(path: string): Promise<boolean> {
  try {
    const type = (await fs.promises.statfs(path)).type;
    return type === TMPFS_MAGIC || type === RAMFS_MAGIC;
  } catch {
    return false;
  }
}

/**
 * The direct-I/O alignment statx reports for an open file, at least the default block; 0 when
 * the file system says this file cannot do direct I/O.
 */
function directAlignment(native: NativeBinding, fd: number): number {
  const dio = native.dioAlignment(fd);
  if (typeof dio === 'number') return BLOCK_SIZE_BYTES_DEFAULT;
  if (dio.offsetAlignBytes === 0) return 0;
  const alignmentBytes = Math.max(BLOCK_SIZE_BYTES_DEFAULT, dio.offsetAlignBytes, dio.memAlignBytes);
  return alignmentBytes <= BLOCK_SIZE_BYTES_MAX ? alignmentBytes : 0;
}

/** posix_fadvise(POSIX_FADV_DONTNEED): drop the range's clean pages from the page cache. */
const FADV_DONTNEED = 4;

class NativeFile implements IoFile {
  private closing: Promise<void> | null = null;
  /** Requests of this file in flight; close() waits for them before closing the descriptor. */
  private inFlight = 0;
  private idle: Array<() => void> = [];
  private readonly durability: number;

  constructor(
    private readonly io: NativeIo,
    readonly path: string,
    private readonly fd: number,
    readonly direct: boolean,
    readonly alignmentBytes: number,
    readonly syncMethod: SyncMethod,
  ) {
    this.durability = syncMethod === 'rwf-dsync' ? NativeDurability.RWF_DSYNC : NativeDurability.LINKED_FDATASYNC;
  }

  /** Counts `request` as in flight on this file until it settles. */
  private track<T>(request: Promise<T>): Promise<T> {
    this.inFlight += 1;
    const done = (): void => {
      this.inFlight -= 1;
      if (this.inFlight === 0) {
        const waiters = this.idle;
        this.idle = [];
        for (const resolve of waiters) resolve();
      }
    };
    request.then(done, done);
    return request;
  }

  private checkAligned(bufferOffsetBytes: number, lengthBytes: number, fileOffsetBytes: number): void {
    if (this.closing !== null) throw new Error(`${this.path}: I/O on a closed file`);
    if (!this.direct) return;
    const mask = this.alignmentBytes - 1;
    if ((bufferOffsetBytes & mask) !== 0 || (lengthBytes & mask) !== 0 || fileOffsetBytes % this.alignmentBytes !== 0) {
      throw new Error(`${this.path}: unaligned O_DIRECT request (buffer ${bufferOffsetBytes}, length ${lengthBytes}, offset ${fileOffsetBytes})`);
    }
  }

  async write(buffer: AlignedBuffer, bufferOffsetBytes: number, lengthBytes: number, fileOffsetBytes: number, durable: boolean): Promise<void> {
    this.checkAligned(bufferOffsetBytes, lengthBytes, fileOffsetBytes);
    const durability = durable ? this.durability : NativeDurability.NONE;
    const written = await this.track(this.io.submitWrite(this.fd, this.path, buffer, bufferOffsetBytes, lengthBytes, fileOffsetBytes, durability));
    if (written !== lengthBytes) throw new Error(`${this.path}: native write reported ${written} of ${lengthBytes} bytes`);
  }

  read(buffer: AlignedBuffer, bufferOffsetBytes: number, lengthBytes: number, fileOffsetBytes: number): Promise<number> {
    this.checkAligned(bufferOffsetBytes, lengthBytes, fileOffsetBytes);
    return this.track(this.io.submitRead(this.fd, this.path, buffer, bufferOffsetBytes, lengthBytes, fileOffsetBytes));
  }

  async datasync(): Promise<void> {
    if (this.closing !== null) throw new Error(`${this.path}: datasync of a closed file`);
    await this.track(this.io.submitSync(this.fd, this.path));
  }

  async dropCache(): Promise<void> {
    if (this.direct) return;
    const rc = this.io.native.fadvise(this.fd, 0, 0, FADV_DONTNEED);
    if (rc < 0) throw new WalIoError(errnoName(rc), 'posix_fadvise', this.path);
  }

  async sizeBytes(): Promise<number> {
    try {
      return (await fsFstat(this.fd)).size;
    } catch (err) {
      throw ioErrorFrom(err, 'fstat', this.path);
    }
  }

  async truncate(sizeBytes: number): Promise<void> {
    try {
      await fsFtruncate(this.fd, sizeBytes);
    } catch (err) {
      throw ioErrorFrom(err, 'ftruncate', this.path);
    }
  }

  async allocate(offsetBytes: number, lengthBytes: number): Promise<void> {
    const rc = this.io.native.fallocate(this.fd, 0, offsetBytes, lengthBytes);
    if (rc < 0) throw new WalIoError(errnoName(rc), 'fallocate', this.path);
  }

  close(): Promise<void> {
    this.closing ??= this.closeWhenIdle();
    return this.closing;
  }

  private async closeWhenIdle(): Promise<void> {
    if (this.inFlight > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
    try {
      await fsClose(this.fd);
    } catch (err) {
      throw ioErrorFrom(err, 'close', this.path);
    }
  }
}
