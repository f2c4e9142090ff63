import { ClassicLevel } from 'classic-level';
import { packageVersion } from './package-version.js';
import { TurnQueue } from './turn-queue.js';

// LevelDB with sync: true on every batch, so a resolved append is durable. The appends of one
// event-loop turn become one db.batch on the next turn; LevelDB itself merges batches that meet in
// its writer queue.
export async function open(dir) {
  const db = new ClassicLevel(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  let nextLsn = 1;
  const key = (lsn) => {
    // Big-endian so that keys sort in append order, as a log's would.
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(lsn));
    return bytes;
  };
  const queue = new TurnQueue((payloads) => {
    const ops = payloads.map((value) => ({ type: 'put', key: key(nextLsn++), value }));
    return db.batch(ops, { sync: true });
  });
  return {
    adapter: {
      append: (payload) => queue.push(payload),
      appendBatch: (payloads) => queue.pushAll(payloads),
    },
    info: { version: packageVersion('classic-level') },
    close: () => db.close(),
  };
}
