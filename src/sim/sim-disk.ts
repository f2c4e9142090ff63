/**
 * The simulated disk: what survives a simulated "process" (a SimIo and the Wal over it) and is
 * damaged by a simulated crash. It is the model of a Linux file system over a device with a
 * volatile cache:
 *
 *   - a file has a durable image and, in order, the writes and size changes made since its last
 *     sync ("pending"); reads see the current image, which is the durable one plus the pending;
 *   - datasync makes the pending changes durable, in order;
 *   - a durable write may instead stay *in flight* until it completes (the device has not taken
 *     it yet): reads see it, but no sync covers it, so the sync of a later write can complete
 *     while an earlier write is still outside the cache, and a crash may keep the later one and
 *     lose or tear the earlier (several batches in flight, completing in any order);
 *   - a directory entry (create, rename, unlink) is durable only once the directory is fsynced;
 *   - a crash keeps the durable state and decides, per pending write and by the seeded PRNG,
 *     whether it is lost, applied, or torn at sector granularity (each sector old or new, or in
 *     tier 2 random bytes); writes between two size changes land in a random order.
 *
 * A directory made by mkdirp is itself an entry of its parent: it survives a crash only once the
 * parent was fsynced after it was made. A failed sync of a buffered file may leave the failed
 * pages in the page cache marked clean (what Linux does): reads still see them, no later sync
 * writes them, until the cache is dropped. In tier 2 a torn sector may read back as an error
 * until it is written again.
 */
import { dirname, basename } from 'node:path';
import type { FaultRates } from './fault-model.js';
import type { Prng } from './prng.js';

/** Bytes and size of one version of a file. Bytes past `sizeBytes` are always zero. */
export class FileImage {
  bytes: Uint8Array;
  sizeBytes: number;

  constructor(capacityBytes = 0) {
    this.bytes = new Uint8Array(capacityBytes);
    this.sizeBytes = 0;
  }

  clone(): FileImage {
    const copy = new FileImage(this.bytes.byteLength);
    copy.bytes.set(this.bytes.subarray(0, this.sizeBytes));
    copy.sizeBytes = this.sizeBytes;
    return copy;
  }

  private reserve(endBytes: number): void {
    if (endBytes <= this.bytes.byteLength) return;
    let capacityBytes = Math.max(4096, this.bytes.byteLength);
    while (capacityBytes < endBytes) capacityBytes *= 2;
    const bigger = new Uint8Array(capacityBytes);
    bigger.set(this.bytes.subarray(0, this.sizeBytes));
    this.bytes = bigger;
  }

  write(offsetBytes: number, data: Uint8Array): void {
    const endBytes = offsetBytes + data.byteLength;
    this.reserve(endBytes);
    this.bytes.set(data, offsetBytes);
    if (endBytes > this.sizeBytes) this.sizeBytes = endBytes;
  }

  /** Truncate (`shrink`) sets the size exactly; allocate only ever grows it. */
  resize(sizeBytes: number, shrink: boolean): void {
    if (sizeBytes < this.sizeBytes) {
      if (!shrink) return;
      this.bytes.fill(0, sizeBytes, this.sizeBytes);
    } else {
      this.reserve(sizeBytes);
    }
    this.sizeBytes = sizeBytes;
  }
}

export type PendingChange = { kind: 'write'; offsetBytes: number; data: Uint8Array } | { kind: 'resize'; sizeBytes: number; shrink: boolean };

export class SimInode {
  current = new FileImage();
  durable = new FileImage();
  pending: PendingChange[] = [];
  /** Writes submitted but not yet taken by the device: no sync covers them until they land. */
  inFlight: Array<PendingChange & { kind: 'write' }> = [];
  /** Tier 2: offsets of sectors of the medium that read back as errors until written again. */
  readonly unreadableSectors = new Set<number>();

  constructor(readonly id: number) {}

