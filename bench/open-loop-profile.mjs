#!/usr/bin/env node
// Where the open loop's latency tail comes from. Runs the `open` workload (a fixed offered load,
// each latency from the send's intended time, as src/bench/open-loop.ts does) against `Wal` and
// records on one clock (performance.now()):
//   - every append: intended send time and completion time;
//   - every request ringwal makes, through a recording wrapper around the native Io (passed as the
//     `io` option, so no build needs instrumentation): batch writes to the active segment, the
//     zero-fill writes and the datasync of the prepared segment, header writes, fallocate (a
//     synchronous call on the event loop), renames and directory fsyncs;
//   - rollovers (onSegmentSealed) and their I/O;
//   - GC pauses (PerformanceObserver 'gc') and event-loop stalls (gaps between two turns of the
//     send pump longer than 1 ms; the pump runs every turn, by setImmediate), with
//     monitorEventLoopDelay's histogram beside them.
// Then it says how much of the tail (appends at or above the run's p99) overlaps each kind of
// window, next to how much of all appends does (the base rate).
//
//   node bench/open-loop-profile.mjs --variant open                 one trial, one JSON line
//   node bench/open-loop-profile.mjs --rounds 2                     every variant, interleaved, in child processes
//   node bench/open-loop-profile.mjs --rounds 2 --dists before=bench/tmp/before/dist,after=dist --out FILE.json
//
// Data goes to bench/tmp/ (the repository's file system: a real disk, not tmpfs).
import { execFile } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const mib = 1024 * 1024;
/** The prepared segment's name (src/segment/segment-file.ts): its I/O is the zero-fill. */
const preparedName = 'wal-prepared.seg.tmp';
/** A gap between two pump turns longer than this is an event-loop stall. */
const stallMsMin = 1;
/**
 * The first sends meet a cold process and a disk that was idle (the segments suite settles for a
 * second): the first writes take milliseconds and the heap grows through its first major GCs.
 */
const warmUpMs = 50;
/** R2's two header writes are submitted together: anything further apart is another step. */
const rolloverHeadersApartMsMax = 5;
/** How far around a rollover appends count as "near" it. */
const nearRolloverMs = 50;
const drainMsMax = 30_000;
const recordPoolCount = 1024;

/**
 * `settle`: 'none' starts the clock right after open (the zero-fill of the next segment, O9, is in
 * it, as in the peers suite); 'prepared' waits until that fill's datasync is done (a log whose next
 * segment was ready before the clock started); a number waits that many ms (the segments suite: 1 s).
 */
const variants = {
  open: { segmentSizeBytes: 64 * mib, preallocate: true, settle: 'none' },
  'open-prepared': { segmentSizeBytes: 64 * mib, preallocate: true, settle: 'prepared' },
  'open-noprealloc': { segmentSizeBytes: 64 * mib, preallocate: false, settle: 'none' },
  roll4: { segmentSizeBytes: 4 * mib, preallocate: true, settle: 1000 },
  'roll4-noprealloc': { segmentSizeBytes: 4 * mib, preallocate: false, settle: 1000 },
  // The closed loops of the peers suite (1,000,000 records), for the fill beside a saturated writer.
  'closed-256': { segmentSizeBytes: 64 * mib, preallocate: true, settle: 'none', producers: 256 },
  'closed-4096': { segmentSizeBytes: 64 * mib, preallocate: true, settle: 'none', producers: 4096 },
};
/** Records of a closed-loop variant, as in the peers suite. */
const closedLoopRecords = 1_000_000;

const { values } = parseArgs({
  options: {
    variant: { type: 'string' },
    variants: { type: 'string' },
    rounds: { type: 'string' },
    dist: { type: 'string', default: 'dist' },
    dists: { type: 'string' },
    rate: { type: 'string', default: '100000' },
    seconds: { type: 'string', default: '5' },
    'wal-options': { type: 'string' },
    out: { type: 'string' },
    trace: { type: 'string' },
  },
  strict: true,
});

const repoDir = new URL('..', import.meta.url).pathname;

// ---------------------------------------------------------------------------------------------
// One trial.

