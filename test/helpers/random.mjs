// The one seeded generator of the tests: the simulator's own PRNG (xoshiro128**), seeded by
// RINGWAL_TEST_SEED or a fresh seed that failing messages print, so a case can be replayed.
import { Prng, SEED_MAX } from '../../dist/sim/prng.js';

export const SEED = Number(process.env.RINGWAL_TEST_SEED ?? Math.floor(Math.random() * SEED_MAX));
const rng = new Prng(SEED);

/** A float in [0, 1). */
export function random() {
  return rng.u32() / 2 ** 32;
}

/** An integer in [min, max]. */
export function randomInt(min, max) {
  return min + Math.floor(random() * (max - min + 1));
}

/** `sizeBytes` seeded random bytes (instead of crypto.randomBytes, which no seed replays). */
export function randomBytes(sizeBytes) {
  const out = Buffer.alloc(sizeBytes);
  rng.fill(out);
  return out;
}

/** A generator of its own, drawn from this one: for a test that wants an independent stream. */
export function forkRng() {
  return rng.fork();
}