  write(offsetBytes: number, data: Uint8Array, sectorBytes: number): void {
    this.current.write(offsetBytes, data);
    this.pending.push({ kind: 'write', offsetBytes, data });
    this.markWritten(offsetBytes, data, sectorBytes);
  }

  /** A write that stays in flight until `land` is called with what this returns. */
  writeInFlight(offsetBytes: number, data: Uint8Array, sectorBytes: number): PendingChange & { kind: 'write' } {
    const change = { kind: 'write' as const, offsetBytes, data };
    this.current.write(offsetBytes, data);
    this.inFlight.push(change);
    this.markWritten(offsetBytes, data, sectorBytes);
    return change;
  }

  /** The device took an in-flight write: from now on it is an unsynced change like any other. */
  land(change: PendingChange & { kind: 'write' }): void {
    const i = this.inFlight.indexOf(change);
    if (i < 0) return;
    this.inFlight.splice(i, 1);
    this.pending.push(change);
  }

  private markWritten(offsetBytes: number, data: Uint8Array, sectorBytes: number): void {
    if (this.unreadableSectors.size === 0) return;
    // A sector written whole is readable again.
    const endBytes = offsetBytes + data.byteLength;
    for (let sector = Math.ceil(offsetBytes / sectorBytes) * sectorBytes; sector + sectorBytes <= endBytes; sector += sectorBytes)
      this.unreadableSectors.delete(sector);
  }

  /** Whether a read of [offsetBytes, offsetBytes + lengthBytes) touches an unreadable sector. */
  unreadable(offsetBytes: number, lengthBytes: number, sectorBytes: number): boolean {
    if (this.unreadableSectors.size === 0) return false;
    for (let sector = Math.floor(offsetBytes / sectorBytes) * sectorBytes; sector < offsetBytes + lengthBytes; sector += sectorBytes) {
      if (this.unreadableSectors.has(sector)) return true;
    }
    return false;
  }

  resize(sizeBytes: number, shrink: boolean): void {
    this.current.resize(sizeBytes, shrink);
    this.pending.push({ kind: 'resize', sizeBytes, shrink });
  }

  sync(): void {
    for (const change of this.pending) {
      if (change.kind === 'write') this.durable.write(change.offsetBytes, change.data);
      else this.durable.resize(change.sizeBytes, change.shrink);
    }
    this.pending = [];
  }

  /** A failed sync after which the kernel dropped the dirty data: reads see the medium again (and what is still in flight). */
  dropPending(): void {
    this.current = this.durable.clone();
    for (const change of this.inFlight) this.current.write(change.offsetBytes, change.data);
    this.pending = [];
  }

  /**
   * A failed sync after which the kernel kept the failed pages cached and marked them clean:
   * reads still return them, but no later sync will ever write them.
   */
  markPendingClean(): void {
    this.pending = [];
  }

  /** posix_fadvise(DONTNEED): clean cached pages go; reads see the medium plus what is still dirty. */
  dropCleanPages(): void {
    const image = this.durable.clone();
    for (const change of this.pending) {
      if (change.kind === 'write') image.write(change.offsetBytes, change.data);
      else image.resize(change.sizeBytes, change.shrink);
    }
    for (const change of this.inFlight) image.write(change.offsetBytes, change.data);
    this.current = image;
  }
}

interface SimDirectory {
  current: Map<string, SimInode>;
  durable: Map<string, SimInode>;
  /** The directory's own entry in its parent is durable (the parent was fsynced after mkdir). */
  durableInParent: boolean;
}

/** Counts of what the disk did, for reports and for the tier-2 information line. */
export interface DiskStats {
  crashes: number;
  pendingAtCrash: number;
  lostWrites: number;
  appliedWrites: number;
  tornWrites: number;
  garbageSectors: number;
  revertedDirEntries: number;
}

