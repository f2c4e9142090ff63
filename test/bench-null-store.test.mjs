// The null store is the harness ceiling of the benchmark: it must resolve every append and batch
// on the next tick (pending when the call returns, settled before the event loop runs again) and
// run the workloads as any store does.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NullStore, buildSuite, runWorkload } from '../dist/bench/index.js';
import { open } from '../bench/systems/null.js';

test('append and appendBatch are pending on return and resolve on the next tick, before the event loop runs again', async () => {
  const store = new NullStore();
  const order = [];
  const appended = store.adapter.append(new Uint8Array(128)).then(() => order.push('append'));
  const batched = store.adapter.appendBatch([new Uint8Array(16), new Uint8Array(16), new Uint8Array(16)]).then(() => order.push('batch'));
  setImmediate(() => order.push('immediate'));
  order.push('returned');
  await Promise.all([appended, batched]);
  assert.deepEqual(order, ['returned', 'append', 'batch']);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(order, ['returned', 'append', 'batch', 'immediate']);
  assert.equal(store.appends, 4, 'one append and a batch of three');
});

test('every workload of the quick suite runs against it and counts every record it was given', async () => {
  for (const spec of buildSuite({ quick: true, recordsMax: 2000, durationMs: 200, ratePerS: 5000 })) {
    const store = new NullStore();
    const result = await runWorkload(store.adapter, spec);
    assert.equal(result.kind, spec.kind, spec.id);
    assert.ok(result.records > 0, `${spec.id}: ${result.records} records`);
    assert.equal(store.appends, result.records, `${spec.id}: every record taken was resolved`);
    assert.ok(result.recordsPerS > 0, spec.id);
    assert.deepEqual(
      Object.keys(result.runtime.eventLoopDelay),
      ['samples', 'p50Us', 'p99Us', 'maxUs'],
      `${spec.id}: the runtime probe's summary is in the result`,
    );
    assert.deepEqual(Object.keys(result.runtime.gc), ['count', 'pauseMsTotal', 'pauseMsMax'], spec.id);
  }
});

test('bench/systems/null.js opens it as a system of the comparison', async () => {
  const system = await open();
  await system.adapter.append(new Uint8Array(8));
  assert.deepEqual(await system.stats(), { appends: 1 });
  assert.equal(system.info.resolves, 'process.nextTick');
  await system.close();
});
