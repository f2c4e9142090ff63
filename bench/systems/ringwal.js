// ringwal itself, through its public API. The backend is chosen by the system name so that the
// io_uring and thread-pool paths are two rows of the same table.
export async function open(dir, { backend = 'io_uring', directIo = 'auto', syncMethod = 'linked-fdatasync' } = {}) {
  const { Wal } = await import('../../dist/index.js');
  const wal = await Wal.open(dir, { backend, directIo, syncMethod });
  return {
    adapter: {
      append: (payload) => wal.append(payload),
      appendBatch: (payloads) => wal.appendBatch(payloads),
    },
    info: { backend: wal.backend, directIo: wal.directIo, syncMethod },
    stats: () => wal.stats(),
    close: () => wal.close(),
  };
}
