/**
 * The one loader of the C addon, and its typed surface (documented in docs/native-api.md).
 * Nothing loads the addon at import time: the format, the simulated disk and the fuzzer run on a
 * machine where it was never built. The native Io loads it on first use, from the built
 * `build/Release/ringwal.node`, from another `.node` file (a debug build, say), or takes a binding
 * object handed in (as better-sqlite3's `nativeBinding` option does).
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { constants as osConstants } from 'node:os';
import { getSystemErrorName } from 'node:util';
import { WalAddonMissingError, WalBackendUnavailableError } from '../errors.js';

export interface DioAlignment {
  memAlignBytes: number;
  offsetAlignBytes: number;
}

/** The opcodes the ring driver needs, by IORING_OP_ name, split by whether this kernel has them. */
export interface RingProbe {
  supported: string[];
  missing: string[];
}

export type NativeHandle = object;
export type CompletionCallback = (count: number) => void;
/** The two queues a backend can be: ringwal's own io_uring ring, or libuv's thread pool. */
export type NativeBackendKind = 'io_uring' | 'threadpool';

/** `testing.info` of a ring (docs/native-api.md). */
export interface NativeRingInfo {
  entries: number;
  inFlight: number;
  fixedBuffers: number;
  features: number;
  sqEntries: number;
  cqEntries: number;
  pending: number;
  unsubmitted: number;
}

/** `testing.info` of a thread pool. */
export interface NativePoolInfo {
  slots: number;
  inFlight: number;
}

/** Test hooks and diagnostics: nothing in src/ but the test hooks of NativeIo calls these. */
export interface NativeTesting {
  info(h: NativeHandle): NativeRingInfo | NativePoolInfo | number;
  injectFault(h: NativeHandle, syscall: number, countdown: number, errno: number): number;
  injectEnterFault(ring: NativeHandle, failures: number, errno: number): number;
  injectPartialSubmit(ring: NativeHandle, sqesMax: number): number;
  simulateMissingOps(opcodes: number[]): number;
  crc32c(view: Uint8Array, seed?: number): number;
  crc32cPortable(view: Uint8Array, seed?: number): number;
  crc32cImpl(): string;
  addressOf(buffer: ArrayBuffer): number;
}

export interface NativeBinding {
  allocAligned(sizeBytes: number, alignmentBytes: number): ArrayBuffer | number;
  crc32cRanges(view: Uint8Array, ranges: Uint32Array, count: number, out: Uint32Array): number;
  /** AES-256-GCM (docs/native-api.md "AES-256-GCM"): a key handle, or -errno. */
  aeadKey(key: Uint8Array): NativeHandle | number;
  aeadKeyDestroy(key: NativeHandle): number;
  aeadSealBatch(key: NativeHandle, view: Uint8Array, ranges: Uint32Array, nonces: Uint8Array, count: number): number;
  aeadOpenBatch(key: NativeHandle, view: Uint8Array, ranges: Uint32Array, nonces: Uint8Array, count: number, results: Int32Array): number;
  /** Opens in the thread pool: how many records' tags hold before the first that fails, or a negative errno. */
  aeadOpenBatchAsync(key: NativeHandle, view: Uint8Array, ranges: Uint32Array, nonces: Uint8Array, count: number): Promise<number>;
  /** Seals in the thread pool: 0, or a negative errno. */
  aeadSealBatchAsync(key: NativeHandle, view: Uint8Array, ranges: Uint32Array, nonces: Uint8Array, count: number): Promise<number>;
  /** A 32-byte master key in native memory: a master key handle (not an AES-GCM key), or -errno. */
  aeadMasterKey(key: Uint8Array): NativeHandle | number;
  aeadMasterKeyDestroy(master: NativeHandle): number;
  /** HKDF-SHA256(master, salt (16), info (1..256)) as an AES-GCM key handle; its key check (16) written to keyCheck. */
  aeadDeriveKey(master: NativeHandle, salt: Uint8Array, info: Uint8Array, keyCheck: Uint8Array): NativeHandle | number;
  flock(fd: number, exclusive: boolean): number;
  fallocate(fd: number, mode: number, offsetBytes: number, lengthBytes: number): number;
  dioAlignment(fd: number): DioAlignment | number;
  fadvise(fd: number, offsetBytes: number, lengthBytes: number, advice: number): number;
  backendCreate(kind: NativeBackendKind, depth: number, completions: Int32Array, onCompletions: CompletionCallback): NativeHandle | number;
  backendWrite(
    h: NativeHandle,
    reqId: number,
    fd: number,
    buffer: ArrayBuffer,
    bufferOffsetBytes: number,
    lengthBytes: number,
    fileOffsetBytes: number,
    durability: number,
  ): number;
  backendRead(h: NativeHandle, reqId: number, fd: number, buffer: ArrayBuffer, bufferOffsetBytes: number, lengthBytes: number, fileOffsetBytes: number): number;
  backendFsync(h: NativeHandle, reqId: number, fd: number, datasync: boolean): number;
  backendRegisterBuffers(h: NativeHandle, buffers: ArrayBuffer[]): number;
  backendClose(h: NativeHandle): number;
  ringProbe(): RingProbe | number;
  testing: NativeTesting;
}

/** Syscall codes in completion triples (docs/native-api.md). */
export const NativeSyscall = { WRITE: 1, FDATASYNC: 2, READ: 3, FSYNC: 4 } as const;
/** Durability codes for backendWrite. */
export const NativeDurability = { NONE: 0, LINKED_FDATASYNC: 1, RWF_DSYNC: 2 } as const;

/** Where the addon is built, relative to this module (dist/io/). */
const ADDON_URL = new URL('../../build/Release/ringwal.node', import.meta.url);
const require = createRequire(import.meta.url);
/** Bindings loaded so far, by file: a `.node` file is loaded once per process. */
const loaded = new Map<string, NativeBinding>();

/** A binding object, or the path of a `.node` file to load it from. */
export type NativeBindingOption = NativeBinding | string;

/**
 * The addon's binding: `option` itself when it is an object, else the `.node` file at `option`
 * (default: the one `npm install` built), loaded on first use and kept. No file there is
 * WalAddonMissingError; a file that cannot be loaded is WalBackendUnavailableError('native'),
 * its cause the loader's error.
 */
export function loadNativeBinding(option?: NativeBindingOption): NativeBinding {
  if (typeof option === 'object' && option !== null) return option;
  // RINGWAL_NATIVE_BINDING names another build for a whole process (the sanitizer build of
  // `npm run test:sanitize`); an explicit option still wins.
  const path = option ?? process.env.RINGWAL_NATIVE_BINDING ?? ADDON_URL.pathname;
  let binding = loaded.get(path);
  if (binding === undefined) {
    try {
      binding = require(path) as NativeBinding;
    } catch (err) {
      // No file at all is a build that never ran, which the caller fixes by building it; a file
      // that does not load (another Node's ABI, a missing library) says why in its cause.
      if ((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') throw new WalAddonMissingError(path, { cause: err });
      throw new WalBackendUnavailableError('native', `the addon ${path} cannot be loaded: ${(err as Error).message}`, { cause: err });
    }
    loaded.set(path, binding);
  }
  return binding;
}

/** `-5` → `EIO` (Node's own table; a number it does not know keeps its value). */
export function errnoName(negativeErrno: number): string {
  const name = getSystemErrorName(negativeErrno);
  return name.startsWith('Unknown') ? `ERRNO_${-negativeErrno}` : name;
}

export function errnoValue(name: string): number {
  const value = (osConstants.errno as Record<string, number>)[name];
  assert(value !== undefined, `unknown errno name ${name}`);
  return value;
}
