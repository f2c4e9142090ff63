/**
 * The cells of the "where latency comes from" table, one row per system, shared by the peer
 * comparison and `ringwal bench` so that both print the same columns the same way. A value that
 * a system does not report (no stats(), no sync latency yet) is "—".
 */
import type { RuntimeDiagnostics } from './runtime-probe.js';
import type { WriterDiagnostics } from './writer-diagnostics.js';

export const latencySourcesHeader: readonly string[] = [
  'loop delay p50 µs',
  'loop delay p99 µs',
  'loop delay max µs',
  'GC count',
  'GC total ms',
  'GC max ms',
  'batches',
  'records/batch',
  'MB written',
  'sync p50 µs',
  'sync p99 µs',
  'sync max µs',
];

const absent = '—';
const whole = (value: number): string => Math.round(value).toLocaleString('en-US');
const tenths = (value: number): string => value.toFixed(1);

export function latencySourcesCells(runtime: RuntimeDiagnostics | undefined, writer: WriterDiagnostics | undefined): string[] {
  const delay = runtime?.eventLoopDelay;
  const gc = runtime?.gc;
  const sync = writer?.syncLatency;
  return [
    delay === undefined ? absent : whole(delay.p50Us),
    delay === undefined ? absent : whole(delay.p99Us),
    delay === undefined ? absent : whole(delay.maxUs),
    gc === undefined ? absent : whole(gc.count),
    gc === undefined ? absent : tenths(gc.pauseMsTotal),
    gc === undefined ? absent : tenths(gc.pauseMsMax),
    writer === undefined ? absent : whole(writer.batches),
    writer === undefined ? absent : tenths(writer.recordsPerBatch),
    writer === undefined ? absent : tenths(writer.bytesWritten / 1e6),
    sync === undefined ? absent : whole(sync.p50Us),
    sync === undefined ? absent : whole(sync.p99Us),
    sync === undefined ? absent : whole(sync.maxUs),
  ];
}
