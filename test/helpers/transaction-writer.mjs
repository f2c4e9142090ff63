/**
 * The child process of test/transaction-crash.test.mjs: several producers append transactions
 * of 1 to 60 records (and single records between them) to a pipelined log with small segments,
 * until it is killed. It prints `txn <firstLsn> <lastLsn> <tag>` and `rec <lsn> <tag>` only once
 * the call resolved (durable), and `ready` once open. Every payload names its transaction's tag,
 * its index in it and the transaction's size, so the parent can check a replayed transaction is
 * whole and exactly what was written.
 *
 *   node transaction-writer.mjs <dir> <backend> <tag base>
 */
import { Wal } from '../../dist/index.js';
import { transactionPayload } from './transaction-payload.mjs';

const [dir, backendText, baseText] = process.argv.slice(2);
const backend = /** @type {import('../../dist/index.js').BackendChoice} */ (backendText);
const ORPHAN_EXIT_MS = 60_000;
setTimeout(() => process.exit(3), ORPHAN_EXIT_MS);
process.stdout.on('error', () => process.exit(4));

const PRODUCERS = 6;
const wal = await Wal.open(dir, { backend, directIo: 'required', segmentSizeBytes: 1024 * 1024, batchBytesMax: 128 * 1024, batchesInFlightMax: 2 });
process.stdout.write(`ready ${wal.nextLsn}\n`);
let tag = Number(baseText);

async function producer(id) {
  for (let round = 0; ; round++) {
    const mine = tag++;
    if ((round + id) % 4 === 3) {
      const lsn = await wal.append(transactionPayload(mine, 0, 1, 200));
      process.stdout.write(`rec ${lsn} ${mine}\n`);
      continue;
    }
    const count = 1 + ((mine * 7919) % 60);
    const sizeBytes = 64 + ((mine * 131) % 1500);
    const entries = Array.from({ length: count }, (_, i) => ({ payload: transactionPayload(mine, i, count, sizeBytes), tenant: id }));
    const { firstLsn, lastLsn } = await wal.appendTransaction(entries);
    process.stdout.write(`txn ${firstLsn} ${lastLsn} ${mine}\n`);
  }
}

await Promise.all(Array.from({ length: PRODUCERS }, (_, id) => producer(id)));
