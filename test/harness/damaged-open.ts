/**
 * Opens a log planted on a fresh, fault-free SimDisk and reads all of it: the fuzzer's unit of
 * work. Each attempt runs in a few hundred microseconds, so thousands of damaged files can be
 * tried per second, and every allocation ringwal makes is measured against the format's bound.
 */
import { join } from 'node:path';
import { RECORD_PAYLOAD_BYTES_LIMIT } from '../../dist/format/constants.js';
import { SCAN_CHUNK_BYTES } from '../../dist/read/segment-scanner.js';
import type { AlignedBuffer } from '../../dist/io/io.js';
import { Wal } from '../../dist/writer/wal.js';
import { noFaults } from '../../dist/sim/fault-model.js';
import { Prng } from '../../dist/sim/prng.js';
import { SimDisk } from '../../dist/sim/sim-disk.js';
import { SimIo } from '../../dist/sim/sim-io.js';
import { TraceHash } from '../../dist/sim/trace-hash.js';
import type { RecoveredRecord } from './oracle.js';

export const DAMAGED_LOG_DIR = '/fuzz/wal';

/**
 * The largest single allocation a damaged file may cause: one record at the format's payload
 * limit plus the scan chunk it is read into, rounded up by a block on each side.
 */
export const ALLOCATION_BOUND_BYTES = RECORD_PAYLOAD_BYTES_LIMIT + SCAN_CHUNK_BYTES + 2 * 65536;
/** Requests one open and full read may make; far above a clean open of a small log (about 20). */
const COMPLETIONS_MAX = 20_000;

export type DamagedOutcome =
  | { kind: 'records'; records: RecoveredRecord[]; nextLsn: number; largestAllocationBytes: number }
  | { kind: 'error'; error: unknown; largestAllocationBytes: number }
  | { kind: 'hang'; largestAllocationBytes: number }
  | { kind: 'broke-invariant'; message: string; largestAllocationBytes: number };

/** `files` maps names inside the log directory to their bytes. */
export async function openDamaged(files: ReadonlyMap<string, Uint8Array>, alignmentBytes: number): Promise<DamagedOutcome> {
  const disk = new SimDisk(noFaults(alignmentBytes), new Prng(1));
  for (const [name, bytes] of files) disk.putFile(join(DAMAGED_LOG_DIR, name), bytes);
  disk.mkdirp(DAMAGED_LOG_DIR);
  let signal: (kind: 'hang') => void = () => undefined;
  const stuck = new Promise<'hang'>((resolve) => (signal = resolve));
  const io = new SimIo({
    disk,
    rng: new Prng(2),
    trace: new TraceHash(),
    processId: 1,
    idleTurnsMax: 100,
    // Too many requests is a livelock: report it as a hang.
    crashAfterCompletions: COMPLETIONS_MAX,
    onCrash: () => signal('hang'),
    onHang: () => signal('hang'),
  });
  let largestAllocationBytes = 0;
  const alloc = io.allocAligned.bind(io);
  io.allocAligned = (sizeBytes: number, alignment: number): AlignedBuffer => {
    if (sizeBytes > largestAllocationBytes) largestAllocationBytes = sizeBytes;
    return alloc(sizeBytes, alignment);
  };
  const attempt = async (): Promise<DamagedOutcome> => {
    let wal: Wal;
    try {
      wal = await Wal.open(DAMAGED_LOG_DIR, { io, batchBytesMax: 64 * 1024, preallocate: false });
    } catch (error) {
      return { kind: 'error', error, largestAllocationBytes };
    }
    const records: RecoveredRecord[] = [];
    try {
      for await (const r of wal.read()) records.push({ lsn: r.lsn, payload: r.payload, txn: r.txn });
    } catch (error) {
      await wal.close().catch(() => undefined);
      return { kind: 'error', error, largestAllocationBytes };
    }
    await wal.close();
    return { kind: 'records', records, nextLsn: wal.nextLsn, largestAllocationBytes };
  };
  try {
    const outcome = await Promise.race([attempt(), stuck]);
    if (outcome === 'hang') return { kind: 'hang', largestAllocationBytes };
    if (io.assertionFailures.length > 0) return { kind: 'broke-invariant', message: io.assertionFailures[0]!, largestAllocationBytes };
    return outcome;
  } finally {
    io.stop();
  }
}

/** Builds a clean log on a SimDisk: `batches` of payloads, each batch made durable before the next. */
export async function buildLog(batches: readonly (readonly Uint8Array[])[], alignmentBytes: number): Promise<Map<string, Uint8Array>> {
  const disk = new SimDisk(noFaults(alignmentBytes), new Prng(3));
  const io = new SimIo({
    disk,
    rng: new Prng(4),
    trace: new TraceHash(),
    processId: 1,
    idleTurnsMax: 100,
    crashAfterCompletions: null,
    onCrash: () => undefined,
    onHang: () => undefined,
  });
  const wal = await Wal.open(DAMAGED_LOG_DIR, { io, batchBytesMax: 64 * 1024, preallocate: false });
  for (const batch of batches) await Promise.all(batch.map((p) => wal.append(p)));
  await wal.close();
  io.stop();
  const files = new Map<string, Uint8Array>();
  for (const [path, inode] of disk.files()) {
    if (!path.startsWith(`${DAMAGED_LOG_DIR}/`)) continue;
    files.set(path.slice(DAMAGED_LOG_DIR.length + 1), inode.durable.bytes.slice(0, inode.durable.sizeBytes));
  }
  return files;
}
