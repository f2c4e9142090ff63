// Collects the appends of one event-loop turn and hands them to `commit` as one group on the next
// turn (setImmediate), then settles every promise of the group. This is how a store without a
// group commit of its own is given one; `commit` may be synchronous (better-sqlite3) or return a
// promise (classic-level).
export class TurnQueue {
  #pending = [];
  #scheduled = false;

  constructor(commit) {
    this.commit = commit;
  }

  push(payload) {
    return new Promise((resolve, reject) => {
      this.#pending.push({ payload, resolve, reject });
      this.#schedule();
    });
  }

  pushAll(payloads) {
    return new Promise((resolve, reject) => {
      // One entry whose payload is an array keeps a batch atomic inside its group.
      this.#pending.push({ payloads, resolve, reject });
      this.#schedule();
    });
  }

  #schedule() {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.#flush());
  }

  async #flush() {
    this.#scheduled = false;
    const group = this.#pending;
    this.#pending = [];
    const payloads = [];
    for (const entry of group) {
      if (entry.payloads === undefined) payloads.push(entry.payload);
      else for (const payload of entry.payloads) payloads.push(payload);
    }
    try {
      await this.commit(payloads);
    } catch (error) {
      for (const entry of group) entry.reject(error);
      return;
    }
    for (const entry of group) entry.resolve();
  }
}
