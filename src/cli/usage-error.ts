/** A mistake in the command line: reported in one line with a pointer to --help, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';

  /** `helpCommand` is the command whose --help explains the mistake. */
  constructor(
    message: string,
    readonly helpCommand = 'ringwal',
  ) {
    super(message);
  }
}

export const usageExitCode = 2;

/** Turns node:util parseArgs failures (unknown flag, missing value) into a UsageError. */
export function asUsageError(error: unknown, helpCommand: string): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) return new UsageError((error as Error).message, helpCommand);
  return error;
}
