/**
 * CRC-32C (Castagnoli, reflected, init and xorout 0xFFFFFFFF; crc32c("123456789") = 0xE3069283)
 * in portable TypeScript, slicing by eight. The format's own layouts (segment header, intent,
 * DWB slot) are checksummed with it, so the format loads without the native addon; the hot path
 * (every record of a batch) goes through `Io.crc32cRanges`, which the native Io does with SSE4.2
 * and the simulated disk does with this.
 */

import assert from 'node:assert/strict';

/** The reflected Castagnoli polynomial. */
const POLYNOMIAL = 0x82f63b78;

/** Eight 256-entry tables: table k gives the CRC of a byte followed by k zero bytes. */
const TABLES: Uint32Array = (() => {
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLYNOMIAL : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + n] = c >>> 0;
    }
  }
  return t;
})();

/** The CRC-32C of `bytes`; `seed` is an earlier result to continue from. */
export function crc32c(bytes: Uint8Array, seed = 0): number {
  const t = TABLES;
  let crc = ~seed >>> 0;
  let i = 0;
  const n = bytes.byteLength;
  for (; i + 8 <= n; i += 8) {
    const a = (crc ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24))) >>> 0;
    crc =
      t[7 * 256 + (a & 0xff)]! ^
      t[6 * 256 + ((a >>> 8) & 0xff)]! ^
      t[5 * 256 + ((a >>> 16) & 0xff)]! ^
      t[4 * 256 + (a >>> 24)]! ^
      t[3 * 256 + bytes[i + 4]!]! ^
      t[2 * 256 + bytes[i + 5]!]! ^
      t[256 + bytes[i + 6]!]! ^
      t[bytes[i + 7]!]!;
  }
  for (; i < n; i++) crc = t[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}

/**
 * For i < count: out[i] = crc32c of bytes[ranges[2i], ranges[2i] + ranges[2i+1]), as
 * `Io.crc32cRanges`. Every range is checked before any is summed.
 */
export function crc32cRanges(bytes: Uint8Array, ranges: Uint32Array, count: number, out: Uint32Array): void {
  assert(count <= ranges.length / 2, `crc32cRanges: ${count} ranges do not fit the ranges array`);
  assert(count <= out.length, `crc32cRanges: ${count} results do not fit the out array`);
  for (let i = 0; i < count; i++)
    assert(ranges[2 * i]! + ranges[2 * i + 1]! <= bytes.byteLength, `crc32cRanges: range ${i} ends past the ${bytes.byteLength} bytes`);
  for (let i = 0; i < count; i++) {
    const start = ranges[2 * i]!;
    out[i] = crc32c(bytes.subarray(start, start + ranges[2 * i + 1]!));
  }
}
