import type { AppendAdapter } from './adapter.js';

/**
 * The harness ceiling: a store that keeps nothing and resolves every append and every batch on
 * the next tick. Whatever it reaches is what the benchmark process itself can do (the workload's
 * loop, its clock readings and histogram, one promise per call); a real store's row divided by
 * this one's says how much of that ceiling the store leaves to the application.
 *
 * `process.nextTick` rather than an already resolved promise (`Promise.resolve()`): the returned
 * promise is still pending when `append` returns, as every real store's is, and settling it costs
 * a resolver closure and one queued callback, as a real completion does. Both settle before the
 * event loop runs again, so neither adds I/O or a loop turn: a store that waits a turn (for
 * setImmediate, a timer, a completion) pays for that itself, and that is part of what it is
 * measured for.
 */
export class NullStore {
  private appendCount = 0;

  readonly adapter: AppendAdapter = {
    append: (_payload: Uint8Array) => this.settleNextTick(1),
    appendBatch: (payloads: Uint8Array[]) => this.settleNextTick(payloads.length),
  };

  /** Calls of `append` and records of `appendBatch` taken so far: the only thing it keeps. */
  get appends(): number {
    return this.appendCount;
  }

  private settleNextTick(records: number): Promise<void> {
    this.appendCount += records;
    return new Promise<void>((resolve) => process.nextTick(resolve));
  }
}
