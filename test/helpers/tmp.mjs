// Test directories live under os.tmpdir(), which is ext4 on the machines ringwal targets; a test
// that needs O_DIRECT checks `wal.directIo` rather than assuming it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function tempDir(t, prefix = 'ringwal-') {
  const dir = mkdtempSync(prefix.startsWith('/') ? prefix : join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A payload that says which record it is, so a read-back can check every byte. */
export function payloadFor(i, sizeBytes = 16 + ((i * 37) % 300)) {
  const b = Buffer.alloc(sizeBytes);
  for (let k = 0; k < sizeBytes; k++) b[k] = (i * 131 + k * 7) & 0xff;
  if (sizeBytes >= 4) b.writeUInt32LE(i >>> 0, 0);
  return b;
}

/** @type {readonly ('io_uring' | 'threadpool')[]} */
export const BACKENDS = ['io_uring', 'threadpool'];

/**
 * The next record of a reader; fails the test if the reader has ended.
 * @param {AsyncIterator<import('../../dist/index.js').WalRecord>} iterator
 * @returns {Promise<import('../../dist/index.js').WalRecord>}
 */
export async function nextRecord(iterator) {
  const next = await iterator.next();
  if (next.done === true) assert.fail('the reader ended before a record');
  return next.value;
}
