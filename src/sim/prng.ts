/**
 * The simulator's only source of randomness: xoshiro128** (Blackman and Vigna), seeded through
 * splitmix32. Every fault, every completion order and every workload choice is drawn from one of
 * these, so a seed replays a run exactly. Math.random is never used: it cannot be seeded.
 *
 * 32-bit arithmetic only (Math.imul and >>>), so a draw costs a few nanoseconds and no BigInt.
 */

/** Seeds are unsigned 32-bit integers: printable, and each one a distinct xoshiro state. */
export const SEED_MAX = 0xffff_ffff;

function splitmix32(state: { x: number }): number {
  state.x = (state.x + 0x9e3779b9) | 0;
  let z = state.x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > SEED_MAX) throw new RangeError(`seed must be an integer in [0, ${SEED_MAX}], got ${seed}`);
    const s = { x: seed };
    this.a = splitmix32(s);
    this.b = splitmix32(s);
    this.c = splitmix32(s);
    this.d = splitmix32(s);
    // xoshiro's one forbidden state is all zeros; splitmix32 of four steps never yields it in
    // practice, but the generator would then emit zeros forever, so rule it out.
    if ((this.a | this.b | this.c | this.d) === 0) this.d = 1;
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  u32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** An integer in [0, n). The modulo bias is below 2^-20 for the n the simulator uses (< 4096). */
  below(n: number): number {
    if (!(n >= 1 && n <= SEED_MAX)) throw new RangeError(`below(${n})`);
    return this.u32() % n;
  }

  /** An integer in [min, max], both included. */
  between(min: number, max: number): number {
    return min + this.below(max - min + 1);
  }

  /** True with probability `p` (resolution 2^-32). */
  chance(p: number): boolean {
    return p > 0 && this.u32() < p * 0x1_0000_0000;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[this.below(items.length)]!;
  }

  /** An independent stream, so adding draws to one part of the simulator does not shift another's. */
  fork(): Prng {
    return new Prng(this.u32());
  }

  /** Fills `out` with random bytes, four per draw. */
  fill(out: Uint8Array): void {
    const whole = out.byteLength & ~3;
    let i = 0;
    for (; i < whole; i += 4) {
      const x = this.u32();
      out[i] = x;
      out[i + 1] = x >>> 8;
      out[i + 2] = x >>> 16;
      out[i + 3] = x >>> 24;
    }
    if (i < out.byteLength) {
      let x = this.u32();
      for (; i < out.byteLength; i++, x >>>= 8) out[i] = x;
    }
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
