// Every system of the comparison by name. Each module is imported only when its trial runs, so a
// peer that fails to load turns into an error row for that peer alone.
import { measureQd1, measureSequential } from './disk.js';

const lazy = (load, options) => ({ open: async (dir) => (await load()).open(dir, options) });

export const systems = {
  ringwal: lazy(() => import('./ringwal.js'), { backend: 'io_uring' }),
  'ringwal-threadpool': lazy(() => import('./ringwal.js'), { backend: 'threadpool' }),
  lmdb: lazy(() => import('./lmdb.js')),
  'better-sqlite3': lazy(() => import('./better-sqlite3.js')),
  'classic-level': lazy(() => import('./classic-level.js')),
  'fs-fdatasync': lazy(() => import('./fs-fdatasync.js')),
  disk: {
    // QD1 runs as long as the single-producer workload; sequential writes 512 MB (64 MB quick).
    measure: async (dir, workload, quick) => {
      if (workload === 'qd1') return measureQd1(dir, quick ? 1000 : 5000);
      if (workload === 'sequential') return measureSequential(dir, quick ? 64e6 : 512e6);
      throw new Error(`unknown disk workload ${workload}; known: qd1, sequential`);
    },
  },
};

export const diskWorkloads = ['qd1', 'sequential'];
