/**
 * The child process of test/encryption-crash.test.mjs: opens an encrypted log (the key in hex on
 * the command line: a test key, never a real one) and appends records from a few producers
 * until it is killed, printing `ack <lsn>` once each append resolved (durable). Every few
 * hundred records it cuts the tail with truncateAfter, so the kills land before and after cuts.
 *
 *   node encrypted-writer.mjs <dir> <key hex> <key id> <first payload number>
 */
import { Wal } from '../../dist/index.js';
import { payloadFor } from './payload.mjs';

const [dir, keyHex, keyIdText, firstText] = process.argv.slice(2);
setTimeout(() => process.exit(3), 60_000);
process.stdout.on('error', () => process.exit(4));

const wal = await Wal.open(dir, {
  encryption: { key: Buffer.from(keyHex, 'hex'), keyId: Number(keyIdText) },
  segmentSizeBytes: 256 * 1024,
  batchBytesMax: 64 * 1024,
  batchesInFlightMax: 2,
  preallocate: false,
});
process.stdout.write(`ready ${wal.nextLsn}\n`);
let n = Number(firstText);
async function producer() {
  for (;;) {
    const i = n++;
    const lsn = await wal.append(payloadFor(i, 40 + (i % 200)));
    process.stdout.write(`ack ${lsn} ${i}\n`);
    if (i % 300 === 299) {
      const cut = wal.durableLsn - 5;
      await wal.truncateAfter(cut);
      process.stdout.write(`cut ${cut}\n`);
    }
  }
}
await Promise.all([producer(), producer(), producer(), producer()]).catch((err) => {
  process.stderr.write(`encrypted-writer: ${err?.stack ?? err}\n`);
  process.exit(1);
});
