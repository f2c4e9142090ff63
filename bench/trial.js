#!/usr/bin/env node
// One trial: one system, one workload, one fresh process and one fresh directory, so that no trial
// inherits another's heap, page cache entries of its own files, or open handles. Prints exactly one
// JSON line on stdout; bench/run.js collects it.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildSuite, pageCacheChange, readPageCacheBytes, runWorkload } from '../dist/bench/index.js';
import { systems } from './systems/index.js';

const { values } = parseArgs({
  options: {
    system: { type: 'string' },
    workload: { type: 'string' },
    records: { type: 'string' },
    seconds: { type: 'string' },
    rate: { type: 'string' },
    quick: { type: 'boolean', default: false },
    // ringwal only: Wal.open options as JSON, e.g. '{"preallocate":false}'.
    'wal-options': { type: 'string' },
    // Milliseconds to wait between open and the workload, e.g. for background preparation of the
    // next segment to finish so that the clock measures the steady state only.
    'settle-ms': { type: 'string' },
    // ringwal only: the directory of another build of ringwal (its dist/) to load Wal from, e.g.
    // the one before a change; the workloads stay this tree's, so both builds run the same protocol.
    dist: { type: 'string' },
  },
  strict: true,
});

const tmpRoot = new URL('./tmp/', import.meta.url).pathname;

async function main() {
  const system = systems[values.system];
  if (system === undefined) throw new Error(`unknown system ${values.system}; known: ${Object.keys(systems).join(', ')}`);
  const dir = join(tmpRoot, `${values.system}-${values.workload}-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  try {
    const seconds = values.seconds === undefined ? undefined : Number(values.seconds);
    if (values.system === 'disk') return await system.measure(dir, values.workload, values.quick, seconds === undefined ? undefined : seconds * 1000);
    const spec = buildSuite({
      quick: values.quick,
      recordsMax: values.records === undefined ? undefined : Number(values.records),
      durationMs: seconds === undefined ? undefined : seconds * 1000,
      ratePerS: values.rate === undefined ? undefined : Number(values.rate),
    }).find((candidate) => candidate.id === values.workload);
    if (spec === undefined) throw new Error(`unknown workload ${values.workload}`);
    const walOptions = values['wal-options'] === undefined ? undefined : JSON.parse(values['wal-options']);
    if (walOptions !== undefined && system.acceptsWalOptions !== true) throw new Error(`--wal-options applies to ringwal systems only, not ${values.system}`);
    if (values.dist !== undefined && system.acceptsWalOptions !== true) throw new Error(`--dist applies to ringwal systems only, not ${values.system}`);
    let store;
    try {
      store = await system.open(dir, walOptions, values.dist);
    } catch (error) {
      // An option this build does not know yet is a skipped row, not a failed one.
      const unknown = error?.code === 'WAL_ERR_INVALID_ARGUMENT' && /is not an option of Wal\.open/.test(error.message);
      if (unknown) return { skipped: `this build of ringwal has no option ${error.argument}` };
      throw error;
    }
    const settleMs = values['settle-ms'] === undefined ? 0 : Number(values['settle-ms']);
    if (settleMs > 0) await new Promise((resolve) => setTimeout(resolve, settleMs));
    const pageCacheBeforeBytes = readPageCacheBytes();
    const result = await runWorkload(store.adapter, spec);
    const pageCache = pageCacheChange(pageCacheBeforeBytes, readPageCacheBytes(), result.payloadBytes);
    // stats() is async since segments: an unawaited promise would serialise as {}.
    const stats = await store.stats?.();
    await store.close();
    return { ...result, spec, pageCache, info: store.info, settleMs, ...(stats === undefined ? {} : { stats }) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

try {
  const result = await main();
  process.stdout.write(`${JSON.stringify({ ok: true, system: values.system, workload: values.workload, ...result })}\n`);
  // A store may keep worker threads or handles alive after close; the result is out, so leave.
  process.exit(0);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ ok: false, system: values.system, workload: values.workload, error: String(error?.stack ?? error) })}\n`);
  process.exit(1);
}
