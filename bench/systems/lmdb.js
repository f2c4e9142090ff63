import { open as openLmdb } from 'lmdb';
import { packageVersion } from './package-version.js';

// overlappingSync: false makes a put's promise resolve only after its transaction is synced, so a
// resolved append is durable as with every other system. lmdb-js already groups all puts of one
// event-loop turn into one transaction, so it needs no queue of ours.
export async function open(dir) {
  const db = openLmdb({ path: dir, overlappingSync: false, keyEncoding: 'uint32', encoding: 'binary' });
  // uint32 keys: 4 billion appends is far beyond any run of this suite.
  let nextKey = 1;
  const append = (payload) => db.put(nextKey++, payload);
  return {
    adapter: {
      append,
      // One turn's puts share one transaction, which is what a batch API would do.
      appendBatch: (payloads) => Promise.all(payloads.map(append)),
    },
    info: { version: packageVersion('lmdb') },
    close: () => db.close(),
  };
}
