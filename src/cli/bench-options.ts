import { parseArgs } from 'node:util';
import { producersMax, recordsMax, durationMsMax, openLoopSendsMax } from '../bench/limits.js';
import { workloadKinds } from '../bench/suite.js';
import type { WorkloadKind } from '../bench/workload-result.js';
import { UsageError, asUsageError } from './usage-error.js';
import { KEY_ID_MAX } from '../crypto/constants.js';

export const benchDirDefault = 'ringwal-bench-data';
const helpCommand = 'ringwal bench';

const backends = ['auto', 'io_uring', 'threadpool'] as const;
const directIoModes = ['auto', 'required', 'off'] as const;
const syncMethods = ['linked-fdatasync', 'rwf-dsync'] as const;

export interface BenchOptions {
  help: boolean;
  dir: string;
  json: boolean;
  quick: boolean;
  kinds: WorkloadKind[];
  producers: number[] | undefined;
  recordsMax: number | undefined;
  durationMs: number | undefined;
  ratePerS: number | undefined;
  backend: (typeof backends)[number];
  directIo: (typeof directIoModes)[number];
  syncMethod: (typeof syncMethods)[number];
  /** Run every workload on an encrypted log under this key file (docs/encryption.md "Keys"), or plaintext. */
  keyFile: string | undefined;
  keyId: number;
}

export const benchUsage = `usage: ringwal bench [options]

Appends to a fresh on-disk WAL and reports throughput, latency and the page-cache change.
By default it runs the closed loop with 1 (for 5 s), 256 and 4096 producers (1,000,000 records
of 128 B each, at most 15 s), the open loop at 100,000 records/s for 5 s, and bulk appends of
256 × 4 KiB per batch (1 GiB, at most 15 s).

In the same run it measures what to read those rows against, and prints the ratios:
  - the harness ceiling: the same workloads against a null store that resolves every append on
    the next tick and keeps nothing (what this Node process itself can do);
  - the disk's limits under --dir, with O_DIRECT: 4 KiB write + fdatasync one at a time (rate,
    p99), 1 MiB write + fdatasync one at a time (MB/s) and 1 MiB writes with four in flight and
    one fdatasync at the end (MB/s), about 5 s (1 s with --quick);
  - where the open loop's latency comes from: event-loop delay, GC pauses, ringwal's batches;
  - the targets; those against peers are "not measured" here (node bench/run.js runs peers).
In all about 35 s with the defaults on a disk of a few thousand syncs/s, --quick about 6 s.

options:
  --dir PATH              WAL directory, emptied before each workload and removed at the end
                          (default ./${benchDirDefault})
  --workload KIND         closed | open | bulk; repeat to pick several (default: all)
  --producers N[,N..]     closed-loop producer counts (default 1,256,4096)
  --records N             records per closed-loop run; 4 KiB records per bulk run
  --seconds S             time cap of each closed and bulk run; duration of the open loop
  --rate N                open-loop rate in records/s (default 100000)
  --quick                 small counts (20,000 records, 1-3 s per workload, 64 MiB bulk) and
                          short disk probes: shows that everything runs, measures little
  --backend B             auto | io_uring | threadpool (default auto)
  --direct-io M           auto | required | off (default auto)
  --sync-method M         linked-fdatasync | rwf-dsync (default linked-fdatasync)
  --key-file PATH         encrypt the log (AES-256-GCM) under the 32-byte key in PATH, which
                          must be a regular file of this user with mode 0600 or stricter
  --key-id N              the key's id in the segment headers (default 1)
  --json                  print one JSON object instead of the tables
  -h, --help              this text
`;

export function parseBenchArgs(argv: string[]): BenchOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      allowPositionals: false,
      strict: true,
      options: {
        dir: { type: 'string', default: benchDirDefault },
        workload: { type: 'string', multiple: true },
        producers: { type: 'string' },
        records: { type: 'string' },
        seconds: { type: 'string' },
        rate: { type: 'string' },
        backend: { type: 'string', default: 'auto' },
        'direct-io': { type: 'string', default: 'auto' },
        'sync-method': { type: 'string', default: 'linked-fdatasync' },
        'key-file': { type: 'string' },
        'key-id': { type: 'string', default: '1' },
        json: { type: 'boolean', default: false },
        quick: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    throw asUsageError(error, helpCommand);
  }
  const kinds = (values.workload ?? [...workloadKinds]).flatMap((text) => text.split(','));
  for (const kind of kinds) oneOf('--workload', kind, workloadKinds);
  const seconds = values.seconds === undefined ? undefined : positiveNumber('--seconds', values.seconds, durationMsMax / 1000);
  return {
    help: values.help,
    dir: values.dir,
    json: values.json,
    quick: values.quick,
    kinds: [...new Set(kinds)] as WorkloadKind[],
    producers: values.producers?.split(',').map((text) => integer('--producers', text, producersMax)),
    recordsMax: values.records === undefined ? undefined : integer('--records', values.records, recordsMax),
    durationMs: seconds === undefined ? undefined : Math.max(1, Math.round(seconds * 1000)),
    ratePerS: values.rate === undefined ? undefined : integer('--rate', values.rate, openLoopSendsMax),
    backend: oneOf('--backend', values.backend, backends),
    directIo: oneOf('--direct-io', values['direct-io'], directIoModes),
    syncMethod: oneOf('--sync-method', values['sync-method'], syncMethods),
    keyFile: values['key-file'],
    keyId: integer('--key-id', values['key-id'], KEY_ID_MAX),
  };
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`${flag} must be one of ${allowed.join(', ')}; got '${value}'`, helpCommand);
  }
  return value as T;
}

function integer(flag: string, text: string, max: number): number {
  const value = Number(text.replace(/_/g, ''));
  if (!/^[0-9_]+$/.test(text) || !Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new UsageError(`${flag} must be an integer from 1 to ${max}; got '${text}'`, helpCommand);
  }
  return value;
}

function positiveNumber(flag: string, text: string, max: number): number {
  const value = Number(text);
  if (text.trim() === '' || !(value > 0 && value <= max)) {
    throw new UsageError(`${flag} must be a number above 0 and at most ${max}; got '${text}'`, helpCommand);
  }
  return value;
}
