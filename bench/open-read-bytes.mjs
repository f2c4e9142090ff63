#!/usr/bin/env node
// How many bytes Wal.open reads to open a log of one record, for several segment sizes: the cost
// of an open should follow the records, not the preallocated size of the segment.
//
//   node bench/open-read-bytes.mjs                 this checkout's dist/
//   node bench/open-read-bytes.mjs --dist DIR      another build (an older commit's dist/, say)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { hookedIo } from '../test/helpers/hooked-io.mjs';

const { values } = parseArgs({ options: { dist: { type: 'string', default: new URL('../dist', import.meta.url).pathname } } });
const { NativeIo, Wal } = await import(pathToFileURL(path.join(path.resolve(values.dist), 'index.js')).href);
const MIB = 1024 * 1024;

for (const segmentMib of [64, 256, 1024]) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringwal-open-bytes-'));
  try {
    const options = { segmentSizeBytes: segmentMib * MIB };
    let wal = await Wal.open(dir, options);
    await wal.append(Buffer.from('one'));
    await wal.close();
    const io = hookedIo(NativeIo.create({ backend: 'io_uring', syncMethod: 'linked-fdatasync', queueDepth: 64 }));
    const startMs = performance.now();
    wal = await Wal.open(dir, { ...options, io });
    const openMs = performance.now() - startMs;
    console.log(`${segmentMib} MiB segment: open read ${(io.stats.bytesRead / MIB).toFixed(2)} MiB in ${io.stats.reads} reads, ${openMs.toFixed(1)} ms`);
    await wal.close();
    await io.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
