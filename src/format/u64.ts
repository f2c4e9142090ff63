/**
 * Little-endian u64 fields as JavaScript numbers. Every u64 of the format (LSNs, offsets,
 * tenants) is a safe integer (below 2^53), so a number holds it exactly and a BigInt is not needed.
 */

export const TWO_POW_32 = 0x1_0000_0000;

export function setU64(view: DataView, offsetBytes: number, value: number): void {
  view.setUint32(offsetBytes, value % TWO_POW_32, true);
  view.setUint32(offsetBytes + 4, Math.floor(value / TWO_POW_32), true);
}

export function getU64(view: DataView, offsetBytes: number): number {
  return view.getUint32(offsetBytes, true) + view.getUint32(offsetBytes + 4, true) * TWO_POW_32;
}
