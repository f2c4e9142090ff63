/**
 * The child process of test/checkpoint-crash.test.mjs: appends bursts of records to a log with
 * small segments (so it rolls over often), and after each burst a checkpoint, sometimes a
 * tombstone, until it is killed. It prints `checkpoint <lsn> <payload>` and `tombstone <lsn>
 * <collection> <purgeLsn>` only once the call resolved (durable), and `ready` once open.
 *
 *   node checkpoint-writer.mjs <dir> <backend>
 */
import { Wal } from '../../dist/index.js';

const [dir, backendText] = process.argv.slice(2);
const backend = /** @type {import('../../dist/index.js').BackendChoice} */ (backendText);
const ORPHAN_EXIT_MS = 60_000;
setTimeout(() => process.exit(3), ORPHAN_EXIT_MS);
process.stdout.on('error', () => process.exit(4));

const wal = await Wal.open(dir, { backend, directIo: 'required', segmentSizeBytes: 64 * 1024, batchBytesMax: 64 * 1024, preallocate: false });
process.stdout.write(`ready ${wal.lastCheckpoint()?.lsn ?? 0}\n`);
const payload = Buffer.alloc(700, 0x5a);
for (let round = 1; ; round++) {
  await Promise.all(Array.from({ length: 12 }, () => wal.append(payload)));
  const state = `round ${round} after ${wal.durableLsn}`;
  const lsn = await wal.checkpoint(Buffer.from(state));
  process.stdout.write(`checkpoint ${lsn} ${state.replaceAll(' ', '_')}\n`);
  if (round % 3 === 0) {
    const purgeLsn = wal.durableLsn;
    const at = await wal.tombstone({ tenant: 1, collection: `c${round % 2}`, purgeLsn });
    process.stdout.write(`tombstone ${at} c${round % 2} ${purgeLsn}\n`);
  }
}
