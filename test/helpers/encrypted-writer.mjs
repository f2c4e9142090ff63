/**
 * The child process of test/encryption-crash.test.mjs: opens an encrypted log (the key in hex on
 * the command line: a test key, never a real one) and appends records from a few producers
 * (and batches of 300 from one more) until it is killed, printing `ack <lsn> <payload number>`
 * once each append resolved (durable). Every few
 * hundred records it cuts the tail with truncateAfter, so the kills land before and after cuts.
 *
 *   node encrypted-writer.mjs <dir> <key hex> <key id> <first payload number> <batches in flight>
 *
 * With one batch in flight (the default) the writer encrypts large batches in the thread pool.
 */
import { Wal } from '../../dist/index.js';
import { payloadFor } from './payload.mjs';

const [dir, keyHex, keyIdText, firstText, depthText] = process.argv.slice(2);
setTimeout(() => process.exit(3), 60_000);
process.stdout.on('error', () => process.exit(4));

const wal = await Wal.open(dir, {
  encryption: { key: Buffer.from(keyHex, 'hex'), keyId: Number(keyIdText) },
  segmentSizeBytes: 256 * 1024,
  batchBytesMax: 64 * 1024,
  batchesInFlightMax: Number(depthText),
  preallocate: false,
});
process.stdout.write(`ready ${wal.nextLsn}\n`);
let n = Number(firstText);
/** Records acknowledged since the last cut: a producer cuts once there are 300. */
let sinceCut = 0;
async function producer() {
  for (;;) {
    const i = n++;
    const lsn = await wal.append(payloadFor(i, 40 + (i % 200)));
    process.stdout.write(`ack ${lsn} ${i}\n`);
    sinceCut += 1;
    if (sinceCut >= 300) {
      sinceCut = 0;
      const cut = wal.durableLsn - 5;
      await wal.truncateAfter(cut);
      process.stdout.write(`cut ${cut}\n`);
    }
  }
}
/** Batches of 300: large enough to be encrypted in the thread pool with one batch in flight. */
async function batcher() {
  for (;;) {
    const numbers = Array.from({ length: 300 }, () => n++);
    const { firstLsn } = await wal.appendBatch(numbers.map((i) => payloadFor(i, 40 + (i % 200))));
    process.stdout.write(numbers.map((i, k) => `ack ${firstLsn + k} ${i}\n`).join(''));
    sinceCut += numbers.length;
  }
}
await Promise.all([producer(), producer(), producer(), producer(), batcher()]).catch((err) => {
  process.stderr.write(`encrypted-writer: ${err?.stack ?? err}\n`);
  process.exit(1);
});
