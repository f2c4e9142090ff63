import { open as openFile, write, fdatasync, close } from 'node:fs';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';
import { join } from 'node:path';

const writeAsync = promisify(write);
const fdatasyncAsync = promisify(fdatasync);

// Each record is framed as [length u32][crc32 u32][payload], the least a log needs to find torn
// records on recovery, so this baseline pays for framing as a real WAL does.
const frameHeaderBytes = 8;
// A group is cut at 64 MiB: larger writes gain no bandwidth and only hold memory.
const groupBytesMax = 64 * 1024 * 1024;

// The simplest group commit one can write with node:fs: appends accumulate in memory; at most one
// write + fdatasync is in flight; everything that arrives meanwhile forms the next group. It does
// not preallocate the file, so each fdatasync also commits the new file size to the ext4 journal.
export async function open(dir) {
  const fd = await promisify(openFile)(join(dir, 'log'), 'wx');
  let pending = [];
  let pendingBytes = 0;
  let positionBytes = 0;
  let busy = false;

  const enqueue = (payloads, resolve, reject) => {
    let bytes = 0;
    for (const payload of payloads) bytes += frameHeaderBytes + payload.byteLength;
    pending.push({ payloads, bytes, resolve, reject });
    pendingBytes += bytes;
    // The first append of an idle log waits one turn so that the rest of the turn can join it.
    if (!busy) {
      busy = true;
      setImmediate(flush);
    }
  };

  const flush = async () => {
    let group = pending;
    let groupBytes = pendingBytes;
    if (groupBytes > groupBytesMax) {
      let cut = 0;
      groupBytes = 0;
      while (cut < group.length && (cut === 0 || groupBytes + group[cut].bytes <= groupBytesMax)) groupBytes += group[cut++].bytes;
      pending = group.slice(cut);
      group = group.slice(0, cut);
    } else {
      pending = [];
    }
    pendingBytes -= groupBytes;
    const buffer = Buffer.allocUnsafe(groupBytes);
    let offset = 0;
    for (const entry of group) {
      for (const payload of entry.payloads) {
        buffer.writeUInt32LE(payload.byteLength, offset);
        buffer.writeUInt32LE(crc32(payload), offset + 4);
        buffer.set(payload, offset + frameHeaderBytes);
        offset += frameHeaderBytes + payload.byteLength;
      }
    }
    try {
      let writtenBytes = 0;
      // pwrite may be short; loop until the group is in the file.
      while (writtenBytes < groupBytes) {
        const { bytesWritten } = await writeAsync(fd, buffer, writtenBytes, groupBytes - writtenBytes, positionBytes + writtenBytes);
        writtenBytes += bytesWritten;
      }
      await fdatasyncAsync(fd);
      positionBytes += groupBytes;
      for (const entry of group) entry.resolve();
    } catch (error) {
      for (const entry of group) entry.reject(error);
    }
    if (pending.length > 0) flush();
    else busy = false;
  };

  return {
    adapter: {
      append: (payload) => new Promise((resolve, reject) => enqueue([payload], resolve, reject)),
      appendBatch: (payloads) => new Promise((resolve, reject) => enqueue(payloads, resolve, reject)),
    },
    info: { framing: 'u32 length + crc32 per record' },
    close: () => promisify(close)(fd),
  };
}