/** Wraps an Io so that every request it carries is recorded: what, on which file, when. */
function recordingIo(base, events) {
  const kindOf = (path) => (basename(path) === preparedName ? 'prepared' : /^wal-\d{20}-\d{10}\.seg$/.test(basename(path)) ? 'segment' : 'other');
  const timed = async (event, run) => {
    event.t0 = performance.now();
    try {
      return await run();
    } finally {
      event.t1 = performance.now();
      events.push(event);
    }
  };
  const wrapFile = (file) => {
    const kind = kindOf(file.path);
    return {
      get path() {
        return file.path;
      },
      get direct() {
        return file.direct;
      },
      get alignmentBytes() {
        return file.alignmentBytes;
      },
      get syncMethod() {
        return file.syncMethod;
      },
      write: (buffer, bufferOffsetBytes, lengthBytes, fileOffsetBytes, durable) =>
        timed({ op: 'write', kind, offsetBytes: fileOffsetBytes, lengthBytes, durable }, () =>
          file.write(buffer, bufferOffsetBytes, lengthBytes, fileOffsetBytes, durable),
        ),
      read: (buffer, bufferOffsetBytes, lengthBytes, fileOffsetBytes) => file.read(buffer, bufferOffsetBytes, lengthBytes, fileOffsetBytes),
      datasync: () => timed({ op: 'datasync', kind }, () => file.datasync()),
      dropCache: () => file.dropCache(),
      sizeBytes: () => file.sizeBytes(),
      truncate: (sizeBytes) => timed({ op: 'truncate', kind, lengthBytes: sizeBytes }, () => file.truncate(sizeBytes)),
      allocate: (offsetBytes, lengthBytes) => timed({ op: 'allocate', kind, lengthBytes }, () => file.allocate(offsetBytes, lengthBytes)),
      close: () => file.close(),
    };
  };
  return {
    get backend() {
      return base.backend;
    },
    get fallbackReason() {
      return base.fallbackReason;
    },
    get syncMethod() {
      return base.syncMethod;
    },
    allocAligned: (sizeBytes, alignmentBytes) => base.allocAligned(sizeBytes, alignmentBytes),
    crc32cRanges: (bytes, ranges, count, out) => base.crc32cRanges(bytes, ranges, count, out),
    registerBuffers: (buffers) => base.registerBuffers(buffers),
    openFile: (path, options) => timed({ op: 'open', kind: kindOf(path) }, async () => wrapFile(await base.openFile(path, options))),
    lock: (path) => base.lock(path),
    mkdirp: (dir) => base.mkdirp(dir),
    listDir: (dir) => base.listDir(dir),
    rename: (fromPath, toPath) => timed({ op: 'rename', kind: 'dir' }, () => base.rename(fromPath, toPath)),
    unlink: (path) => timed({ op: 'unlink', kind: kindOf(path) }, () => base.unlink(path)),
    fsyncDir: (dir) => timed({ op: 'fsyncDir', kind: 'dir' }, () => base.fsyncDir(dir)),
    close: () => base.close(),
  };
}

