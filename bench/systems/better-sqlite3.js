import Database from 'better-sqlite3';
import { join } from 'node:path';
import { packageVersion } from './package-version.js';
import { TurnQueue } from './turn-queue.js';

// WAL journal with synchronous = FULL: every commit fsyncs the WAL, so a resolved append is
// durable. better-sqlite3 is synchronous, so the appends of one event-loop turn are inserted in one
// transaction on the next turn; the commit (and its fsync) blocks the event loop meanwhile, which is
// how an application would have to use it.
export async function open(dir) {
  const db = new Database(join(dir, 'wal.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE log (lsn INTEGER PRIMARY KEY, payload BLOB NOT NULL)');
  const insert = db.prepare('INSERT INTO log (lsn, payload) VALUES (?, ?)');
  let nextLsn = 1;
  const insertAll = db.transaction((payloads) => {
    for (const payload of payloads) insert.run(nextLsn++, payload);
  });
  const queue = new TurnQueue(insertAll);
  return {
    adapter: {
      append: (payload) => queue.push(payload),
      appendBatch: (payloads) => queue.pushAll(payloads),
    },
    info: { version: packageVersion('better-sqlite3'), sqlite: db.prepare('SELECT sqlite_version() AS v').get().v },
    close: async () => db.close(),
  };
}
