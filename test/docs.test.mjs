// The documents stay true to the code: the README's error table is ErrorCode, its option list is
// the options Wal.open takes, the limits table of docs/design.md is the constants, every step a
// code comment cites is a step docs/design.md defines, and no document points outside the
// repository or at an issue number a reader cannot look up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode } from '../dist/errors.js';
import { QUEUE_DEPTH_DEFAULT, QUEUE_DEPTH_MAX } from '../dist/io/io.js';
import { FORMAT_VERSION, RECORD_PAYLOAD_BYTES_LIMIT, TRANSACTION_RECORDS_LIMIT } from '../dist/format/constants.js';
import { QUARANTINE_NAMES_MAX } from '../dist/recovery/recover.js';
import { RESTORE_READ_ATTEMPTS } from '../dist/segment/double-write-buffer.js';
import { ZERO_FILL_CHUNK_BYTES } from '../dist/segment/segment-file.js';
import * as options from '../dist/writer/options.js';
import { READ_FILTER_VALUES_MAX } from '../dist/writer/read-options.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (file) => fs.readFileSync(path.join(ROOT, file), 'utf8');
const DOCS = ['README.md', ...fs.readdirSync(path.join(ROOT, 'docs')).map((f) => `docs/${f}`), 'bench/README.md'];

/** The rows of the first markdown table after `heading`, as arrays of trimmed cells. */
function tableAfter(text, heading) {
  const start = text.indexOf(heading);
  assert.ok(start >= 0, `${heading} is there`);
  const lines = text.slice(start).split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  const rows = [];
  for (let i = first + 2; i < lines.length && lines[i].startsWith('|'); i++)
    rows.push(
      lines[i]
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim()),
    );
  return rows;
}

const UNITS = { KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40 };

/** "4 MiB" → 4194304, "1,048,576" → 1048576, "—" → null; only the cell's leading quantity counts. */
function quantity(cell) {
  const match = /^([\d,]+)(?:\s*(KiB|MiB|GiB|TiB))?/.exec(cell);
  if (match === null) return null;
  return Number(match[1].replaceAll(',', '')) * (match[2] === undefined ? 1 : UNITS[match[2]]);
}

test('the README lists exactly the error codes of ErrorCode', () => {
  const codes = tableAfter(read('README.md'), 'Errors are `WalError` subclasses').map((row) => row[0].replaceAll('`', ''));
  assert.deepEqual([...codes].sort(), Object.values(ErrorCode).sort());
});

test('the README names every option of Wal.open', () => {
  const readme = read('README.md');
  const list = readme.slice(readme.indexOf('Options of `Wal.open`'), readme.indexOf('## ', readme.indexOf('Options of `Wal.open`')));
  for (const name of options.WAL_OPTION_NAMES) assert.ok(list.includes(`\`${name}\``), `the README lists ${name}`);
});

