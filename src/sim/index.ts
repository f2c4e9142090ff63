/**
 * ringwal/sim: the simulated disk, for running a database's own code on a seeded, crashable disk.
 *
 *   import { Wal } from 'ringwal';
 *   import { Prng, SimDisk, SimIo, drawFaultRates } from 'ringwal/sim';
 *
 *   const rng = new Prng(42);
 *   const disk = new SimDisk(drawFaultRates(rng, 1), rng.fork());
 *   const io = new SimIo({ disk, rng: rng.fork() });
 *   const wal = await Wal.open('/db/wal', { io });
 *   ...                     // appends; then power loss, decided by the seed:
 *   io.crash();             // unsynced writes lost, kept or torn; its promises never settle
 *   const after = await Wal.open('/db/wal', { io: new SimIo({ disk, rng: rng.fork(), processId: 2 }) });
 *
 * One seed replays the same run. The fault model is in docs/testing.md.
 */
export { SimDisk, SimInode, FileImage } from './sim-disk.js';
export type { DiskStats, PendingChange } from './sim-disk.js';
export { SimIo, SimFile, INJECTED_ERRNOS } from './sim-io.js';
export type { SimIoOptions, SimIoStats } from './sim-io.js';
export { Prng, SEED_MAX } from './prng.js';
export { TraceHash } from './trace-hash.js';
export { drawFaultRates, noFaults } from './fault-model.js';
export type { FaultRates, FaultTier } from './fault-model.js';
