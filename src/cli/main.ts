import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { benchCommand } from './bench-command.js';
import { benchUsage } from './bench-options.js';
import { processOutput, type Output } from './output.js';
import { UsageError, usageExitCode } from './usage-error.js';

const topUsage = `usage: ringwal <command> [options]

commands:
  bench     measure append throughput and latency on this machine's disk
  help      show help for a command: ringwal help <command>

options:
  -V, --version  print ringwal's version

Run 'ringwal <command> --help' for the options of a command.
`;

/** The package.json this module was installed with (from dist/cli/). */
const PACKAGE_JSON_URL = new URL('../../package.json', import.meta.url);

/** The version of the installed package: read from its package.json, the one place it is written. */
function packageVersion(): string {
  const { version } = JSON.parse(readFileSync(PACKAGE_JSON_URL, 'utf8')) as { version?: unknown };
  assert(typeof version === 'string', `${PACKAGE_JSON_URL.pathname} has no version`);
  return version;
}

const helpUsage = `usage: ringwal help [command]

Shows the help of a command, or this list of commands without one.
`;

const commandUsage: Record<string, string> = { bench: benchUsage, help: helpUsage };

/** Runs the CLI and returns its exit code: 0 done, 1 failed, 2 wrong usage. */
export async function main(argv: string[], output: Output = processOutput): Promise<number> {
  try {
    return await dispatch(argv, output);
  } catch (error) {
    if (error instanceof UsageError) {
      output.stderr.write(`ringwal: ${error.message}\nRun '${error.helpCommand} --help' for usage.\n`);
      return usageExitCode;
    }
    output.stderr.write(`ringwal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}

async function dispatch(argv: string[], output: Output): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === undefined || verb === '--help' || verb === '-h') {
    output.stdout.write(topUsage);
    return verb === undefined ? usageExitCode : 0;
  }
  if (verb === '--version' || verb === '-V') {
    if (rest.length > 0) throw new UsageError(`${verb} takes no arguments, got '${rest[0]}'`);
    output.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  switch (verb) {
    case 'bench':
      return benchCommand(rest, output);
    case 'help':
      return helpCommand(rest, output);
    default:
      throw new UsageError(verb.startsWith('-') ? `unknown option '${verb}'` : `unknown command '${verb}'`);
  }
}

function helpCommand(argv: string[], output: Output): number {
  if (argv.length === 0) {
    output.stdout.write(topUsage);
    return 0;
  }
  if (argv[0] === '--help' || argv[0] === '-h') {
    output.stdout.write(helpUsage);
    return 0;
  }
  if (argv.length > 1) throw new UsageError(`help takes one command, got ${argv.length}`);
  const usage = commandUsage[argv[0]!];
  if (usage === undefined) throw new UsageError(`unknown command '${argv[0]}'`);
  output.stdout.write(usage);
  return 0;
}
