/**
 * The error tree of ringwal: one base class, one stable `code` per subclass.
 *
 * Codes are part of the public API and never change meaning. Callers branch on `err.code`
 * (or `instanceof`), never on the message text.
 */
import assert from 'node:assert/strict';
import { constants as osConstants } from 'node:os';

export const ErrorCode = {
  INVALID_ARGUMENT: 'WAL_ERR_INVALID_ARGUMENT',
  PAYLOAD_TOO_LARGE: 'WAL_ERR_PAYLOAD_TOO_LARGE',
  CLOSED: 'WAL_ERR_CLOSED',
  DURABILITY_LOST: 'WAL_ERR_DURABILITY_LOST',
  CORRUPT: 'WAL_ERR_CORRUPT',
  IO: 'WAL_ERR_IO',
  DIRECT_IO_UNSUPPORTED: 'WAL_ERR_DIRECT_IO_UNSUPPORTED',
  LOCKED: 'WAL_ERR_LOCKED',
  OVERLOADED: 'WAL_ERR_OVERLOADED',
  UNSUPPORTED_FORMAT: 'WAL_ERR_UNSUPPORTED_FORMAT',
  BACKEND_UNAVAILABLE: 'WAL_ERR_BACKEND_UNAVAILABLE',
  READ_INVALIDATED: 'WAL_ERR_READ_INVALIDATED',
  NO_SPACE: 'WAL_ERR_NO_SPACE',
  UNKNOWN_REQUIRED_TYPE: 'WAL_ERR_UNKNOWN_REQUIRED_TYPE',
  KEY_FILE: 'WAL_ERR_KEY_FILE',
  KEY_MISSING: 'WAL_ERR_KEY_MISSING',
  AUTH: 'WAL_ERR_AUTH',
  CUT_PENDING: 'WAL_ERR_CUT_PENDING',
  ABORTED: 'WAL_ERR_ABORTED',
  ADDON_MISSING: 'WAL_ERR_ADDON_MISSING',
} as const;

export type ErrorCodeName = (typeof ErrorCode)[keyof typeof ErrorCode];

export class WalError extends Error {
  readonly code: ErrorCodeName;

