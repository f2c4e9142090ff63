// Test directories live under os.tmpdir(), which is ext4 on the machines ringwal targets; a test
// that needs O_DIRECT checks `wal.directIo` rather than assuming it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

/** Directories a test's own cleanup could not remove yet; removed once the file's tests are done. */
const leftoverDirs = new Set();
after(() => {
  for (const dir of leftoverDirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * A fresh directory, removed after the test. A test's `after` hooks run in the order they were
 * registered, so this removal usually runs before the `wal.close()` a test registers later: a log
 * still open may create its next segment while the tree is being removed (ENOTEMPTY). Such a
 * directory is retried, then left to the file-level hook, which runs after every test has closed
 * its logs.
 */
export function tempDir(t, prefix = 'ringwal-') {
  const dir = mkdtempSync(prefix.startsWith('/') ? prefix : join(tmpdir(), prefix));
  t.after(() => {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 20 });
    } catch (err) {
      if (/** @type {NodeJS.ErrnoException} */ (err).code !== 'ENOTEMPTY') throw err;
      leftoverDirs.add(dir);
    }
  });
  return dir;
}

export { payloadFor } from './payload.mjs';

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