async function trial(variantName, distDir) {
  const variant = variants[variantName];
  if (variant === undefined) throw new Error(`unknown variant ${variantName}; known: ${Object.keys(variants).join(', ')}`);
  const ratePerS = Number(values.rate);
  const durationMs = Number(values.seconds) * 1000;
  const extraOptions = values['wal-options'] === undefined ? {} : JSON.parse(values['wal-options']);
  const { Wal, NativeIo } = await import(pathToFileURL(join(resolve(repoDir, distDir), 'index.js')).href);

  const dir = join(repoDir, 'bench', 'tmp', `profile-${variantName}-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const ioEvents = [];
  const sealedAt = [];
  const baseIo = NativeIo.create({ backend: 'io_uring', syncMethod: 'linked-fdatasync', queueDepth: 256 });
  const io = recordingIo(baseIo, ioEvents);
  const openedAt = performance.now();
  const wal = await Wal.open(dir, {
    io,
    segmentSizeBytes: variant.segmentSizeBytes,
    preallocate: variant.preallocate,
    ...extraOptions,
    onSegmentSealed: () => {
      sealedAt.push(performance.now());
    },
  });
  const openMs = performance.now() - openedAt;
  if (variant.settle === 'prepared') {
    // The fill's last step is the prepared file's datasync (S1); the first segment of the new log
    // was prepared (and synced) before open returned, the next one is the one to wait for.
    const openedMs = openedAt + openMs;
    while (!ioEvents.some((e) => e.op === 'datasync' && e.kind === 'prepared' && e.t1 > openedMs)) await new Promise((r) => setTimeout(r, 10));
  } else if (typeof variant.settle === 'number') {
    await new Promise((r) => setTimeout(r, variant.settle));
  }

  const backing = randomFillSync(new Uint8Array(128 * recordPoolCount));
  const records = Array.from({ length: recordPoolCount }, (_, i) => backing.subarray(i * 128, (i + 1) * 128));
  const closed = variant.producers !== undefined;
  const count = closed ? closedLoopRecords : Math.floor((ratePerS * durationMs) / 1000);
  const intervalMs = 1000 / ratePerS;
  // When each append was meant to go (the open loop) or went (the closed loop), and was durable.
  const sentAt = new Float64Array(count);
  const doneAt = new Float64Array(count).fill(NaN);
  const stalls = [];
  const gcs = [];
  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcs.push({ t0: entry.startTime, t1: entry.startTime + entry.duration, gcKind: entry.detail?.kind });
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();

  const loadBefore = loadAverage();
  const startMs = performance.now();
  let sent = 0;
  let completed = 0;
  let sendLagMsMax = 0;
  let lastTurnEndMs = startMs;
  if (closed) {
    // Each producer appends and awaits, in turn; a ticker on every turn of the loop sees its stalls.
    let ticking = true;
    const tick = () => {
      const nowMs = performance.now();
      if (nowMs - lastTurnEndMs > stallMsMin) stalls.push({ t0: lastTurnEndMs, t1: nowMs });
      lastTurnEndMs = nowMs;
      if (ticking) setImmediate(tick);
    };
    tick();
    await Promise.all(
      Array.from({ length: variant.producers }, async () => {
        while (sent < count) {
          const index = sent++;
          sentAt[index] = performance.now();
          await wal.append(records[index % recordPoolCount]);
          doneAt[index] = performance.now();
          completed += 1;
        }
      }),
    );
    ticking = false;
  }
  await new Promise((resolvePromise, reject) => {
    if (closed) return resolvePromise();
    let finished = false;
    const drain = () => {
      finished = true;
      resolvePromise();
    };
    const pump = () => {
      if (finished) return;
      const nowMs = performance.now();
      if (nowMs - lastTurnEndMs > stallMsMin) stalls.push({ t0: lastTurnEndMs, t1: nowMs });
      const elapsedMs = nowMs - startMs;
      const due = Math.min(count, Math.floor(elapsedMs / intervalMs) + 1);
      if (sent < due) sendLagMsMax = Math.max(sendLagMsMax, elapsedMs - sent * intervalMs);
      while (sent < due) {
        const index = sent++;
        sentAt[index] = startMs + index * intervalMs;
        wal.append(records[index % recordPoolCount]).then(() => {
          doneAt[index] = performance.now();
          completed += 1;
          if (completed === count && !finished) {
            finished = true;
            clearTimeout(drainTimer);
            resolvePromise();
          }
        }, reject);
      }
      lastTurnEndMs = performance.now();
      if (sent < count) setImmediate(pump);
      else if (completed < count) drainTimer = setTimeout(drain, drainMsMax);
    };
    let drainTimer;
    pump();
  });
  const endMs = performance.now();
  loopDelay.disable();
  gcObserver.disconnect();
  const stats = await wal.stats();
  await wal.close();
  await baseIo.close();
  rmSync(dir, { recursive: true, force: true });

  const trace = { startMs, endMs, count, sentAt, doneAt, ioEvents, sealedAt, gcs, stalls };
  if (values.trace !== undefined) writeTrace(values.trace, trace);
  return {
    variant: variantName,
    dist: distDir,
    // The machine is shared: how busy it was around the trial (1-minute load average, before and after).
    loadAverage: [loadBefore, loadAverage()],
    walOptions: { segmentSizeBytes: variant.segmentSizeBytes, preallocate: variant.preallocate, ...extraOptions },
    settle: variant.settle,
    openMs,
    sendLagUsMax: sendLagMsMax * 1000,
    unfinished: count - completed,
    loopDelayUs: {
      p50: loopDelay.percentile(50) / 1000,
      p99: loopDelay.percentile(99) / 1000,
      max: loopDelay.max / 1000,
    },
    batches: stats.batches,
    segmentsSealed: sealedAt.length,
    ...analyse(trace),
  };
}

function loadAverage() {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

function writeTrace(path, trace) {
  const appends = [];
  for (let i = 0; i < trace.count; i++) appends.push([+(trace.sentAt[i] - trace.startMs).toFixed(3), +(trace.doneAt[i] - trace.startMs).toFixed(3)]);
  const shift = (e) => ({ ...e, t0: e.t0 - trace.startMs, t1: e.t1 - trace.startMs });
  writeFileSync(
    path,
    JSON.stringify({
      appends,
      io: trace.ioEvents.map(shift),
      sealed: trace.sealedAt.map((t) => t - trace.startMs),
      gcs: trace.gcs.map(shift),
      stalls: trace.stalls.map(shift),
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Analysis: windows of each kind, merged into disjoint sorted intervals, against each append's
// lifetime [intended send time, completion].

function merge(windows) {
  const sorted = windows.filter((w) => w.t1 >= w.t0).sort((a, b) => a.t0 - b.t0);
  const out = [];
  for (const w of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && w.t0 <= last.t1) last.t1 = Math.max(last.t1, w.t1);
    else out.push({ t0: w.t0, t1: w.t1 });
  }
  return out;
}

/** Whether [t0, t1] meets one of the disjoint, sorted `windows`. */
function overlaps(windows, t0, t1) {
  let low = 0;
  let high = windows.length - 1;
  let found = -1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (windows[middle].t0 <= t1) {
      found = middle;
      low = middle + 1;
    } else high = middle - 1;
  }
  return found >= 0 && windows[found].t1 >= t0;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function latencySummaryUs(latenciesMs) {
  const sorted = Float64Array.from(latenciesMs).sort();
  const us = (v) => Math.round(v * 1000);
  return {
    count: sorted.length,
    p50: us(percentile(sorted, 50)),
    p99: us(percentile(sorted, 99)),
    p999: us(percentile(sorted, 99.9)),
    max: us(sorted.length === 0 ? 0 : sorted[sorted.length - 1]),
  };
}

function analyse(trace) {
  const { startMs, endMs, count, sentAt, doneAt, ioEvents, sealedAt, gcs, stalls } = trace;
  // A fill runs from the first request on the prepared file to its datasync; one per preparation.
  const fills = [];
  let fill = null;
  for (const e of [...ioEvents].filter((x) => x.kind === 'prepared').sort((a, b) => a.t0 - b.t0)) {
    if (e.op === 'open') fill = { t0: e.t0, t1: e.t1, chunks: 0, zeroBytes: 0, allocateMs: 0 };
    if (fill === null) continue;
    fill.t1 = Math.max(fill.t1, e.t1);
    if (e.op === 'write' && !e.durable) {
      fill.chunks += 1;
      fill.zeroBytes += e.lengthBytes;
    }
    if (e.op === 'allocate') fill.allocateMs += e.t1 - e.t0;
    if (e.op === 'datasync') {
      fill.datasyncMs = e.t1 - e.t0;
      fills.push(fill);
      fill = null;
    }
  }
  // A fill still running when the log closed (close aborts a paced one) counts up to its last request.
  if (fill !== null) fills.push({ ...fill, unfinished: true });
  // A rollover's I/O: from the first of its two header writes at offset 0 (R2, submitted
  // together, after the previous rollover) up to the hook (R5). Its stall lasts until the first
  // batch in the new segment, which carries what waited meanwhile, is durable.
  const batchWritesAll = ioEvents.filter((e) => e.op === 'write' && e.durable && e.kind === 'segment' && e.offsetBytes > 0).sort((a, b) => a.t0 - b.t0);
  const rollovers = sealedAt.map((sealed, i) => {
    const after = i === 0 ? -Infinity : sealedAt[i - 1];
    const headers = ioEvents.filter((e) => e.op === 'write' && e.durable && e.offsetBytes === 0 && e.t0 <= sealed && e.t0 > after);
    const latest = Math.max(...headers.map((e) => e.t0));
    const t0 = headers.length === 0 ? sealed : Math.min(...headers.filter((e) => e.t0 >= latest - rolloverHeadersApartMsMax).map((e) => e.t0));
    const firstBatch = batchWritesAll.find((e) => e.t0 >= sealed);
    return { t0, t1: sealed, stallEnd: firstBatch === undefined ? sealed : firstBatch.t1 };
  });
  const windows = {
    zeroFill: merge(fills.map((f) => ({ t0: f.t0, t1: f.t1 }))),
    rollover: merge(rollovers.map((r) => ({ t0: r.t0, t1: r.stallEnd }))),
    gc: merge(gcs),
    loopStall: merge(stalls),
    warmUp: [{ t0: startMs, t1: startMs + warmUpMs }],
  };
  // Allocate is synchronous: it stalls the loop by itself, and it is part of the fill window.
  const latencies = new Float64Array(count);
  let finished = 0;
  for (let i = 0; i < count; i++) {
    const intended = sentAt[i];
    const done = Number.isNaN(doneAt[i]) ? endMs : doneAt[i];
    latencies[i] = done - intended;
    if (!Number.isNaN(doneAt[i])) finished += 1;
  }
  const all = latencySummaryUs(latencies);
  let warmUpCount = 0;
  while (warmUpCount < count && sentAt[warmUpCount] < startMs + warmUpMs) warmUpCount += 1;
  const afterWarmUp = latencySummaryUs(latencies.subarray(warmUpCount));
  const p99Ms = all.p99 / 1000;
  const tail = { count: 0, none: 0 };
  const base = {};
  const inside = {};
  // Exclusive attribution: each tail append goes to the first kind of window it meets, in this order.
  const exclusiveOrder = ['warmUp', 'rollover', 'zeroFill', 'gc', 'loopStall'];
  const exclusive = { none: 0 };
  for (const name of Object.keys(windows)) {
    tail[name] = 0;
    base[name] = 0;
    inside[name] = { in: [], out: [] };
    exclusive[name] = 0;
  }
  for (let i = 0; i < count; i++) {
    const t0 = sentAt[i];
    const t1 = t0 + latencies[i];
    const isTail = latencies[i] >= p99Ms;
    if (isTail) tail.count += 1;
    let any = false;
    let first = 'none';
    for (const [name, list] of Object.entries(windows)) {
      const hit = overlaps(list, t0, t1);
      if (hit) base[name] += 1;
      if (hit && isTail) tail[name] += 1;
      if (hit && (first === 'none' || exclusiveOrder.indexOf(name) < exclusiveOrder.indexOf(first))) first = name;
      any ||= hit;
      inside[name][hit ? 'in' : 'out'].push(latencies[i]);
    }
    if (isTail && !any) tail.none += 1;
    if (isTail) exclusive[first] += 1;
  }
  const share = (n, of) => (of === 0 ? 0 : +(n / of).toFixed(4));
  const windowMs = (list) => list.reduce((sum, w) => sum + Math.max(0, Math.min(w.t1, endMs) - Math.max(w.t0, startMs)), 0);
  const attribution = {};
  for (const name of Object.keys(windows)) {
    attribution[name] = {
      windows: windows[name].length,
      timeShare: share(windowMs(windows[name]), endMs - startMs),
      allShare: share(base[name], count),
      tailShare: share(tail[name], tail.count),
      tailShareExclusive: share(exclusive[name], tail.count),
      latencyInsideUs: latencySummaryUs(inside[name].in),
      latencyOutsideUs: latencySummaryUs(inside[name].out),
    };
  }
  // Batches: the device time of each durable write to a segment, inside and outside a fill.
  const batchWrites = ioEvents.filter((e) => e.op === 'write' && e.durable && e.kind === 'segment' && e.t0 >= startMs);
  const batchIn = batchWrites.filter((e) => overlaps(windows.zeroFill, e.t0, e.t1)).map((e) => e.t1 - e.t0);
  const batchOut = batchWrites.filter((e) => !overlaps(windows.zeroFill, e.t0, e.t1)).map((e) => e.t1 - e.t0);
  // Around rollovers: the largest latency of sends intended within ±50 ms of each hook, and elsewhere.
  const near = sealedAt.map((sealed) => {
    let maxMs = 0;
    for (let i = 0; i < count; i++) {
      const t = sentAt[i];
      if (Math.abs(t - sealed) <= nearRolloverMs) maxMs = Math.max(maxMs, latencies[i]);
    }
    return Math.round(maxMs * 1000);
  });
  let elsewhereMs = 0;
  let elsewhereAfterWarmUpMs = 0;
  for (let i = 0; i < count; i++) {
    const t = sentAt[i];
    if (sealedAt.some((sealed) => Math.abs(t - sealed) <= nearRolloverMs)) continue;
    elsewhereMs = Math.max(elsewhereMs, latencies[i]);
    if (i >= warmUpCount) elsewhereAfterWarmUpMs = Math.max(elsewhereAfterWarmUpMs, latencies[i]);
  }
  const syncCallsMs = (op) => ioEvents.filter((e) => e.op === op && e.t0 >= startMs).map((e) => e.t1 - e.t0);
  return {
    finished,
    latencyUs: all,
    latencyAfterWarmUpUs: afterWarmUp,
    tailCount: tail.count,
    tailNoneShare: share(tail.none, tail.count),
    attribution,
    fills: fills
      .filter((f) => f.t1 >= startMs)
      .map((f) => ({
        startMs: +(f.t0 - startMs).toFixed(1),
        durationMs: +(f.t1 - f.t0).toFixed(1),
        chunks: f.chunks,
        zeroMiB: f.zeroBytes / mib,
        allocateMs: +f.allocateMs.toFixed(2),
        datasyncMs: +(f.datasyncMs ?? 0).toFixed(2),
        ...(f.unfinished === true ? { unfinished: true } : {}),
      })),
    rollovers: rollovers.map((r, i) => ({
      atMs: +(r.t1 - startMs).toFixed(1),
      ioMs: +(r.t1 - r.t0).toFixed(2),
      stallMs: +(r.stallEnd - r.t0).toFixed(2),
      maxLatencyNearUs: near[i],
    })),
    maxLatencyAwayFromRolloversUs: Math.round(elsewhereMs * 1000),
    maxLatencyAwayFromRolloversAfterWarmUpUs: Math.round(elsewhereAfterWarmUpMs * 1000),
    batchDeviceUs: { insideFill: latencySummaryUs(batchIn), outsideFill: latencySummaryUs(batchOut) },
    allocateCallMsMax: +Math.max(0, ...syncCallsMs('allocate')).toFixed(2),
    gcPauses: {
      count: gcs.length,
      msMax: +Math.max(0, ...gcs.map((g) => g.t1 - g.t0)).toFixed(2),
      msTotal: +gcs.reduce((s, g) => s + g.t1 - g.t0, 0).toFixed(1),
    },
    loopStalls: { count: stalls.length, msMax: +Math.max(0, ...stalls.map((s) => s.t1 - s.t0)).toFixed(2) },
  };
}

// ---------------------------------------------------------------------------------------------
// The driver: every variant × build in its own process, interleaved, the order turned every round.

function runChild(variant, dist) {
  const args = [new URL(import.meta.url).pathname, '--variant', variant, '--dist', dist, '--rate', values.rate, '--seconds', values.seconds];
  if (values['wal-options'] !== undefined) args.push('--wal-options', values['wal-options']);
  return new Promise((resolvePromise) => {
    execFile(process.execPath, args, { timeout: 180_000, killSignal: 'SIGKILL', maxBuffer: 64 * mib }, (error, stdout, stderr) => {
      try {
        resolvePromise(JSON.parse(stdout.trim().split('\n').pop()));
      } catch {
        resolvePromise({ ok: false, variant, dist, error: `${error?.message ?? 'no JSON line'}\n${stderr.slice(-2000)}` });
      }
    });
  });
}

const pct = (v) => `${(v * 100).toFixed(1)} %`;

function table(rows) {
  const header = [
    'build',
    'variant',
    'round',
    'p50 µs',
    'p99 µs',
    'p99 after 50 ms µs',
    'p99.9 µs',
    'max µs',
    'tail in fill',
    'all in fill',
    'p99 in / out of fill µs',
    'tail in rollover',
    'tail in GC',
    'tail in loop stall',
    'tail in first 50 ms',
    'tail in none',
    'batch device p99 in / out of fill µs',
    'max near / away from rollovers µs',
    'loop delay p99 / max µs',
    'load',
  ];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => ' --- ').join('|')}|`];
  for (const r of rows) {
    if (r.ok === false) {
      lines.push(`| ${r.label} | ${r.variant} | ${r.round} | error: ${String(r.error).split('\n')[0]} |`);
      continue;
    }
    const a = r.attribution;
    lines.push(
      `| ${[
        r.label,
        r.variant,
        r.round,
        r.latencyUs.p50,
        r.latencyUs.p99,
        r.latencyAfterWarmUpUs.p99,
        r.latencyUs.p999,
        r.latencyUs.max,
        pct(a.zeroFill.tailShare),
        pct(a.zeroFill.allShare),
        `${a.zeroFill.latencyInsideUs.p99} / ${a.zeroFill.latencyOutsideUs.p99}`,
        pct(a.rollover.tailShare),
        pct(a.gc.tailShare),
        pct(a.loopStall.tailShare),
        pct(a.warmUp.tailShare),
        pct(r.tailNoneShare),
        `${r.batchDeviceUs.insideFill.p99} / ${r.batchDeviceUs.outsideFill.p99}`,
        `${r.rollovers.length === 0 ? '–' : Math.max(...r.rollovers.map((x) => x.maxLatencyNearUs))} / ${r.maxLatencyAwayFromRolloversUs}`,
        `${Math.round(r.loopDelayUs.p99)} / ${Math.round(r.loopDelayUs.max)}`,
        r.loadAverage.map((v) => v.toFixed(1)).join(' → '),
      ].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

async function drive() {
  const names = values.variants === undefined ? Object.keys(variants) : values.variants.split(',');
  const builds = (values.dists ?? `build=${values.dist}`).split(',').map((pair) => {
    const [label, dist] = pair.split('=');
    return { label, dist };
  });
  const rounds = Number(values.rounds);
  const plan = [];
  for (let round = 1; round <= rounds; round++) {
    const order = [];
    for (const name of names) for (const build of builds) order.push({ name, build });
    plan.push(...(round % 2 === 1 ? order : order.reverse()).map((p) => ({ ...p, round })));
  }
  const rows = [];
  const disk = [];
  const diskTrial = (round) =>
    new Promise((resolvePromise) => {
      const trialPath = new URL('./trial.js', import.meta.url).pathname;
      execFile(process.execPath, [trialPath, '--system', 'disk', '--workload', 'qd1', '--seconds', '2'], { timeout: 60_000 }, (_error, stdout) => {
        try {
          const row = JSON.parse(stdout.trim().split('\n').pop());
          disk.push({ round, recordsPerS: row.recordsPerS, latencyUs: row.latency });
        } catch {
          disk.push({ round, error: 'no JSON line' });
        }
        resolvePromise();
      });
    });
  let diskRound = 0;
  for (const [index, { name, build, round }] of plan.entries()) {
    if (round !== diskRound) {
      diskRound = round;
      await diskTrial(round);
    }
    process.stderr.write(`[${index + 1}/${plan.length}] ${build.label} ${name} round ${round} … `);
    const row = { ...(await runChild(name, build.dist)), label: build.label, round };
    rows.push(row);
    process.stderr.write(row.ok === false ? `error\n` : `p99 ${row.latencyUs.p99} µs, max ${row.latencyUs.max} µs\n`);
  }
  const order = (r) => names.indexOf(r.variant) * 1000 + builds.findIndex((b) => b.label === r.label) * 100 + r.round;
  rows.sort((a, b) => order(a) - order(b));
  await diskTrial(rounds + 1);
  process.stdout.write(`${table(rows)}\n\n`);
  for (const d of disk) {
    process.stdout.write(
      d.error === undefined
        ? `disk qd1 before round ${d.round}: ${Math.round(d.recordsPerS)} writes/s, p50 ${Math.round(d.latencyUs.p50Us)} µs, p99 ${Math.round(d.latencyUs.p99Us)} µs, max ${Math.round(d.latencyUs.maxUs)} µs\n`
        : `disk qd1 before round ${d.round}: ${d.error}\n`,
    );
  }
  if (values.out !== undefined) {
    writeFileSync(
      values.out,
      `${JSON.stringify({ startedAt: new Date().toISOString(), node: process.version, argv: process.argv.slice(2), disk, rows }, null, 2)}\n`,
    );
  }
}

if (values.variant !== undefined) {
  try {
    process.stdout.write(`${JSON.stringify({ ok: true, ...(await trial(values.variant, values.dist)) })}\n`);
    process.exit(0);
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ ok: false, variant: values.variant, dist: values.dist, error: String(error?.stack ?? error) })}\n`);
    process.exit(1);
  }
} else if (values.rounds !== undefined) {
  await drive();
} else {
  process.stderr.write('usage: node bench/open-loop-profile.mjs --variant NAME | --rounds N [--variants a,b] [--dists label=dir,…] [--out FILE]\n');
  process.exit(2);
}
