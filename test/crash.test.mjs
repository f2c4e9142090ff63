/**
 * Real crashes: a child process appends from many concurrent producers and is SIGKILLed at a
 * random moment while writes are in flight. The parent then reopens the same directory and
 * checks the promise of docs/design.md: every acknowledged record is there with its exact
 * payload, LSNs are 1..N without gaps, nothing was invented, and appends continue above every
 * LSN the log ever held. Rounds repeat on one directory so recovery also runs over logs that
 * earlier recoveries (and torn tails) shaped.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Wal, WalLockedError } from '../dist/index.js';
import { checkCrashLog, metaFor, payloadFor } from './helpers/crash-payload.mjs';
import { SEED, randomInt } from './helpers/random.mjs';

const WRITER = fileURLToPath(new URL('./helpers/crash-writer.mjs', import.meta.url));
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ringwal-'));
const children = new Set();

after(() => {
  for (const child of children) child.kill('SIGKILL');
  fs.rmSync(root, { recursive: true, force: true });
});

/** Producer ids are unique per round (a round's producers start at round × this). */
const PRODUCERS_PER_ROUND_MAX = 1000;
/** The parent's own appends after each reopen use the last id of the round's range. */
const PARENT_PRODUCER_OFFSET = PRODUCERS_PER_ROUND_MAX - 1;
/** Bounds on waiting for a child, so a stuck child fails the test instead of hanging it. */
const CHILD_READY_MS_MAX = 20_000;
const CHILD_EXIT_MS_MAX = 10_000;

async function ioUringMissing() {
  const dir = fs.mkdtempSync(path.join(root, 'probe-'));
  try {
    const wal = await Wal.open(dir, { backend: 'io_uring' });
    await wal.close();
    return false;
  } catch (err) {
    if (err.code === 'WAL_ERR_BACKEND_UNAVAILABLE') return `io_uring unavailable here: ${err.message}`;
    throw err;
  }
}

/**
 * Starts the writer and returns its parsed output as it arrives. Only whole lines count: a line
 * cut by the kill could otherwise read as a different, shorter number.
 */