export class SimDisk {
  readonly rates: FaultRates;
  readonly stats: DiskStats = { crashes: 0, pendingAtCrash: 0, lostWrites: 0, appliedWrites: 0, tornWrites: 0, garbageSectors: 0, revertedDirEntries: 0 };
  private readonly rng: Prng;
  private readonly dirs = new Map<string, SimDirectory>();
  private readonly locks = new Map<string, number>();
  private nextInodeId = 1;

  constructor(rates: FaultRates, rng: Prng) {
    this.rates = rates;
    this.rng = rng;
  }

  /** Creates `dir` and its missing parents; returns the directories created, outermost first. */
  mkdirp(dir: string): string[] {
    const created: string[] = [];
    for (let d = dir; !this.dirs.has(d); d = dirname(d)) {
      // The root has no parent to fsync: it is always there.
      this.dirs.set(d, { current: new Map(), durable: new Map(), durableInParent: dirname(d) === d });
      created.unshift(d);
      if (dirname(d) === d) break;
    }
    return created;
  }

  hasDir(dir: string): boolean {
    return this.dirs.has(dir);
  }

  lookup(path: string): SimInode | undefined {
    return this.dirs.get(dirname(path))?.current.get(basename(path));
  }

  /** Creates an empty file; undefined when its directory does not exist. Durable after fsyncDir. */
  create(path: string): SimInode | undefined {
    const dir = this.dirs.get(dirname(path));
    if (dir === undefined) return undefined;
    const inode = new SimInode(this.nextInodeId++);
    dir.current.set(basename(path), inode);
    return inode;
  }

  list(dir: string): string[] | undefined {
    const d = this.dirs.get(dir);
    return d === undefined ? undefined : [...d.current.keys()].sort();
  }

  rename(fromPath: string, toPath: string): boolean {
    const from = this.dirs.get(dirname(fromPath));
    const to = this.dirs.get(dirname(toPath));
    const inode = from?.current.get(basename(fromPath));
    if (from === undefined || to === undefined || inode === undefined) return false;
    from.current.delete(basename(fromPath));
    to.current.set(basename(toPath), inode);
    return true;
  }

  unlink(path: string): boolean {
    return this.dirs.get(dirname(path))?.current.delete(basename(path)) ?? false;
  }

  fsyncDir(dir: string): boolean {
    const d = this.dirs.get(dir);
    if (d === undefined) return false;
    d.durable = new Map(d.current);
    for (const [path, child] of this.dirs) if (path !== dir && dirname(path) === dir) child.durableInParent = true;
    return true;
  }

  /** Takes `path`'s lock for `owner`; false when another owner holds it. */
  tryLock(path: string, owner: number): boolean {
    const holder = this.locks.get(path);
    if (holder !== undefined && holder !== owner) return false;
    this.locks.set(path, owner);
    return true;
  }

  unlock(path: string, owner: number): void {
    if (this.locks.get(path) === owner) this.locks.delete(path);
  }

  lockCount(): number {
    return this.locks.size;
  }

  /** Places a file with exactly these bytes, durable and linked: how the fuzzer plants damage. */
  putFile(path: string, bytes: Uint8Array): void {
    for (const d of this.mkdirp(dirname(path))) this.dirs.get(d)!.durableInParent = true;
    const inode = this.create(path)!;
    inode.durable.write(0, bytes);
    inode.current = inode.durable.clone();
    this.fsyncDir(dirname(path));
  }

  /** Whether any reachable file has unsynced changes: then a crash has something to decide. */
  hasPending(): boolean {
    for (const d of this.dirs.values()) for (const inode of d.current.values()) if (inode.pending.length > 0 || inode.inFlight.length > 0) return true;
    return false;
  }

  /** Every file reachable now (current directory entries), for the fuzzer and for reports. */
  files(): Map<string, SimInode> {
    const out = new Map<string, SimInode>();
    for (const [dir, d] of this.dirs) for (const [name, inode] of d.current) out.set(`${dir}/${name}`, inode);
    return out;
  }

