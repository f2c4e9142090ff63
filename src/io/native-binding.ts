/**
 * Loads the C addon once. The binding is the only place that knows the addon's file name; every
 * other module imports the typed surface from here (the surface is documented in docs/native-api.md).
 */
import { createRequire } from 'node:module';
import { constants as osConstants, endianness } from 'node:os';

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

// The record encoder writes header words through a Uint32Array, which is little-endian only on a
// little-endian host; ringwal targets x86-64 and arm64 Linux, both little-endian.
if (endianness() !== 'LE') throw new Error('ringwal requires a little-endian host');

const require = createRequire(import.meta.url);
export const native: NativeBinding = require('../../build/Release/ringwal.node') as NativeBinding;

const errnoNames = new Map<number, string>();
for (const [name, value] of Object.entries(osConstants.errno)) {
  if (!errnoNames.has(value)) errnoNames.set(value, name);
}

/** `-5` → `EIO`. */
export function errnoName(negativeErrno: number): string {
  return errnoNames.get(-negativeErrno) ?? `ERRNO_${-negativeErrno}`;
}

export function errnoValue(name: string): number {
  const value = (osConstants.errno as Record<string, number>)[name];
  if (value === undefined) throw new RangeError(`unknown errno name ${name}`);
  return value;
}

export function crc32c(view: Uint8Array, seed = 0): number {
  return native.crc32c(view, seed);
}
