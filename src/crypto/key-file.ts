/**
 * Reading a master key from a file, refusing one that others could have read or replaced
 * (docs/encryption.md "Keys"). The rules, in the order they are checked, each a WalKeyFileError
 * naming it:
 *
 *   1. `symlink`: the path's last component is a symbolic link (lstat), or became one before the
 *      open (O_NOFOLLOW answers ELOOP), so no link can redirect the read to another file.
 *   2. `not-regular-file`: a directory, a FIFO, a device.
 *   3. `owner`: not owned by this process's user.
 *   4. `permissions`: any group or world permission bit set (mode & 0o077).
 *   5. `size`: not exactly 32 bytes (or a different size by the time it is read).
 *   6. `unreadable`: lstat, open, fstat or read failed; `errnoName` and `syscall` say how.
 *
 * Rules 2 to 5 are checked on the open descriptor (fstat), so they hold for the file that is read,
 * even if the path is renamed over after the lstat. Directories above the file may be links.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { WalKeyFileError } from '../errors.js';
import { MASTER_KEY_BYTES } from './constants.js';

/** Group and world permission bits: any of them lets another user read or change the key. */
const GROUP_WORLD_MODE_BITS = 0o077;
const PERMISSION_BITS = 0o7777;

function unreadable(path: string, err: unknown, syscall: string): WalKeyFileError {
  // A failure without an errno (a Node check, not a system call) counts as EIO; its cause says what it was.
  const e = err as NodeJS.ErrnoException;
  const name = typeof e.errno === 'number' && typeof e.code === 'string' ? e.code : 'EIO';
  return new WalKeyFileError(path, 'unreadable', `${syscall} failed with ${name}`, { errnoName: name, syscall, cause: err });
}

function notRegular(path: string): WalKeyFileError {
  return new WalKeyFileError(path, 'not-regular-file', 'is not a regular file');
}

/** The file's open descriptor; the path was a regular file, not a link, when it was lstat'ed. */
function openKeyFile(path: string): number {
  let linkStats: fs.Stats;
  try {
    linkStats = fs.lstatSync(path);
  } catch (err) {
    throw unreadable(path, err, 'lstat');
  }
  if (linkStats.isSymbolicLink()) throw new WalKeyFileError(path, 'symlink', 'is a symbolic link; name the key file itself');
  if (!linkStats.isFile()) throw notRegular(path);
  try {
    // O_NONBLOCK: should a FIFO be swapped in after the lstat, the open must not wait for a writer
    // (fstat then refuses it); on a regular file the flag changes nothing.
    return fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new WalKeyFileError(path, 'symlink', 'became a symbolic link before it was opened');
    throw unreadable(path, err, 'open');
  }
}

/** Rules 2 to 5 on what `fd` is. */
function checkOpened(path: string, fd: number): void {
  let stats: fs.Stats;
  try {
    stats = fs.fstatSync(fd);
  } catch (err) {
    throw unreadable(path, err, 'fstat');
  }
  if (!stats.isFile()) throw notRegular(path);
  // ringwal runs on Linux only, where a process always has a user id.
  const uid = process.getuid?.();
  assert(uid !== undefined, 'process.getuid exists on Linux');
  if (stats.uid !== uid) throw new WalKeyFileError(path, 'owner', `is owned by uid ${stats.uid}, not by this process's user (uid ${uid})`);
  if ((stats.mode & GROUP_WORLD_MODE_BITS) !== 0) {
    const mode = (stats.mode & PERMISSION_BITS).toString(8).padStart(4, '0');
    throw new WalKeyFileError(path, 'permissions', `has mode ${mode}: group or others may use it (chmod 600 it)`);
  }
  if (stats.size !== MASTER_KEY_BYTES) throw new WalKeyFileError(path, 'size', `is ${stats.size} bytes, not ${MASTER_KEY_BYTES}`);
}

/** Reads the whole key into `bytes`; false if the file no longer holds exactly that many bytes. */
function readExactly(path: string, fd: number, bytes: Buffer): boolean {
  try {
    let doneBytes = 0;
    // Bounded: each pass reads at least a byte, or the loop ends.
    while (doneBytes < bytes.byteLength) {
      const readBytes = fs.readSync(fd, bytes, doneBytes, bytes.byteLength - doneBytes, doneBytes);
      if (readBytes === 0) return false;
      doneBytes += readBytes;
    }
    // A file that grew after the fstat is no longer the file checked.
    return fs.readSync(fd, Buffer.alloc(1), 0, 1, bytes.byteLength) === 0;
  } catch (err) {
    throw unreadable(path, err, 'read');
  }
}

/**
 * The 32 bytes of the key file at `path`, once every rule holds, in a Buffer of its own (never a
 * slice of Node's shared pool). The caller hands them to native memory and zeroes the Buffer.
 */
export function readKeyFile(path: string): Buffer {
  const fd = openKeyFile(path);
  const bytes = Buffer.alloc(MASTER_KEY_BYTES);
  try {
    checkOpened(path, fd);
    if (!readExactly(path, fd, bytes)) throw new WalKeyFileError(path, 'size', `changed size while it was read (${MASTER_KEY_BYTES} bytes expected)`);
    return bytes;
  } catch (err) {
    bytes.fill(0);
    throw err;
  } finally {
    fs.closeSync(fd);
  }
}
