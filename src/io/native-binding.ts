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
import { WalBackendUnavailableError } from '../errors.js';

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

export interface NativeBinding {
  allocAligned(sizeBytes: number, alignmentBytes: number): ArrayBuffer | number;
  addressOf(buffer: ArrayBuffer): number;
  crc32c(view: Uint8Array, seed?: number): number;
  crc32cPortable(view: Uint8Array, seed?: number): number;
  crc32cRanges(view: Uint8Array, ranges: Uint32Array, count: number, out: Uint32Array): number;
  crc32cImpl(): string;
  flock(fd: number, exclusive: boolean): number;
  fallocate(fd: number, mode: number, offsetBytes: number, lengthBytes: number): number;
  dioAlignment(fd: number): DioAlignment | number;
  fadvise(fd: number, offsetBytes: number, lengthBytes: number, advice: number): number;
  ringCreate(entries: number, completions: Int32Array, onCompletions: CompletionCallback): NativeHandle | number;
  ringWrite(h: NativeHandle, reqId: number, fd: number, buffer: ArrayBuffer, bufferOffsetBytes: number, lengthBytes: number, fileOffsetBytes: number, durability: number): number;
  ringRead(h: NativeHandle, reqId: number, fd: number, buffer: ArrayBuffer, bufferOffsetBytes: number, lengthBytes: number, fileOffsetBytes: number): number;
  ringFsync(h: NativeHandle, reqId: number, fd: number, datasync: boolean): number;
  ringRegisterBuffers(h: NativeHandle, buffers: ArrayBuffer[]): number;
  ringInjectFault(h: NativeHandle, syscall: number, countdown: number, errno: number): number;
  ringInjectEnterFault(h: NativeHandle, failures: number, errno: number): number;
  ringInjectPartialSubmit(h: NativeHandle, sqesMax: number): number;
  ringInfo(h: NativeHandle): Record<string, number>;
  ringClose(h: NativeHandle): number;
  ringSimulateMissingOps(opcodes: number[]): number;
  ringProbe(): RingProbe | number;
  poolCreate(slots: number, completions: Int32Array, onCompletions: CompletionCallback): NativeHandle | number;
  poolWrite(h: NativeHandle, reqId: number, fd: number, buffer: ArrayBuffer, bufferOffsetBytes: number, lengthBytes: number, fileOffsetBytes: number, durability: number): number;
  poolRead(h: NativeHandle, reqId: number, fd: number, buffer: ArrayBuffer, bufferOffsetBytes: number, lengthBytes: number, fileOffsetBytes: number): number;
  poolFsync(h: NativeHandle, reqId: number, fd: number, datasync: boolean): number;
  poolInjectFault(h: NativeHandle, syscall: number, countdown: number, errno: number): number;
  poolInfo(h: NativeHandle): Record<string, number>;
  poolClose(h: NativeHandle): number;
}

/** Syscall codes in completion triples (docs/native-api.md). */
export const NativeSyscall = { WRITE: 1, FDATASYNC: 2, READ: 3, FSYNC: 4 } as const;
/** Durability codes for ringWrite/poolWrite. */
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
 * (default: the one `npm install` built), loaded on first use and kept. A file that cannot be
 * loaded is WalBackendUnavailableError('native'), its cause the loader's error.
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
