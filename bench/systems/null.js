import { NullStore } from '../../dist/bench/index.js';

// The harness ceiling, not a store: every append and batch resolves on the next tick and nothing
// is kept (src/bench/null-store.ts says why nextTick). Its rows are what this benchmark process
// can do at all, and every other row is divided by them (× null).
export async function open() {
  const store = new NullStore();
  return {
    adapter: store.adapter,
    info: { resolves: 'process.nextTick', stores: 'nothing' },
    stats: async () => ({ appends: store.appends }),
    close: async () => {},
  };
}
