/**
 * Warnings about where a log was opened that do not stop it but that its owner should know:
 * each a process warning (process.emitWarning, so `--no-warnings` or
 * `--disable-warning=<code>` silences it) with a stable code, given once per process per kind,
 * however many logs are opened.
 */
import { isMemoryFileSystem } from '../io/native-io.js';

/** The warnings' codes, part of the public API like the error codes. */
export const WarningCode = {
  /** The log's directory is on tmpfs or ramfs: nothing in it survives a reboot or a power loss. */
  MEMORY_FILE_SYSTEM: 'RINGWAL_MEMORY_FILE_SYSTEM',
  /** `backend: 'auto'` found io_uring unavailable: the thread pool carries the writes and syncs. */
  THREADPOOL_FALLBACK: 'RINGWAL_THREADPOOL_FALLBACK',
} as const;

const WARNING_TYPE = 'RingwalWarning';
const given = new Set<string>();

function warnOnce(code: string, message: string): void {
  if (given.has(code)) return;
  given.add(code);
  process.emitWarning(message, { type: WARNING_TYPE, code });
}

/** Warns, once per process for each, about a log in memory and about a backend that fell back. */
export async function warnAboutPlacement(dir: string, backendFallbackReason: string | null): Promise<void> {
  if (!given.has(WarningCode.MEMORY_FILE_SYSTEM) && (await isMemoryFileSystem(dir))) {
    warnOnce(
      WarningCode.MEMORY_FILE_SYSTEM,
      `the log at ${dir} is on tmpfs or ramfs: its records are acknowledged as durable but do not survive a reboot or a power loss`,
    );
  }
  if (backendFallbackReason !== null) {
    warnOnce(
      WarningCode.THREADPOOL_FALLBACK,
      `io_uring is unavailable (${backendFallbackReason}): the thread pool carries the writes and syncs, at a cost in latency; open with backend: 'threadpool' to choose it and not be warned`,
    );
  }
}