  /**
   * Power loss: every process dies (locks released), directory entries revert to their last
   * fsync, and each file's unsynced changes are decided by the PRNG.
   */
  crash(): void {
    this.stats.crashes += 1;
    this.locks.clear();
    // A directory whose entry never reached its parent is gone, with everything below it.
    for (const [path, d] of [...this.dirs]) {
      if (d.durableInParent || !this.dirs.has(path)) continue;
      for (const other of [...this.dirs.keys()]) if (other === path || other.startsWith(`${path}/`)) this.dirs.delete(other);
      this.stats.revertedDirEntries += 1;
    }
    const survivors = new Set<SimInode>();
    for (const d of this.dirs.values()) {
      for (const [name, inode] of d.current) if (d.durable.get(name) !== inode) this.stats.revertedDirEntries += 1;
      d.current = new Map(d.durable);
      for (const inode of d.durable.values()) survivors.add(inode);
    }
    // Files no durable entry reaches are gone; their pending changes do not matter.
    for (const inode of survivors) this.crashFile(inode);
  }

  private crashFile(inode: SimInode): void {
    const image = inode.durable.clone();
    // Writes still in flight come last, as one more run that lands in any order.
    const changes: PendingChange[] = [...inode.pending, ...inode.inFlight];
    this.stats.pendingAtCrash += changes.length;
    let i = 0;
    while (i < changes.length) {
      // Writes between two size changes may reach the medium in any order.
      let runEnd = i;
      while (runEnd < changes.length && changes[runEnd]!.kind === 'write') runEnd += 1;
      const run = changes.slice(i, runEnd);
      for (let k = run.length - 1; k > 0; k--) {
        const j = this.rng.below(k + 1);
        const t = run[k]!;
        run[k] = run[j]!;
        run[j] = t;
      }
      for (const w of run) if (w.kind === 'write') this.crashWrite(image, w.offsetBytes, w.data, inode.unreadableSectors);
      if (runEnd < changes.length) {
        const resize = changes[runEnd]!;
        // A size change is metadata of its own: it may or may not have been committed.
        if (resize.kind === 'resize' && this.rng.chance(0.5)) image.resize(resize.sizeBytes, resize.shrink);
        runEnd += 1;
      }
      i = runEnd;
    }
    inode.durable = image;
    inode.current = image.clone();
    inode.pending = [];
    inode.inFlight = [];
  }

  private crashWrite(image: FileImage, offsetBytes: number, data: Uint8Array, unreadable: Set<number>): void {
    const r = this.rates;
    const endBytes = offsetBytes + data.byteLength;
    const draw = this.rng.u32() / 0x1_0000_0000;
    if (draw < r.crashLostP) {
      this.stats.lostWrites += 1;
      // The size update may have been committed without the data: the new range reads as zeros.
      if (this.rng.chance(0.5)) image.resize(endBytes, false);
      return;
    }
    if (draw < r.crashLostP + r.crashAppliedP) {
      this.stats.appliedWrites += 1;
      image.write(offsetBytes, data);
      return;
    }
    this.stats.tornWrites += 1;
    const sector = r.sectorBytes;
    for (let s = Math.floor(offsetBytes / sector) * sector; s < endBytes; s += sector) {
      const from = Math.max(s, offsetBytes);
      const to = Math.min(s + sector, endBytes);
      const choice = this.rng.below(2);
      if (r.garbageSectorP > 0 && this.rng.chance(r.garbageSectorP)) {
        this.stats.garbageSectors += 1;
        const garbage = new Uint8Array(to - from);
        this.rng.fill(garbage);
        image.write(from, garbage);
        // Many drives report an interrupted sector write as a medium error when it is read.
        if (this.rng.chance(r.unreadableSectorP)) unreadable.add(s);
      } else if (choice === 1) {
        image.write(from, data.subarray(from - offsetBytes, to - offsetBytes));
      }
    }
    if (this.rng.chance(0.5)) image.resize(endBytes, false);
  }
}