test('the limits table of docs/design.md is the constants', () => {
  const rows = new Map(
    tableAfter(read('docs/design.md'), '## Limits').map(([limit, def, max]) => [limit.replaceAll('`', ''), { def: quantity(def), max: quantity(max) }]),
  );
  const expected = {
    batchBytesMax: { def: options.BATCH_BYTES_DEFAULT, max: options.BATCH_BYTES_MAX },
    recordPayloadBytesMax: { def: options.RECORD_PAYLOAD_BYTES_DEFAULT, max: RECORD_PAYLOAD_BYTES_LIMIT },
    pendingAppendsMax: { def: options.PENDING_APPENDS_DEFAULT, max: options.PENDING_APPENDS_MAX },
    pendingBytesMax: { def: options.PENDING_BYTES_DEFAULT, max: options.PENDING_BYTES_MAX },
    queueDepth: { def: QUEUE_DEPTH_DEFAULT, max: QUEUE_DEPTH_MAX },
    segmentSizeBytes: { def: options.SEGMENT_SIZE_BYTES_DEFAULT, max: options.SEGMENT_SIZE_BYTES_MAX },
    'zero-fill chunk of the next segment': { def: ZERO_FILL_CHUNK_BYTES, max: null },
    'quarantine copies of one offset': { def: null, max: QUARANTINE_NAMES_MAX },
    'reads of a copied block before the DWB takes it as unreadable': { def: RESTORE_READ_ATTEMPTS, max: null },
    'values in one read filter list (knownTypes, types, tenants, databases)': { def: null, max: READ_FILTER_VALUES_MAX },
    timeAnchorIntervalMs: { def: 0, max: options.TIME_ANCHOR_INTERVAL_MS_MAX },
    slowSyncWarningMs: { def: options.SLOW_SYNC_WARNING_MS_DEFAULT, max: options.SLOW_SYNC_WARNING_MS_MAX },
    'records a transaction record announces': { def: null, max: TRANSACTION_RECORDS_LIMIT },
  };
  for (const [limit, want] of Object.entries(expected)) assert.deepEqual(rows.get(limit), want, limit);
  // The native submit retry budget lives in C.
  const budgetMs = Number(/#define RW_RING_SUBMIT_RETRY_BUDGET_MS (\d+)u/.exec(read('native/rw_ring.h'))[1]);
  assert.ok(read('docs/design.md').includes(`| io_uring_enter retries of a refused submission | — | ${budgetMs / 1000} s |`));
});

test('the README and docs/format.md name the format version this build writes', () => {
  assert.ok(read('README.md').includes(`this build reads version ${FORMAT_VERSION} only`), 'README error table');
  assert.ok(read('docs/format.md').startsWith(`# ringwal on-disk format, version ${FORMAT_VERSION}\n`), 'docs/format.md title');
});

test('every durability step a code comment cites is one docs/design.md defines', () => {
  const defined = new Set([...read('docs/design.md').matchAll(/\*\*([OSRAVBTD]\d)\*\*/g)].map((m) => m[1]));
  assert.ok(defined.size > 40, `${defined.size} steps defined`);
  const cited = new Map();
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts')) {
        for (const line of fs.readFileSync(full, 'utf8').split('\n')) {
          if (!/^\s*(\*|\/\/)/.test(line) && !line.includes('//')) continue;
          for (const m of line.matchAll(/\b([OSRAVBTD]\d)\b/g)) cited.set(m[1], path.relative(ROOT, full));
        }
      }
    }
  };
  walk(path.join(ROOT, 'src'));
  assert.ok(cited.size > 30, `${cited.size} steps cited`);
  for (const [step, file] of cited) assert.ok(defined.has(step), `${file} cites ${step}, which docs/design.md does not define`);
});

test('no document links outside the repository or cites an issue number', () => {
  for (const file of DOCS) {
    const text = read(file);
    for (const m of text.matchAll(/\]\(([^)#]+)[^)]*\)/g)) {
      const target = m[1];
      if (/^[a-z]+:/.test(target)) continue;
      const resolved = path.resolve(path.dirname(path.join(ROOT, file)), target);
      assert.ok(resolved.startsWith(ROOT), `${file} links to ${target}, outside the repository`);
      assert.ok(fs.existsSync(resolved), `${file} links to ${target}, which does not exist`);
    }
    assert.doesNotMatch(text, /\.\.\/\.\.\/shared|\.\.\/shared\//, `${file} points at files outside the repository`);
    assert.doesNotMatch(text, /\bissue \d+\b/i, `${file} cites an issue number a reader cannot look up`);
  }
});

test('the README and docs/testing.md state the seed ranges CI runs', () => {
  const sim = read('test/sim.test.mjs');
  const tier1 = Number(/export const TIER1_RUNS = (\d+);/.exec(sim)[1]);
  const tier2 = Number(/export const TIER2_RUNS = (\d+);/.exec(sim)[1]);
  const phrase = `seeds 1..${tier1.toLocaleString('en-US')} of tier 1 and 1..${tier2.toLocaleString('en-US')} of tier 2`;
  assert.ok(read('README.md').includes(`simulator ${phrase}`), `the README says "${phrase}"`);
  const testing = read('docs/testing.md').replaceAll('\n', ' ');
  assert.ok(
    testing.includes(`seeds 1..${tier1.toLocaleString('en-US')} of tier 1`) && testing.includes(`seeds 1..${tier2.toLocaleString('en-US')} of tier 2`),
    'docs/testing.md states both ranges',
  );
});
