/**
 * The one I/O interface of ringwal. Nothing else in ringwal touches a file: the writer, recovery
 * and the readers only call these methods, so a simulated disk (deterministic, with injected
 * faults) can stand in for the real one. Two real implementations exist: io_uring and the
 * libuv thread pool, both in native-io.ts over the C addon.
 *
 * Every method reports failure by rejecting with a WalError (WalIoError for an errno).
 */

export type BackendKind = 'io_uring' | 'threadpool' | 'sim';

/**
 * Requests in flight at once per queue. The writer keeps a few writes in flight and readers a few
 * reads each; 256 leaves room for many readers while keeping the ring's memory small.
 */
export const QUEUE_DEPTH_DEFAULT = 256;
/** The ring's table and SQ are allocated at open: 4096 entries bound their memory. */
export const QUEUE_DEPTH_MAX = 4096;
/**
 * The thread pool preallocates a work item per slot, and libuv runs 4 worker threads by default:
 * more queued requests than this only add latency. Requests beyond the slots wait in TypeScript.
 */
export const POOL_QUEUE_DEPTH_MAX = 1024;

/** How a durable write reaches stable storage (see docs/design.md, "Choosing the sync method"). */
export type SyncMethod = 'linked-fdatasync' | 'rwf-dsync';

/** `required` fails when the file system refuses O_DIRECT; `auto` falls back to buffered I/O. */
export type DirectIoMode = 'auto' | 'required' | 'off';

/** Memory that O_DIRECT may write from: its address is a multiple of `alignmentBytes`. */
export interface AlignedBuffer {
  readonly arrayBuffer: ArrayBuffer;
  readonly bytes: Uint8Array;
  /** The same memory as 32-bit words, for fast little-endian header encoding. */
  readonly words: Uint32Array;
  readonly alignmentBytes: number;
}

export interface OpenFileOptions {
  create: boolean;
  direct: DirectIoMode;
  readOnly: boolean;
}

export interface IoFile {
  readonly path: string;
  /** Whether this file was opened with O_DIRECT. */
  readonly direct: boolean;
  /** Every offset, length and buffer address used with this file is a multiple of this. */
  readonly alignmentBytes: number;
  /**
   * How a durable write to this file reaches stable storage. `rwf-dsync` is asked for per Io but
   * used only on file systems known to honour RWF_DSYNC for asynchronous direct writes; elsewhere
   * the file falls back to `linked-fdatasync` (docs/design.md, "Choosing the sync method").
   */
  readonly syncMethod: SyncMethod;
  /**
   * Writes `lengthBytes` from `buffer` at `fileOffsetBytes`. With `durable`, the promise resolves
   * only once the bytes are on stable storage (write and sync are submitted together).
   */
  write(buffer: AlignedBuffer, bufferOffsetBytes: number, lengthBytes: number, fileOffsetBytes: number, durable: boolean): Promise<void>;
  /**
   * Reads up to `lengthBytes`; resolves to the bytes read. A read may return fewer bytes than
   * asked before the end of the file (POSIX allows it): callers use readFull, which reads on.
   */
  read(buffer: AlignedBuffer, bufferOffsetBytes: number, lengthBytes: number, fileOffsetBytes: number): Promise<number>;
  datasync(): Promise<void>;
  /**
   * Drops the file's clean pages from the page cache (no-op with O_DIRECT). After a failed fsync
   * Linux keeps the failed pages cached and marked clean, so a buffered read in the same boot
   * could return data that is not on disk; recovery drops them, after a datasync, before it
   * trusts what it reads.
   */
  dropCache(): Promise<void>;
  sizeBytes(): Promise<number>;
  /** Sets the file size; durable only after a following datasync. */
  truncate(sizeBytes: number): Promise<void>;
  /** Reserves blocks (fallocate mode 0, which also extends the size); durable after a datasync. */
  allocate(offsetBytes: number, lengthBytes: number): Promise<void>;
  /**
   * Waits for this file's requests in flight, then closes the descriptor, so a descriptor number
   * is never closed (and reused) under a pending request. Idempotent.
   */
  close(): Promise<void>;
}

export interface IoLock {
  release(): Promise<void>;
}

export interface Io {
  readonly backend: BackendKind;
  /** Why `backend: 'auto'` fell back to the thread pool (io_uring unavailable or incomplete), or null. */
  readonly fallbackReason: string | null;
  /** The sync method this I/O uses for durable writes. */
  readonly syncMethod: SyncMethod;
  allocAligned(sizeBytes: number, alignmentBytes: number): AlignedBuffer;
  /**
   * Fills `out` with random bytes for a segment's salt (they need not be secret, only never
   * repeat): the OS's generator for the real I/O, the seed's for the simulator. A failure is a
   * WalIoError, never a crash.
   */
  randomFill(out: Uint8Array): void;
  /** CRC32C of each range `[ranges[2i], ranges[2i] + ranges[2i+1])` of `bytes` into `out[i]`: one call per batch. */
  crc32cRanges(bytes: Uint8Array, ranges: Uint32Array, count: number, out: Uint32Array): void;
  /**
   * Offers buffers that are written from again and again (the writer's two batch buffers) to be
   * registered with the queue, which the io_uring ring pins once so that a write from them does
   * not pin its pages each time. A hint that replaces the previous set: every write behaves the
   * same whether it took or not, only faster from a registered buffer.
   */
  registerBuffers(buffers: readonly AlignedBuffer[]): void;
  openFile(path: string, options: OpenFileOptions): Promise<IoFile>;
  /** Takes an exclusive, non-blocking lock; rejects with WalLockedError when it is held. */
  lock(path: string): Promise<IoLock>;
  /** Creates `dir` and any missing parent; none of it is durable until each parent is fsynced. */
  mkdirp(dir: string): Promise<void>;
  listDir(dir: string): Promise<string[]>;
  rename(fromPath: string, toPath: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Makes creations, renames and removals in `dir` durable. */
  fsyncDir(dir: string): Promise<void>;
  /** Releases the ring or pool once its requests in flight are done; files must be closed first. */
  close(): Promise<void>;
}

/**
 * Reads `lengthBytes` at `fileOffsetBytes`, reading on after a short read, and resolves to the
 * bytes read: fewer than asked only when a read returned 0 bytes, which for a regular file means
 * the end of the file. A short read is therefore never taken for the end. On an O_DIRECT file a
 * read that stops off the block grid can only have stopped at the end of the file.
 */
export async function readFull(file: IoFile, buffer: AlignedBuffer, bufferOffsetBytes: number, lengthBytes: number, fileOffsetBytes: number): Promise<number> {
  let doneBytes = 0;
  // Each pass reads at least one byte or stops, so this ends within lengthBytes passes.
  while (doneBytes < lengthBytes) {
    const gotBytes = await file.read(buffer, bufferOffsetBytes + doneBytes, lengthBytes - doneBytes, fileOffsetBytes + doneBytes);
    if (gotBytes <= 0) break;
    doneBytes += gotBytes;
    if (file.direct && doneBytes % file.alignmentBytes !== 0) break;
  }
  return doneBytes;
}
