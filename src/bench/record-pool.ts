import { randomFillSync } from 'node:crypto';

/**
 * 1024 distinct records are enough to defeat compression and deduplication in any store under
 * test (LevelDB compresses with Snappy) while costing at most 4 MiB for 4 KiB records.
 */
export const recordPoolCount = 1024;

/**
 * Random records made once, before the clock starts, so that no workload allocates or fills a
 * payload on its hot path. Records are handed out in turn; a store must copy what it keeps.
 */
export class RecordPool {
  private readonly records: Uint8Array[] = [];
  private next = 0;

  constructor(readonly recordSizeBytes: number) {
    if (!(Number.isInteger(recordSizeBytes) && recordSizeBytes > 0)) {
      throw new RangeError(`record size must be a positive integer, got ${recordSizeBytes}`);
    }
    const backing = randomFillSync(new Uint8Array(recordSizeBytes * recordPoolCount));
    for (let i = 0; i < recordPoolCount; i++) {
      this.records.push(backing.subarray(i * recordSizeBytes, (i + 1) * recordSizeBytes));
    }
  }

  take(): Uint8Array {
    const record = this.records[this.next]!;
    this.next = (this.next + 1) % recordPoolCount;
    return record;
  }
}
