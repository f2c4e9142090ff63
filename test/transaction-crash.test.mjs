// Real crashes of a child that appends transactions from several producers to a pipelined log
// (two batches in flight, frequent rollovers): after each SIGKILL, every acknowledged
// transaction and record is replayed, and every transaction replayed is whole, byte for byte:
// a transaction torn by the kill is cut by recovery with its transaction record, never halved.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Wal } from '../dist/index.js';
import { BACKENDS, tempDir } from './helpers/tmp.mjs';
import { runChildLines } from './helpers/child-lines.mjs';
import { parseTransactionPayload, transactionPayload } from './helpers/transaction-payload.mjs';

const WRITER = fileURLToPath(new URL('./helpers/transaction-writer.mjs', import.meta.url));
const ROUNDS = 6;
const OPEN = { segmentSizeBytes: 1024 * 1024, batchBytesMax: 128 * 1024 };

/** Runs the writer until it has acknowledged `acks` calls, kills it, and returns what it acknowledged. */
async function runAndKill(dir, backend, tagBase, acks) {
  const acked = { transactions: new Map(), records: new Map() };
  let seen = 0;
  const { exited } = runChildLines(WRITER, [dir, backend, String(tagBase)], (line, child) => {
    const [kind, a, b, c] = line.split(' ');
    if (kind === 'txn') acked.transactions.set(Number(c), { firstLsn: Number(a), lastLsn: Number(b) });
    else if (kind === 'rec') acked.records.set(Number(b), Number(a));
    else return;
    seen += 1;
    // Kill at a varying point: right after an acknowledgement, or a little later.
    if (seen === acks) setTimeout(() => child.kill('SIGKILL'), seen % 4);
  });
  const exit = await exited;
  assert.equal(exit.signal, 'SIGKILL', `the writer must die by the kill: ${exit.stderr}`);
  return acked;
}

for (const backend of BACKENDS) {
  test(
    `SIGKILL among transactions in flight: acknowledged ones survive, none is replayed in part, ${ROUNDS} rounds, ${backend}`,
    { timeout: 120_000 },
    async (t) => {
      const dir = tempDir(t);
      /** tag → { firstLsn, lastLsn } acknowledged, over all rounds (a later truncation never runs here). */
      const transactions = new Map();
      const records = new Map();
      let tornTails = 0;
      for (let round = 1; round <= ROUNDS; round++) {
        const acked = await runAndKill(dir, backend, round * 1_000_000, 150 + round * 40);
        for (const [tag, span] of acked.transactions) transactions.set(tag, span);
        for (const [tag, lsn] of acked.records) records.set(tag, lsn);
        const wal = await Wal.open(dir, { ...OPEN, backend });
        try {
          if (wal.recovery.tornTail !== null) tornTails += 1;
          /** tag → the LSNs and payloads replayed under it */
          const replayed = new Map();
          for await (const r of wal.read()) {
            const said = parseTransactionPayload(r.payload);
            assert.ok(said !== null, `LSN ${r.lsn} holds a payload the writer never wrote`);
            assert.deepEqual(r.payload, transactionPayload(said.tag, said.index, said.count, said.sizeBytes), `LSN ${r.lsn}: every byte`);
            const list = replayed.get(said.tag) ?? [];
            list.push({ lsn: r.lsn, said, txn: r.txn });
            replayed.set(said.tag, list);
          }
          for (const [tag, list] of replayed) {
            const first = list[0];
            if (first.txn === null) {
              assert.equal(list.length, 1, `record ${tag} replayed once`);
              continue;
            }
            assert.equal(
              list.length,
              first.said.count,
              `transaction ${tag} (${first.txn.firstLsn}..${first.txn.lastLsn}) replayed whole: ${list.length} of ${first.said.count}`,
            );
            list.forEach((entry, i) => {
              assert.equal(entry.said.index, i, `transaction ${tag}: record ${i} in order`);
              assert.equal(entry.lsn, first.txn.firstLsn + i, `transaction ${tag}: consecutive LSNs`);
              assert.deepEqual(entry.txn, first.txn);
            });
            assert.equal(first.txn.lastLsn - first.txn.firstLsn + 1, first.said.count);
          }
          for (const [tag, span] of transactions) {
            const list = replayed.get(tag);
            assert.ok(list !== undefined, `round ${round}: acknowledged transaction ${tag} (${span.firstLsn}..${span.lastLsn}) lost`);
            assert.deepEqual(list[0].txn, span, `transaction ${tag} kept its LSNs`);
          }
          for (const [tag, lsn] of records) assert.equal(replayed.get(tag)?.[0].lsn, lsn, `round ${round}: acknowledged record ${tag} at LSN ${lsn}`);
          assert.ok((await wal.stats()).segmentCount >= 2, 'the log rolled over');
        } finally {
          await wal.close();
        }
      }
      t.diagnostic(`${tornTails} of ${ROUNDS} recoveries cut a torn tail`);
    },
  );
}
