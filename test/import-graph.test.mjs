// The folders of src/ import one way (docs/design.md, "Layers"): the real tree has no edge that
// runs back up, and the check does catch one planted on purpose.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { importEdges, readSources, violations } from '../scripts/import-graph.mjs';

const SRC = fileURLToPath(new URL('../src', import.meta.url));

test('src/ has no import that runs back up the layers', () => {
  const edges = importEdges(readSources(SRC));
  assert.ok(edges.size > 20, `${edges.size} edges between folders`);
  assert.deepEqual(violations(edges), []);
  // The edges this check exists for, one per layer boundary that once ran the wrong way.
  for (const forbidden of ['format -> io', 'segment -> log', 'recovery -> log', 'sim -> writer', 'io -> writer']) {
    assert.equal(edges.has(forbidden), false, forbidden);
  }
});

test('a planted back edge is reported, with the file that makes it', () => {
  const files = new Map([
    ['format/record.ts', "import { crc32c } from '../io/native-binding.js';\n"],
    ['io/io.ts', "import { Wal } from '../writer/wal.js';\n"],
    ['writer/wal.ts', "import { SegmentSet } from '../log/segment-set.js';\n"],
    ['nowhere/x.ts', "import { a } from '../format/record.js';\n"],
  ]);
  const bad = violations(importEdges(files));
  assert.deepEqual(bad.sort(), [
    'format -> io: runs back up the layers (format/record.ts)',
    'io -> writer: runs back up the layers (io/io.ts)',
    'nowhere -> format: a folder outside the layers (nowhere/x.ts)',
  ]);
});

test('docs/design.md draws the layers in the order the check enforces', async () => {
  const { LAYERS } = await import('../scripts/import-graph.mjs');
  const fs = await import('node:fs');
  const design = fs.readFileSync(new URL('../docs/design.md', import.meta.url), 'utf8');
  assert.ok(design.includes(`layers: ${LAYERS.map((l) => l.join(' ')).join(' → ')}`), 'the layer line of docs/design.md matches LAYERS');
});
