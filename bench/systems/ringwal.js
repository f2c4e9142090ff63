import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

// ringwal itself, through its public API. The backend is chosen by the system name so that the
// io_uring and thread-pool paths are two rows of the same table; segment options (size,
// preallocation, double-write buffer) come from the trial so that one system can run as variants.
/**
 * @param {string} dir
 * @param {{ backend?: import('../../dist/index.js').BackendChoice, directIo?: import('../../dist/index.js').DirectIoMode,
 *   syncMethod?: import('../../dist/index.js').SyncMethod }} [choice]
 * @param {import('../../dist/index.js').WalOptions} [walOptions]
 * @param {string} [dist] the directory of the build to load (default: this tree's dist/)
 */
export async function open(dir, { backend = 'io_uring', directIo = 'auto', syncMethod = 'linked-fdatasync' } = {}, walOptions = {}, dist = undefined) {
  const entry = dist === undefined ? new URL('../../dist/index.js', import.meta.url) : pathToFileURL(join(resolve(dist), 'index.js'));
  /** @type {typeof import('../../dist/index.js')} */
  const { Wal } = await import(entry.href);
  // Counted here rather than read from stats() so that a rollover is seen even if a later change
  // lets segments be removed during the run.
  let segmentsSealed = 0;
  const wal = await Wal.open(dir, {
    backend,
    directIo,
    syncMethod,
    ...walOptions,
    onSegmentSealed: () => {
      segmentsSealed += 1;
    },
  });
  return {
    adapter: {
      append: (payload) => wal.append(payload),
      appendBatch: (payloads) => wal.appendBatch(payloads),
    },
    info: { backend: wal.backend, directIo: wal.directIo, syncMethod, ...walOptions, ...(dist === undefined ? {} : { dist }) },
    stats: async () => ({ ...(await wal.stats()), segmentsSealed }),
    close: () => wal.close(),
  };
}
