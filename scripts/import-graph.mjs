#!/usr/bin/env node
// The import graph between the folders of src/, checked against the layer order of
// docs/design.md ("Layers"): a folder may import only from folders before it. Prints the graph and
// exits 1 on an edge that runs back up.
//
//   node scripts/import-graph.mjs            the graph of src/, and its violations
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The layers, first to last; a folder imports only from folders of earlier layers (and itself). */
export const LAYERS = [
  ['errors'], // src/errors.ts: the error tree, imports nothing of ringwal
  ['format'], // every on-disk layout, pure
  ['io'], // the I/O interface and the native implementation
  ['sim'], // the simulated implementation of the I/O interface
  ['crypto'], // key material: master keys, key files, the key ring, segment data keys
  ['segment'], // one segment file, the double-write buffer
  ['read'], // the scanner and the log reader
  ['recovery'],
  ['log'], // the segment set: the directory, rollover, truncation, the intent
  ['writer'], // group commit, Wal, its options
  ['bench'], // workloads built on Wal
  ['cli'],
  ['index'], // src/index.ts: the public entry
];

const IMPORT = /^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm;

/** The folder of a file under src/: its first directory, or the file's own name at the top. */
export function folderOf(relativePath) {
  const parts = relativePath.split(path.sep).join('/').split('/');
  return parts.length > 1 ? parts[0] : parts[0].replace(/\.(ts|js)$/, '');
}

/** Edges between folders, from `files`: a map of src-relative paths to their source text. */
export function importEdges(files) {
  const edges = new Map();
  for (const [file, source] of files) {
    const from = folderOf(file);
    for (const match of source.matchAll(IMPORT)) {
      const target = match[1];
      if (!target.startsWith('.')) continue;
      const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(file.split(path.sep).join('/')), target));
      if (resolved.startsWith('..')) throw new Error(`${file} imports ${target}, outside src/`);
      const to = folderOf(resolved);
      if (to === from) continue;
      const key = `${from} -> ${to}`;
      edges.set(key, (edges.get(key) ?? []).concat(file));
    }
  }
  return edges;
}

/** The edges that break the layer order (or name a folder no layer holds). */
export function violations(edges) {
  const rank = new Map();
  LAYERS.forEach((layer, i) => layer.forEach((folder) => rank.set(folder, i)));
  const bad = [];
  for (const [key, files] of edges) {
    const [from, to] = key.split(' -> ');
    if (!rank.has(from) || !rank.has(to)) bad.push(`${key}: a folder outside the layers (${files[0]})`);
    else if (rank.get(to) >= rank.get(from)) bad.push(`${key}: runs back up the layers (${[...new Set(files)].join(', ')})`);
  }
  return bad;
}

export function readSources(srcDir) {
  const files = new Map();
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts')) files.set(path.relative(srcDir, full), fs.readFileSync(full, 'utf8'));
    }
  };
  walk(srcDir);
  return files;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const srcDir = fileURLToPath(new URL('../src', import.meta.url));
  const edges = importEdges(readSources(srcDir));
  const order = LAYERS.flat();
  const sorted = [...edges.keys()].sort((a, b) => {
    const [fa, ta] = a.split(' -> ');
    const [fb, tb] = b.split(' -> ');
    return order.indexOf(fa) - order.indexOf(fb) || order.indexOf(ta) - order.indexOf(tb);
  });
  console.log(`layers: ${LAYERS.map((l) => l.join(' ')).join(' → ')}`);
  for (const key of sorted) console.log(`  ${key}  (${new Set(edges.get(key)).size} files)`);
  const bad = violations(edges);
  for (const v of bad) console.error(`BACK EDGE ${v}`);
  process.exitCode = bad.length === 0 ? 0 : 1;
}
