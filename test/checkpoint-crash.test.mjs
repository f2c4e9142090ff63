// Real crashes of a child that checkpoints and tombstones while appending, with frequent
// rollovers (so the last checkpoint often lives in an earlier segment, named by the header of the
// next one): after each SIGKILL, the reopened log's last checkpoint is at or
// after the last one acknowledged, with the payload written for it, and every acknowledged
// tombstone is in the set with at least its purge LSN.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Wal } from '../dist/index.js';
import { BACKENDS, tempDir } from './helpers/tmp.mjs';
import { runChildLines } from './helpers/child-lines.mjs';

const WRITER = fileURLToPath(new URL('./helpers/checkpoint-writer.mjs', import.meta.url));
const ROUNDS = 4;
const OPEN = { segmentSizeBytes: 64 * 1024, batchBytesMax: 64 * 1024, preallocate: false };

/** Runs the writer until it has acknowledged `checkpoints` checkpoints, kills it, and returns what it acknowledged. */
async function runAndKill(dir, backend, checkpoints) {
  const acked = { checkpoints: new Map(), tombstones: [] };
  let seen = 0;
  const { exited } = runChildLines(WRITER, [dir, backend], (line, child) => {
    const [kind, a, b, c] = line.split(' ');
    if (kind === 'checkpoint') {
      acked.checkpoints.set(Number(a), b.replaceAll('_', ' '));
      seen += 1;
      // Kill at a varying point: right after an acknowledgement, or a little later.
      if (seen === checkpoints) setTimeout(() => child.kill('SIGKILL'), seen % 3);
    } else if (kind === 'tombstone') acked.tombstones.push({ collection: b, purgeLsn: Number(c), lsn: Number(a) });
  });
  const exit = await exited;
  assert.equal(exit.signal, 'SIGKILL', `the writer must die by the kill: ${exit.stderr}`);
  return acked;
}

for (const backend of BACKENDS) {
  test(
    `SIGKILL while checkpointing: the last acknowledged checkpoint and every acknowledged tombstone survive, ${ROUNDS} rounds, ${backend}`,
    { timeout: 60_000 },
    async (t) => {
      const dir = tempDir(t);
      const allCheckpoints = new Map();
      const allTombstones = [];
      for (let round = 1; round <= ROUNDS; round++) {
        const acked = await runAndKill(dir, backend, 15 + round * 7);
        for (const [lsn, payload] of acked.checkpoints) allCheckpoints.set(lsn, payload);
        allTombstones.push(...acked.tombstones);
        const wal = await Wal.open(dir, { ...OPEN, backend });
        try {
          const last = wal.lastCheckpoint();
          const lastAcked = Math.max(...acked.checkpoints.keys());
          assert.ok(last !== null && last.lsn >= lastAcked, `round ${round}: last checkpoint ${last?.lsn}, acknowledged ${lastAcked}`);
          // It is one the writer wrote (acknowledged or not), with its payload.
          assert.match(last.payload.toString(), /^round \d+ after \d+$/);
          if (allCheckpoints.has(last.lsn)) assert.equal(last.payload.toString(), allCheckpoints.get(last.lsn));
          assert.ok((await wal.stats()).segmentCount >= 2, 'the log rolled over');
          const set = await wal.tombstones();
          for (const tomb of allTombstones) {
            assert.ok((set.purgeLsn(1, tomb.collection) ?? -1) >= tomb.purgeLsn, `round ${round}: tombstone at LSN ${tomb.lsn} of ${tomb.collection} lost`);
          }
        } finally {
          await wal.close();
        }
      }
    },
  );
}
