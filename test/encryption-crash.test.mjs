// Nonces never repeat under one key (docs/encryption.md, "Nonces never repeat under one key"):
// truncateAfter, reopen, append, SIGKILL of a writer child in the middle of appends and cuts,
// reopen, append. Every (data key, nonce) ever on disk is collected between the steps, and no
// pair encrypts two different plaintexts: a data key is fixed by the segment's salt (with the
// log and segment ids), the nonce by the LSN, so the same salt, segment and LSN must always hold
// the same ciphertext. Every acknowledged record survives each kill.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Wal } from '../dist/index.js';
import { SEGMENT_NAME_PATTERN, walkSegment } from './helpers/format.mjs';
import { runChildLines } from './helpers/child-lines.mjs';
import { payloadFor, tempDir } from './helpers/tmp.mjs';

const KEY = Buffer.from('c3'.repeat(32), 'hex');
const OPTIONS = {
  encryption: { key: KEY, keyId: 7 },
  segmentSizeBytes: 256 * 1024,
  batchBytesMax: 64 * 1024,
  batchesInFlightMax: 2,
  preallocate: false,
};
const WRITER = fileURLToPath(new URL('./helpers/encrypted-writer.mjs', import.meta.url));
/** The child's payloads: numbered from its first argument, sizes as it makes them. */
const childPayload = (i) => payloadFor(i, 40 + (i % 200));

/** Every (key id, salt, segment id, LSN) seen, with the ciphertext and tag it held. */
class NonceLedger {
  /** @type {Map<string, string>} */
  seen = new Map();
  /** @type {Map<string, number>} */
  saltOwners = new Map();
  pairs = 0;

  /** @param {string} dir @param {string} step */
  snapshot(dir, step) {
    for (const name of fs.readdirSync(dir).filter((n) => SEGMENT_NAME_PATTERN.test(n))) {
      const walked = walkSegment(fs.readFileSync(path.join(dir, name)));
      assert.equal(walked.encrypted, true, `${name} is encrypted`);
      const salt = walked.salt.toString('hex');
      const owner = this.saltOwners.get(salt);
      assert.ok(owner === undefined || owner === walked.segmentId, `${step}: salt of segment ${walked.segmentId} was drawn for segment ${owner} too`);
      this.saltOwners.set(salt, walked.segmentId);
      for (const r of walked.records) {
        const pair = `${walked.keyId}:${salt}:${walked.segmentId}:${r.lsn}`;
        const sealed = r.payload.toString('hex');
        const before = this.seen.get(pair);
        if (before === undefined) {
          this.seen.set(pair, sealed);
          this.pairs += 1;
        } else assert.equal(sealed, before, `${step}: LSN ${r.lsn} of segment ${walked.segmentId} encrypted twice under one key and nonce`);
      }
    }
  }
}

async function collect(iterable) {
  const out = [];
  for await (const r of iterable) out.push(r);
  return out;
}

/**
 * Runs the writer child until it has acknowledged `acksWanted` records, then kills it; returns what it acknowledged.
 * @param {string} dir
 * @param {number} firstPayload
 * @param {number} acksWanted
 * @param {number} batchesInFlightMax
 */
async function killWriterAfter(dir, firstPayload, acksWanted, batchesInFlightMax) {
  /** @type {Map<number, number>} */
  const acked = new Map();
  let acks = 0;
  let cuts = 0;
  const { exited } = runChildLines(WRITER, [dir, KEY.toString('hex'), '7', String(firstPayload), String(batchesInFlightMax)], (line, child) => {
    const [kind, a, b] = line.split(' ');
    if (kind === 'ack') {
      acked.set(Number(a), Number(b));
      acks += 1;
      if (acks === acksWanted) child.kill('SIGKILL');
    } else if (kind === 'cut') {
      cuts += 1;
      for (const lsn of [...acked.keys()]) if (lsn > Number(a)) acked.delete(lsn);
    }
  });
  const end = await exited;
  assert.equal(end.signal, 'SIGKILL', `the writer was killed (${end.stderr})`);
  assert.ok(cuts >= 1, 'the kill came after at least one truncateAfter');
  return acked;
}

test('truncateAfter, reopen, append, SIGKILL, reopen, append: no (key, nonce) pair encrypts two plaintexts, and every acknowledged record survives', async (t) => {
  const dir = tempDir(t);
  const ledger = new NonceLedger();
  let wal = await Wal.open(dir, OPTIONS);
  for (let i = 0; i < 60; i++) await wal.append(childPayload(100_000 + i));
  ledger.snapshot(dir, 'first appends');
  await wal.truncateAfter(30);
  ledger.snapshot(dir, 'after truncateAfter');
  for (let i = 0; i < 40; i++) await wal.append(childPayload(200_000 + i));
  ledger.snapshot(dir, 'appends after the cut');
  await wal.close();
  wal = await Wal.open(dir, OPTIONS);
  for (let i = 0; i < 20; i++) await wal.append(childPayload(300_000 + i));
  ledger.snapshot(dir, 'appends after reopen');
  await wal.truncateAfter(wal.durableLsn - 10);
  await wal.close();
  ledger.snapshot(dir, 'second cut');

  for (let round = 0; round < 3; round++) {
    // The default (one batch in flight: large batches encrypted in the thread pool), then pipelined.
    const acked = await killWriterAfter(dir, 1_000_000 * (round + 1), 2000 + 500 * round, round === 1 ? 2 : 1);
    ledger.snapshot(dir, `after kill ${round}`);
    wal = await Wal.open(dir, OPTIONS);
    const byLsn = new Map((await collect(wal.read())).map((r) => [r.lsn, r.payload]));
    for (const [lsn, i] of acked) assert.deepEqual(byLsn.get(lsn), childPayload(i), `kill ${round}: acknowledged LSN ${lsn} survives`);
    ledger.snapshot(dir, `reopen after kill ${round}`);
    for (let i = 0; i < 25; i++) await wal.append(childPayload(5_000_000 + round * 100 + i));
    ledger.snapshot(dir, `appends after kill ${round}`);
    await wal.close();
  }
  assert.ok(ledger.pairs > 2000, `${ledger.pairs} (key, nonce) pairs were compared`);
});
