import { readFileSync } from 'node:fs';

export interface PageCacheChange {
  /** Change of `Cached:` in /proc/meminfo over the run, in megabytes (10^6 bytes). */
  deltaMb: number;
  /** That change per gigabyte (10^9 bytes) of payload written: about 1000 for a store that leaves everything it writes in the cache, about 0 for O_DIRECT. */
  mbPerGbWritten: number;
}

const cachedLine = /^Cached:\s+(\d+) kB$/m;

/**
 * The page cache size in bytes, or undefined where /proc/meminfo is missing. /proc/meminfo says
 * "kB" but means KiB.
 */
export function readPageCacheBytes(meminfo?: string): number | undefined {
  let text = meminfo;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/meminfo', 'utf8');
    } catch {
      return undefined;
    }
  }
  const match = cachedLine.exec(text);
  return match === null ? undefined : Number(match[1]) * 1024;
}

/**
 * The system-wide change is a probe, not an exact account: other processes move the page cache
 * too, so read small values as "about zero".
 */
export function pageCacheChange(beforeBytes: number | undefined, afterBytes: number | undefined, payloadBytesWritten: number): PageCacheChange | undefined {
  if (beforeBytes === undefined || afterBytes === undefined) return undefined;
  const deltaMb = (afterBytes - beforeBytes) / 1e6;
  const writtenGb = payloadBytesWritten / 1e9;
  return { deltaMb, mbPerGbWritten: writtenGb > 0 ? deltaMb / writtenGb : 0 };
}
