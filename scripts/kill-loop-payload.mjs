// Records that say who wrote them: generation (which writer process) and index (its append
// number, in call order, so in LSN order). The rest of the bytes follow from those two, so the
// checker can tell an intact record from a damaged or invented one without keeping a copy.
const HEADER_BYTES = 12;

export function killLoopPayload(generation, index) {
  const sizeBytes = HEADER_BYTES + (((index * 2654435761) >>> 0) % 3000);
  const b = Buffer.alloc(sizeBytes);
  b.writeUInt32LE(generation, 0);
  b.writeUInt32LE(index, 4);
  b.writeUInt32LE(sizeBytes, 8);
  let x = (generation * 0x9e3779b1 + index) >>> 0;
  for (let k = HEADER_BYTES; k < sizeBytes; k++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[k] = x >>> 24;
  }
  return b;
}

/** The (generation, index) a payload claims, or null when its bytes are not exactly that record. */
export function decodeKillLoopPayload(payload) {
  if (payload.byteLength < HEADER_BYTES) return null;
  const buf = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  const generation = buf.readUInt32LE(0);
  const index = buf.readUInt32LE(4);
  return killLoopPayload(generation, index).equals(buf) ? { generation, index } : null;
}
