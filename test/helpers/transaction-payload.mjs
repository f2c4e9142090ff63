/**
 * Payloads of the transaction crash test: `<tag>/<index>/<count>/` then filler derived from the
 * same numbers, so every byte of a replayed record can be checked.
 */

/** The payload of record `index` of `count` in the transaction tagged `tag`. */
export function transactionPayload(tag, index, count, sizeBytes) {
  const head = Buffer.from(`${tag}/${index}/${count}/`);
  const out = Buffer.alloc(Math.max(sizeBytes, head.byteLength));
  head.copy(out);
  for (let k = head.byteLength; k < out.byteLength; k++) out[k] = (tag * 31 + index * 17 + k) & 0xff;
  return out;
}

/** What a payload says it is, or null when it is not one of these. */
export function parseTransactionPayload(payload) {
  const text = payload.subarray(0, 40).toString('latin1');
  const m = /^(\d+)\/(\d+)\/(\d+)\//.exec(text);
  if (m === null) return null;
  const [tag, index, count] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return { tag, index, count, sizeBytes: payload.byteLength };
}
