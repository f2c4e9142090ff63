/**
 * What a workload needs from a store. Every system in the comparison (ringwal, its peers and the
 * hand-written fs baseline) is wrapped in this one shape, so every one runs the same protocol.
 * A returned promise must resolve only once the record is durable.
 */
export interface AppendAdapter {
  append(payload: Uint8Array): Promise<unknown>;
  /** One native batch when the store has one; otherwise the workload appends the records one by one. */
  appendBatch?(payloads: Uint8Array[]): Promise<unknown>;
}
