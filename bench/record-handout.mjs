// Microbenchmarks behind bench/results/2026-12-02-replay-profile.md: the cost per record of
// handing records to for await (async generator, array-backed iterator, plain loop) and of a
// 128-byte payload copy or view. A benchmark, not a test.   node bench/record-handout.mjs
const N = 2_000_000;
const steps = [];
for (let i = 0; i < N / 1000; i++) steps.push(Array.from({ length: 1000 }, (_, k) => ({ lsn: i * 1000 + k })));
async function* stepsGen() {
  for (const s of steps) {
    await null;
    yield s;
  }
}
async function* perRecord() {
  for await (const s of stepsGen()) for (const r of s) yield r;
}
function customIter() {
  const it = stepsGen();
  let cur = null;
  let i = 0;
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    next() {
      if (cur !== null && i < cur.length) return Promise.resolve({ value: cur[i++], done: false });
      return it.next().then((s) => {
        if (s.done) return { value: undefined, done: true };
        cur = s.value;
        i = 1;
        return { value: cur[0], done: false };
      });
    },
  };
}
for (let round = 0; round < 3; round++) {
  let t = performance.now();
  let n = 0;
  for await (const r of perRecord()) n += r.lsn & 1;
  const a = performance.now() - t;
  t = performance.now();
  n = 0;
  for await (const r of customIter()) n += r.lsn & 1;
  const b = performance.now() - t;
  t = performance.now();
  n = 0;
  for await (const s of stepsGen()) for (const r of s) n += r.lsn & 1;
  const c = performance.now() - t;
  console.log({ genNsPerRec: ((a * 1e6) / N).toFixed(0), customNsPerRec: ((b * 1e6) / N).toFixed(0), batchNsPerRec: ((c * 1e6) / N).toFixed(1), n });
}

const big = new Uint8Array(1 << 20);
let sink = 0;
for (let round = 0; round < 3; round++) {
  let t = performance.now();
  for (let i = 0; i < N; i++) {
    const off = (i * 176) & 0xfffff & ~7;
    const v = big.subarray(off, off + 128);
    const b = Buffer.from(v);
    sink += b.length;
  }
  const a = performance.now() - t;
  t = performance.now();
  for (let i = 0; i < N; i++) {
    const off = (i * 176) & 0xfffff & ~7;
    const b = Buffer.copyBytesFrom(big, off, 128);
    sink += b.length;
  }
  const c = performance.now() - t;
  t = performance.now();
  for (let i = 0; i < N; i++) {
    const off = (i * 176) & 0xfffff & ~7;
    const b = Buffer.allocUnsafe(128);
    b.set(big.subarray(off, off + 128));
    sink += b.length;
  }
  const d = performance.now() - t;
  t = performance.now();
  for (let i = 0; i < N; i++) {
    const off = (i * 176) & 0xfffff & ~7;
    const b = Buffer.allocUnsafe(128);
    big.copyWithin;
    for (let k = 0; k < 128; k++) b[k] = big[off + k];
    sink += b.length;
  }
  const e = performance.now() - t;
  console.log({
    fromSubarray: ((a * 1e6) / N).toFixed(0),
    copyBytesFrom: ((c * 1e6) / N).toFixed(0),
    allocSet: ((d * 1e6) / N).toFixed(0),
    loop: ((e * 1e6) / N).toFixed(0),
  });
}
console.log({ sink });
