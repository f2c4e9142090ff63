// ringwal itself, through its public API. The backend is chosen by the system name so that the
// io_uring and thread-pool paths are two rows of the same table; segment options (size,
// preallocation, double-write buffer) come from the trial so that one system can run as variants.
/**
 * @param {string} dir
 * @param {{ backend?: import('../../dist/index.js').BackendChoice, directIo?: import('../../dist/index.js').DirectIoMode,
 *   syncMethod?: import('../../dist/index.js').SyncMethod }} [choice]
 * @param {import('../../dist/index.js').WalOptions} [walOptions]
 */
export async function open(dir, { backend = 'io_uring', directIo = 'auto', syncMethod = 'linked-fdatasync' } = {}, walOptions = {}) {
  const { Wal } = await import('../../dist/index.js');
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
    info: { backend: wal.backend, directIo: wal.directIo, syncMethod, ...walOptions },
    stats: async () => ({ ...(await wal.stats()), segmentsSealed }),
    close: () => wal.close(),
  };
}