  constructor(code: ErrorCodeName, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A bad option or argument: wrong type, out of range, unknown name. A programmer error. */
export class WalInvalidArgumentError extends WalError {
  readonly argument: string;

  constructor(argument: string, message: string) {
    super(ErrorCode.INVALID_ARGUMENT, `${argument}: ${message}`);
    this.argument = argument;
  }
}

export class WalPayloadTooLargeError extends WalError {
  readonly sizeBytes: number;
  readonly bytesMax: number;

  constructor(sizeBytes: number, bytesMax: number) {
    super(ErrorCode.PAYLOAD_TOO_LARGE, `payload of ${sizeBytes} bytes exceeds the limit of ${bytesMax} bytes`);
    this.sizeBytes = sizeBytes;
    this.bytesMax = bytesMax;
  }
}

export class WalClosedError extends WalError {
  constructor() {
    super(ErrorCode.CLOSED, 'the log is closed');
  }
}

/**
 * A write or a sync failed earlier, so what is on disk is no longer known. The log refuses
 * every call until it is closed and opened again, which re-reads the disk (an fsync is never
 * retried: after a failed fsync the kernel may have dropped the dirty data).
 */
export class WalDurabilityLostError extends WalError {
  constructor(cause: unknown) {
    super(ErrorCode.DURABILITY_LOST, 'a write or sync failed earlier; close and reopen the log', { cause });
  }
}

/** Damage that recovery or a reader cannot repair: the log is not what was acknowledged. */
export class WalCorruptionError extends WalError {
  readonly path: string;
  readonly offsetBytes: number;
  readonly lsn: number | undefined;

  constructor(path: string, offsetBytes: number, detail: string, lsn?: number) {
    super(ErrorCode.CORRUPT, `${path} at offset ${offsetBytes}: ${detail}`);
    this.path = path;
    this.offsetBytes = offsetBytes;
    this.lsn = lsn;
  }
}

/**
 * The fields an error that comes from a system call carries, as Node's own system errors have
 * them except for `code`, which is ringwal's stable code: `errno` is the negative number (-28),
 * `errnoName` the name Node puts in `code` (`ENOSPC`), `syscall` the call that failed, `path` the
 * file it was on when there is one.
 */
export interface SystemErrorFields {
  readonly errno: number;
  readonly errnoName: string;
  readonly syscall: string;
  readonly path: string | undefined;
}

/** What a system error is built from: the errno name, the call and its file. */
export interface SystemErrorSource {
  errnoName: string;
  syscall: string;
  path?: string | undefined;
}

const ERRNO_BY_NAME = osConstants.errno as Readonly<Record<string, number | undefined>>;
/** The name ringwal gives an errno Node has no name for (native-binding.ts errnoName). */
const UNNAMED_ERRNO = /^ERRNO_(\d+)$/;

/** Node's errno for an errno name: negative, as `err.errno` of Node's own errors (`ENOSPC` → -28). */
export function errnoNumberOf(name: string): number {
  const value = ERRNO_BY_NAME[name];
  if (value !== undefined) return -value;
  const unnamed = UNNAMED_ERRNO.exec(name);
  assert(unnamed !== null, `${name} is not an errno name`);
  return -Number(unnamed[1]);
}

/** An operating-system I/O error: Node's system-error fields (SystemErrorFields) beside `code`. */
export class WalIoError extends WalError implements SystemErrorFields {
  readonly errno: number;
  readonly errnoName: string;
  readonly syscall: string;
  readonly path: string | undefined;

  /** `cause`: Node's own error, when the call went through node:fs (native calls return an errno). */
  constructor(errnoName: string, syscall: string, path?: string, options?: { cause?: unknown }) {
    super(ErrorCode.IO, `${syscall} failed with ${errnoName}${path === undefined ? '' : ` on ${path}`}`, options);
    this.errno = errnoNumberOf(errnoName);
    this.errnoName = errnoName;
    this.syscall = syscall;
    this.path = path;
  }
}

/** O_DIRECT was required, and the open (EINVAL) or the file's alignment (statx) refused it. */
export class WalDirectIoUnsupportedError extends WalError implements SystemErrorFields {
  readonly errno: number;
  readonly errnoName: string;
  readonly syscall: string;
  readonly path: string;

  constructor(path: string, errnoName: string, syscall: string) {
    super(
      ErrorCode.DIRECT_IO_UNSUPPORTED,
      `O_DIRECT is required but ${path} does not support it (${syscall}: ${errnoName}); open with directIo: 'off' or 'auto' there`,
    );
    this.errno = errnoNumberOf(errnoName);
    this.errnoName = errnoName;
    this.syscall = syscall;
    this.path = path;
  }
}

/**
 * A read-only open found a truncateAfter in progress (or interrupted by a crash): what the log
 * holds is known only once the writer finishes it, or a read-write open does. Try again.
 */
export class WalCutPendingError extends WalError {
  readonly path: string;

  constructor(path: string) {
    super(
      ErrorCode.CUT_PENDING,
      `${path}: a truncateAfter is in progress or was interrupted; a read-only open cannot read the log until the writer (or a read-write open) finishes it`,
    );
    this.path = path;
  }
}

/** Another process (or another open log in this process) holds the directory. */
export class WalLockedError extends WalError {
  readonly path: string;

  constructor(path: string) {
    super(ErrorCode.LOCKED, `${path} is locked by another open log`);
    this.path = path;
  }
}

/**
 * More appends (or more payload bytes) are waiting than `pendingAppendsMax` (`pendingBytesMax`)
 * allows: the caller must slow down.
 */
export class WalOverloadedError extends WalError {
  readonly pendingAppendsMax: number;
  readonly pendingBytesMax: number;

  constructor(pendingAppendsMax: number, pendingBytesMax: number) {
    super(ErrorCode.OVERLOADED, `more than ${pendingAppendsMax} appends or ${pendingBytesMax} bytes are waiting for a batch`);
    this.pendingAppendsMax = pendingAppendsMax;
    this.pendingBytesMax = pendingBytesMax;
  }
}

export class WalUnsupportedFormatError extends WalError {
  readonly path: string;

  constructor(path: string, detail: string) {
    super(ErrorCode.UNSUPPORTED_FORMAT, `${path}: ${detail}`);
    this.path = path;
  }
}

/**
 * The backend asked for cannot run here: io_uring disabled by sysctl or missing operations, or the
 * native addon itself not loadable (`backend` is then 'native').
 */
export class WalBackendUnavailableError extends WalError {
  readonly backend: string;

  constructor(backend: string, why: string, options?: { cause?: unknown }) {
    super(ErrorCode.BACKEND_UNAVAILABLE, `backend ${backend} is unavailable here (${why})`, options);
    this.backend = backend;
  }
}

/**
 * A truncation changed the part of the log a reader was reading (truncateAfter cut records it
 * may have yielded, or truncateBefore removed a segment it had not opened yet). Start a new read.
 */
export class WalReadInvalidatedError extends WalError {
  constructor(detail: string) {
    super(ErrorCode.READ_INVALIDATED, `the log was truncated while this reader was reading: ${detail}`);
  }
}

/**
 * The next segment could not be made for lack of space (ENOSPC or EDQUOT), so this append could
 * not be written. Nothing else failed: the log keeps running, records already acknowledged stay,
 * and the next append tries again (free space first, for instance with truncateBefore).
 * For appendBatch, `accepted` says which records of the batch were taken before space ran out
 * (they are in the log and become durable like any other), or null when none was.
 */
export class WalNoSpaceError extends WalError implements SystemErrorFields {
  readonly errno: number;
  readonly errnoName: string;
  readonly syscall: string;
  readonly path: string | undefined;
  readonly accepted: { firstLsn: number; lastLsn: number } | null;

  /** `source`: the failed call (the WalIoError it was, which is then the `cause`). */
  constructor(source: SystemErrorSource, accepted: { firstLsn: number; lastLsn: number } | null = null, options?: { cause?: unknown }) {
    const { errnoName, syscall, path } = source;
    super(
      ErrorCode.NO_SPACE,
      `no space for the next segment (${syscall}: ${errnoName}${path === undefined ? '' : ` on ${path}`}); free space and append again`,
      options,
    );
    this.errno = errnoNumberOf(errnoName);
    this.errnoName = errnoName;
    this.syscall = syscall;
    this.path = path;
    this.accepted = accepted;
  }
}

/** Whether `err` is a system error of a full disk or file system quota (ENOSPC, EDQUOT). */
export function isNoSpaceErrno(err: unknown): boolean {
  if (!(err instanceof WalError) || !('errnoName' in err)) return false;
  return err.errnoName === 'ENOSPC' || err.errnoName === 'EDQUOT';
}

/**
 * A read with `knownTypes` met a record whose type it does not list and whose required bit (bit 15,
 * 0x8000) is set: replaying past it would silently drop something the writer said must not be
 * skipped. Nothing after it was yielded.
 */
export class WalUnknownRequiredTypeError extends WalError {
  readonly lsn: number;
  readonly type: number;

  constructor(lsn: number, type: number) {
    super(ErrorCode.UNKNOWN_REQUIRED_TYPE, `record LSN ${lsn} has type 0x${type.toString(16)}, which is required (bit 15) and not among knownTypes`);
    this.lsn = lsn;
    this.type = type;
  }
}

/**
 * The rules a key file must keep (docs/encryption.md "Keys"), in the order they are checked:
 * not a symbolic link; a regular file; owned by this process's user; no group or world permission
 * bits; exactly 32 bytes; and readable (`unreadable`: open, stat or read failed, `errnoName` says how).
 */
export type KeyFileRule = 'symlink' | 'not-regular-file' | 'owner' | 'permissions' | 'size' | 'unreadable';

/**
 * A key file that breaks a rule. The message names the file and the rule, never a byte of it.
 * An `unreadable` one carries the failed call as Node's system errors do (SystemErrorFields).
 */
export class WalKeyFileError extends WalError {
  readonly path: string;
  readonly rule: KeyFileRule;
  /** For `unreadable`: Node's negative errno (-2). */
  readonly errno: number | undefined;
  /** For `unreadable`: the errno name (`ENOENT`, `EACCES`). */
  readonly errnoName: string | undefined;
  /** For `unreadable`: the call that failed (`lstat`, `open`, `fstat`, `read`). */
  readonly syscall: string | undefined;

  /** `failed`: for `unreadable`, the call that failed, and Node's error as `cause`. */
  constructor(path: string, rule: KeyFileRule, detail: string, failed?: { errnoName: string; syscall: string; cause: unknown }) {
    super(ErrorCode.KEY_FILE, `key file ${path} is refused (${rule}): ${detail}`, failed === undefined ? undefined : { cause: failed.cause });
    this.path = path;
    this.rule = rule;
    this.errno = failed === undefined ? undefined : errnoNumberOf(failed.errnoName);
    this.errnoName = failed?.errnoName;
    this.syscall = failed?.syscall;
  }
}

/** No key with this id was given: a segment (`path`) names it, or a caller asked for it. */
export class WalKeyMissingError extends WalError {
  readonly keyId: number;
  readonly path: string | undefined;

  constructor(keyId: number, path?: string) {
    super(ErrorCode.KEY_MISSING, `no key with key id ${keyId} was given${path === undefined ? '' : ` (${path} is encrypted under it)`}`);
    this.keyId = keyId;
    this.path = path;
  }
}

/**
 * A record whose CRC holds but whose AES-GCM tag does not: it was changed by someone who could
 * recompute the CRC, or it is read with a wrong key. Never taken for the end of the log.
 */
export class WalAuthError extends WalError {
  readonly path: string;
  readonly lsn: number;

  /** `reason` replaces the default message's cause (a segment whose key check fails names the key id). */
  constructor(path: string, lsn: number, reason?: string) {
    super(ErrorCode.AUTH, reason === undefined ? `record LSN ${lsn} in ${path} fails authentication (tampered, or a wrong key)` : `${path}: ${reason}`);
    this.path = path;
    this.lsn = lsn;
  }
}

/**
 * A read whose `signal` aborted. Shaped as Node's own AbortError (`name` 'AbortError', the
 * signal's `reason` as `cause`), so code that tells an abort from a failure by its name works;
 * `code` is ringwal's, as on every WalError.
 */
export class WalAbortError extends WalError {
  constructor(reason: unknown) {
    super(ErrorCode.ABORTED, 'the read was aborted', { cause: reason });
    this.name = 'AbortError';
  }
}

/**
 * The C addon was never built, or its build was removed: `npm install` did not run its install
 * script (npm 11 runs only approved ones), or the build failed for want of a toolchain.
 */
export class WalAddonMissingError extends WalError {
  readonly path: string;

  constructor(path: string, options?: { cause?: unknown }) {
    super(
      ErrorCode.ADDON_MISSING,
      `ringwal's native addon ${path} is not built: run \`npm rebuild ringwal\`, which needs g++, make and python3; ` +
        `npm 11 skips install scripts it was not told to run, so approve ringwal's first (\`npm install-scripts approve ringwal\`)`,
      options,
    );
    this.path = path;
  }
}
