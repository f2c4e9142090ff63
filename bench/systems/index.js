// Every system of the comparison by name. Each module is imported only when its trial runs, so a
// peer that fails to load turns into an error row for that peer alone.
import { measure } from './disk.js';

const lazy = (load, options) => ({ open: async (dir) => (await load()).open(dir, options) });
/**
 * ringwal's rows also take Wal.open options from the trial (`--wal-options`), to run as variants,
 * and the build to load (`--dist`), to compare builds.
 */
const lazyRingwal = (options) => ({
  acceptsWalOptions: true,
  open: async (dir, walOptions, dist) => (await import('./ringwal.js')).open(dir, options, walOptions, dist),
});

export const systems = {
  ringwal: lazyRingwal({ backend: 'io_uring' }),
  'ringwal-threadpool': lazyRingwal({ backend: 'threadpool' }),
  lmdb: lazy(() => import('./lmdb.js')),
  'better-sqlite3': lazy(() => import('./better-sqlite3.js')),
  'classic-level': lazy(() => import('./classic-level.js')),
  'fs-fdatasync': lazy(() => import('./fs-fdatasync.js')),
  // The harness ceiling: resolves every append on the next tick and keeps nothing.
  null: lazy(() => import('./null.js')),
  // Not a store: each of its workloads is one probe of the disk's limits (bench/systems/disk.js).
  disk: { measure },
};

/** The disk probes of the peers suite, run before the stores; qd1-append is the segments suite's. */
export const diskWorkloads = ['qd1', 'qd1-1mib', 'sequential-qd1', 'sequential-qd4'];