function startWriter(dir, backend, mode, producers, producerBase) {
  const child = spawn(process.execPath, [WRITER, dir, backend, mode, String(producers), String(producerBase)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const run = { child, ready: null, acks: [], pipelined: { batches: 0, peak: 0 }, stderr: '', onLine: () => undefined };
  let partial = '';
  child.stdout.setEncoding('latin1');
  child.stdout.on('data', (chunk) => {
    const text = partial + chunk;
    const lastNewline = text.lastIndexOf('\n');
    partial = text.slice(lastNewline + 1);
    if (lastNewline < 0) return;
    for (const line of text.slice(0, lastNewline).split('\n')) {
      const words = line.split(' ');
      if (words[0] === 'ack') run.acks.push({ lsn: Number(words[1]), producer: Number(words[2]), seq: Number(words[3]) });
      else if (words[0] === 'pipelined') run.pipelined = { batches: Number(words[1]), peak: Number(words[2]) };
      else if (words[0] === 'ready') run.ready = { backend: words[1], directIo: words[2] === 'true', nextLsn: Number(words[3]) };
      else throw new Error(`unexpected line from the writer: ${line}`);
    }
    run.onLine();
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    run.stderr += chunk;
  });
  run.exited = new Promise((resolve) => {
    child.on('close', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
  });
  return run;
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves once `predicate(run)` holds; rejects if the child exits first. */
function waitFor(run, predicate, what) {
  const reached = new Promise((resolve, reject) => {
    run.onLine = () => {
      if (predicate(run)) resolve();
    };
    run.exited.then(({ code, signal }) => reject(new Error(`writer exited (code ${code}, signal ${signal}) before ${what}: ${run.stderr}`)));
    run.onLine();
  });
  return withTimeout(reached, CHILD_READY_MS_MAX, `waiting for ${what}`);
}

async function readAll(wal, fromLsn) {
  const records = [];
  for await (const rec of wal.read({ fromLsn })) records.push(rec);
  return records;
}

/**
 * One round: start the writer, let it get `ackTarget` acks, kill it after a random delay, then
 * reopen, check the whole log against every ack of every round so far, and append more.
 */
async function crashRound({ dir, backend, mode, round, producers, allAcks }) {
  const producerBase = round * PRODUCERS_PER_ROUND_MAX;
  const ackTarget = randomInt(200, 3000);
  const killDelayMs = randomInt(0, 30);
  const label = `seed ${SEED}, ${backend} ${mode} round ${round} (${producers} producers, kill after ${ackTarget} acks + ${killDelayMs} ms)`;
  const run = startWriter(dir, backend, mode, producers, producerBase);
  await waitFor(run, (r) => r.acks.length >= ackTarget, `${ackTarget} acks, ${label}`);
  // The child must be the one under test, not a fallback: O_DIRECT and the asked-for backend.
  assert.deepEqual({ backend: run.ready.backend, directIo: run.ready.directIo }, { backend, directIo: true }, label);
  await new Promise((resolve) => setTimeout(resolve, killDelayMs));
  run.child.kill('SIGKILL');
  const exit = await withTimeout(run.exited, CHILD_EXIT_MS_MAX, `writer exit, ${label}`);
  assert.equal(exit.signal, 'SIGKILL', `the writer must die by the kill, not on its own: ${run.stderr} (${label})`);
  assert.ok(run.acks.length >= ackTarget);
  allAcks.push(...run.acks);

  const wal = await Wal.open(dir, { backend });
  try {
    const records = await readAll(wal, 1);
    const n = records.length;
    assert.equal(wal.recovery.recordCount, n, label);
    assert.equal(wal.nextLsn, n + 1, label);
    assert.ok(n >= run.ready.nextLsn - 1 + run.acks.length, `the log lost records the writer acknowledged (${label})`);
    const identity = checkCrashLog(records);
    let maxAckedLsn = 0;
    for (const a of allAcks) {
      assert.ok(a.lsn <= n, `acknowledged LSN ${a.lsn} is missing: the log ends at ${n} (${label})`);
      assert.deepEqual(identity[a.lsn], { producer: a.producer, seq: a.seq }, `acknowledged LSN ${a.lsn} holds another record (${label})`);
      if (a.lsn > maxAckedLsn) maxAckedLsn = a.lsn;
    }

    // The recovered log takes appends above every LSN it held, and reads them back.
    const parent = producerBase + PARENT_PRODUCER_OFFSET;
    const batchPayloads = [0, 1, 2].map((seq) => payloadFor(parent, seq));
    const [batch, lsn3, lsn4] = await Promise.all([
      wal.appendBatch(batchPayloads, metaFor(parent, 0, 3)),
      wal.append(payloadFor(parent, 3), metaFor(parent, 3, 1)),
      wal.append(payloadFor(parent, 4), metaFor(parent, 4, 1)),
    ]);
    assert.deepEqual([batch.firstLsn, batch.lastLsn, lsn3, lsn4], [n + 1, n + 3, n + 4, n + 5], label);
    assert.ok(batch.firstLsn > maxAckedLsn);
    for (let seq = 0; seq < 5; seq++) allAcks.push({ lsn: n + 1 + seq, producer: parent, seq });
    const added = await readAll(wal, n + 1);
    assert.equal(added.length, 5, label);
    checkCrashLog([...records, ...added]);
    return { recordCount: n + 5, pipelined: run.pipelined };
  } finally {
    await wal.close();
  }
}

/** The kills hit a pipelined writer: batches went in behind others, two in flight at once. */
function assertPipelined(rounds) {
  const batches = rounds.reduce((sum, r) => sum + r.batches, 0);
  assert.ok(batches > 0, `no batch was pipelined in any round: ${JSON.stringify(rounds)}`);
  assert.equal(Math.max(...rounds.map((r) => r.peak)), 2, `two batches in flight at once: ${JSON.stringify(rounds)}`);
}

const ROUNDS = 5;
const PRODUCER_COUNTS = [64, 512, 128, 256, 300];

for (const backend of ['io_uring', 'threadpool']) {
  test(`SIGKILL during appends, ${ROUNDS} rounds on one directory, ${backend}`, { timeout: 60_000 }, async (t) => {
    if (backend === 'io_uring') {
      const missing = await ioUringMissing();
      if (missing) return t.skip(missing);
    }
    const dir = fs.mkdtempSync(path.join(root, `${backend}-`));
    const allAcks = [];
    let recordCount = 0;
    const pipelined = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const result = await crashRound({ dir, backend, mode: 'append', round, producers: PRODUCER_COUNTS[round - 1], allAcks });
      assert.ok(result.recordCount > recordCount, 'every round adds records');
      recordCount = result.recordCount;
      pipelined.push(result.pipelined);
    }
    assertPipelined(pipelined);
  });
}

for (const backend of ['io_uring', 'threadpool']) {
  test(`SIGKILL during appendBatch keeps a prefix of each batch, 3 rounds, ${backend}`, { timeout: 60_000 }, async (t) => {
    if (backend === 'io_uring') {
      const missing = await ioUringMissing();
      if (missing) return t.skip(missing);
    }
    const dir = fs.mkdtempSync(path.join(root, `batch-${backend}-`));
    const allAcks = [];
    const pipelined = [];
    for (let round = 1; round <= 3; round++) {
      pipelined.push((await crashRound({ dir, backend, mode: 'batch', round, producers: 128, allAcks })).pipelined);
    }
    assertPipelined(pipelined);
  });
}

test('a log held by another process is refused with WAL_ERR_LOCKED until that process dies', { timeout: 30_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(root, 'lock-'));
  const run = startWriter(dir, 'auto', 'hold', 0, 0);
  await waitFor(run, (r) => r.ready !== null, 'the holder to open the log');
  await assert.rejects(Wal.open(dir), (err) => {
    assert.ok(err instanceof WalLockedError);
    assert.equal(err.code, 'WAL_ERR_LOCKED');
    assert.equal(err.path, path.join(dir, 'ringwal.lock'));
    return true;
  });
  // The refusal must not have disturbed the holder's log or lock: a second try is refused too.
  await assert.rejects(Wal.open(dir), { code: 'WAL_ERR_LOCKED' });
  run.child.kill('SIGKILL');
  await withTimeout(run.exited, CHILD_EXIT_MS_MAX, 'holder exit');
  const wal = await Wal.open(dir);
  try {
    assert.equal(wal.nextLsn, 1);
    assert.equal(await wal.append(Buffer.from('after the holder died')), 1);
  } finally {
    await wal.close();
  }
});
