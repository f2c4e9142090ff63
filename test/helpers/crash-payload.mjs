/**
 * What the crash writer appends, as pure functions of (producer, seq), so the parent can check
 * every record of a crashed log without any other knowledge: a record whose payload or meta is
 * not exactly what its producer would have written is damage or an invented record.
 *
 * A producer appends groups: one record (`append`) or several (`appendBatch`). Every record of a
 * group shares the meta, which names the producer (tenant), the group's first seq (database) and
 * the group's size (vshard); a record's own seq is the group's first seq plus its place in it.
 */
import assert from 'node:assert/strict';

export function hash32(a, b) {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul((b + 0x632be5ab) | 0, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Payload sizes span 0 to 2000 bytes; one in eight is empty, as empty payloads are an edge. */
const PAYLOAD_SIZE_BYTES_MAX = 2000;
const TYPES = [0x8001, 0x8abc, 0x0007];

export function payloadFor(producer, seq) {
  const h = hash32(producer, seq);
  const sizeBytes = (h & 7) === 0 ? 0 : (h >>> 3) % (PAYLOAD_SIZE_BYTES_MAX + 1);
  const payload = Buffer.allocUnsafe(sizeBytes);
  let x = h | 1;
  for (let i = 0; i < sizeBytes; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    payload[i] = x & 0xff;
  }
  return payload;
}

export function metaFor(producer, groupSeq, groupSize) {
  return { type: TYPES[groupSeq % TYPES.length], tenant: producer, database: groupSeq, vshard: groupSize };
}

/** How many records a batch-mode producer puts in its group starting at `seq`: 1 to 8. */
export function groupSizeFor(producer, seq) {
  return 1 + (hash32(producer ^ 0x5bd1e995, seq) % 8);
}

/**
 * Checks a whole log read back after crashes. Returns, per LSN, the (producer, seq) it holds.
 * Fails on: a gap or disorder in LSNs, a payload or meta that its producer never wrote, a seq
 * out of order for its producer, a seq missing in the middle, a record of a producer after a
 * group of that producer that was cut short (the producer only moves on once a group is
 * durable, so a cut group must be its last).
 */
export function checkCrashLog(records) {
  const identity = [null];
  const nextSeq = new Map();
  const finished = new Set();
  let run = null;
  for (let i = 0; i < records.length; i++) {
    const rec = records[i];
    assert.equal(rec.lsn, i + 1, `LSNs must be 1..N without gaps: position ${i} holds LSN ${rec.lsn}`);
    if (run !== null && rec.tenant === run.producer && rec.database === run.groupSeq && run.index + 1 < run.size) {
      run.index += 1;
    } else {
      if (run !== null && run.index + 1 < run.size) finished.add(run.producer);
      run = { producer: rec.tenant, groupSeq: rec.database, size: rec.vshard, index: 0 };
      assert.ok(run.size >= 1 && run.size <= 8, `LSN ${rec.lsn}: group size ${run.size} was never written`);
    }
    const producer = run.producer;
    const seq = run.groupSeq + run.index;
    assert.ok(!finished.has(producer), `LSN ${rec.lsn}: producer ${producer} continues after a group that was cut short`);
    assert.equal(seq, nextSeq.get(producer) ?? 0, `LSN ${rec.lsn}: producer ${producer} seq ${seq} out of order`);
    nextSeq.set(producer, seq + 1);
    const meta = metaFor(producer, run.groupSeq, run.size);
    assert.equal(rec.type, meta.type, `LSN ${rec.lsn}: type`);
    assert.ok(rec.payload.equals(payloadFor(producer, seq)), `LSN ${rec.lsn}: payload is not what producer ${producer} wrote for seq ${seq}`);
    identity.push({ producer, seq });
  }
  return identity;
}
