// A payload that checks itself, shared by tests and the child processes they start (which must not
// import node:test: it would print a TAP report on their stdout).

/** A payload that says which record it is, so a read-back can check every byte. */
export function payloadFor(i, sizeBytes = 16 + ((i * 37) % 300)) {
  const b = Buffer.alloc(sizeBytes);
  for (let k = 0; k < sizeBytes; k++) b[k] = (i * 131 + k * 7) & 0xff;
  if (sizeBytes >= 4) b.writeUInt32LE(i >>> 0, 0);
  return b;
}
