// Child process for crash-points.test.mjs: writes records and prints an ack line for each one
// only after its append resolved, then runs the operation under test. The environment arms one
// crash point (src/io/crash-point.ts), so the process dies by SIGKILL between two steps. An
// optional fifth argument, JSON, overrides options of the open (a point inside Wal.open kills it
// there, before any append); its `encryptionKeyHex` opens the log encrypted.
import { Wal } from '../../dist/index.js';
import { payloadFor } from './payload.mjs';

const [dir, operation, countArg, lsnArg, overridesArg = '{}'] = process.argv.slice(2);
const count = Number(countArg);
// `encryptionKeyHex` in the overrides: the log is opened encrypted under that (test) key, id 1.
const { encryptionKeyHex, ...overrides } = JSON.parse(overridesArg);
const wal = await Wal.open(dir, {
  segmentSizeBytes: 64 * 1024,
  batchBytesMax: 64 * 1024,
  preallocate: false,
  doubleWriteBuffer: 'buffered',
  ...overrides,
  ...(encryptionKeyHex === undefined ? {} : { encryption: { key: Buffer.from(encryptionKeyHex, 'hex'), keyId: 1 } }),
});
let next = wal.nextLsn;
for (let i = 0; i < count; i++) {
  const lsn = await wal.append(payloadFor(next - 1, 200));
  if (lsn !== next) throw new Error(`LSN ${lsn}, expected ${next}`);
  process.stdout.write(`ack ${lsn}\n`);
  next += 1;
}
process.stdout.write(`start ${operation}\n`);
if (operation === 'truncateBefore') await wal.truncateBefore(Number(lsnArg));
if (operation === 'truncateAfter') await wal.truncateAfter(Number(lsnArg));
process.stdout.write(`done ${operation}\n`);
await wal.close();
