// A seeded xorshift generator for tests, so a failing case can be replayed with RINGWAL_TEST_SEED.
export const SEED = Number(process.env.RINGWAL_TEST_SEED ?? Math.floor(Math.random() * 2 ** 31));
let state = SEED >>> 0 || 1;

export function random() {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) / 2 ** 32;
}

export function randomInt(min, max) {
  return min + Math.floor(random() * (max - min + 1));
}
