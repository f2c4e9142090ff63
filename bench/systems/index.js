// Every system of the comparison by name. Each module is imported only when its trial runs, so a
// peer that fails to load turns into an error row for that peer alone.
import { measureQd1, measureQd1Append, measureSequential } from './disk.js';

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
  disk: {
    // QD1 runs as long as the single-producer workload unless told otherwise; sequential writes
    // 512 MB (64 MB quick).
    measure: async (dir, workload, quick, durationMs = quick ? 1000 : 5000) => {
      if (workload === 'qd1') return measureQd1(dir, durationMs);
      if (workload === 'qd1-append') return measureQd1Append(dir, durationMs);
      if (workload === 'sequential') return measureSequential(dir, quick ? 64e6 : 512e6);
      throw new Error(`unknown disk workload ${workload}; known: qd1, qd1-append, sequential`);
    },
  },
};

export const diskWorkloads = ['qd1', 'sequential'];
