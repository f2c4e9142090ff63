/**
 * Named points between the steps of ringwal's multi-step durability procedures (rollover,
 * truncation), where a test can make the process die with SIGKILL and then check that recovery
 * handles exactly that state. The etcd and nodedb-wal "failpoint" idea, kept minimal.
 *
 * Armed only by the environment of a child process a test starts:
 *   RINGWAL_CRASH_POINT=<name>        die at this point
 *   RINGWAL_CRASH_POINT_HIT=<n>       on its n-th hit (default 1)
 * Unarmed, each point costs one comparison with `undefined`.
 */
const armedName: string | undefined = process.env.RINGWAL_CRASH_POINT;
let hitsLeft = Number(process.env.RINGWAL_CRASH_POINT_HIT ?? '1');

export type CrashPointName =
  | 'roll.sealed'
  | 'roll.renamed'
  | 'roll.named'
  | 'open.write-max-raised'
  | 'encrypt.sealed'
  | 'encrypt.resalted'
  | 'recover.torn-copied'
  | 'recover.torn-quarantined'
  | 'truncate-before.unlinked'
  | 'truncate-after.intent'
  | 'truncate-after.unlinked'
  | 'truncate-after.reincarnated'
  | 'truncate-after.zeroed'
  | 'truncate-after.copied'
  | 'truncate-after.replaced'
  | 'truncate-after.cleared';

export function crashPoint(name: CrashPointName): void {
  if (armedName === undefined || armedName !== name) return;
  hitsLeft -= 1;
  if (hitsLeft > 0) return;
  process.kill(process.pid, 'SIGKILL');
}
