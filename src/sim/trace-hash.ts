/**
 * A running 32-bit hash of everything observable in a simulated run: each I/O request and its
 * outcome, each acknowledgement, each recovery. Two runs of one seed must end with the same
 * value; the determinism test compares them, and a violation report prints it so a replay can
 * be confirmed to be the same run.
 */
export class TraceHash {
  private h = 0x811c9dc5;
  private eventCount = 0;

  /** Mixes one unsigned or signed 32-bit integer, or a non-negative safe integer. */
  mix(x: number): void {
    // Safe integers above 2^32 (LSNs, offsets) contribute both halves.
    if (x > 0xffff_ffff) this.mix32(Math.floor(x / 0x1_0000_0000));
    this.mix32(x >>> 0);
  }

  mixString(s: string): void {
    for (let i = 0; i < s.length; i++) this.mix32(s.charCodeAt(i));
  }

  /** Starts a new event, so that [a, b][c] and [a][b, c] hash differently. */
  event(kind: number): void {
    this.eventCount += 1;
    this.mix32(0x9e37_0000 | kind);
  }

  get events(): number {
    return this.eventCount;
  }

  get value(): string {
    return (this.h >>> 0).toString(16).padStart(8, '0');
  }

  private mix32(x: number): void {
    // FNV-1a over the four bytes at once, then a murmur-style finaliser step for avalanche.
    let h = Math.imul(this.h ^ x, 0x01000193);
    h ^= h >>> 15;
    this.h = Math.imul(h, 0x2c1b3c6d);
  }
}
