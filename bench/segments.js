// The segments suite: what ringwal's segment options cost, each next to the disk's own numbers of
// the same run. Preallocation and the double-write buffer are compared as interleaved variants of
// one system, several rounds each, so that the run-to-run noise is measured alongside the
// difference it has to exceed.
import { runTrial } from './run-trial.js';
import { decimal, integer, markdownTable, percent, ratio } from './table-cells.js';

const mib = 1024 * 1024;

/**
 * The 64 MiB default: a 1-producer run writes about 176 B × 2,000 records/s × 3 s ≈ 1 MB, far
 * inside one segment, while without preallocation every new 4 KiB block still extends the file.
 */
const preallocSegmentSizeBytes = 64 * mib;
/** 4 MiB: 100,000 records/s × 176 B for 5 s is about 88 MB, some twenty rollovers. */
const rolloverSegmentSizeBytes = 4 * mib;
/** 256 KiB: one producer at about 2,000 syncs/s fills one in under a second, so a run seals several. */
const spaceSegmentSizeBytes = 256 * 1024;
/**
 * Opening a segment set starts zero-filling the next segment in the background (64 MiB, about
 * 0.2 s at this VM's 400 MB/s). Waiting a second after open keeps that out of the clock, so that
 * the rows compare steady states; the fill of each later segment is part of what is measured.
 */
const settleMs = 1000;
const doubleWriteModes = ['off', 'buffered', 'direct'];
/** ringwal's block on ext4 and XFS with 4 KiB pages; stats() does not report it. */
const blockBytes = 4096;

const full = {
  diskSeconds: 2,
  closedOneSeconds: 3,
  closedManySeconds: 3,
  closedManyRecords: 1_000_000,
  openSeconds: 5,
  openRatePerS: 100_000,
  spaceSeconds: 4,
  preallocRounds: 3,
  doubleWriteRounds: 2,
  openRounds: 2,
};
const quick = {
  diskSeconds: 1,
  closedOneSeconds: 1,
  closedManySeconds: 1,
  closedManyRecords: 100_000,
  openSeconds: 1,
  openRatePerS: 100_000,
  spaceSeconds: 1,
  preallocRounds: 1,
  doubleWriteRounds: 1,
  openRounds: 1,
};

export const segmentsSuiteDescription = [
  'Every row is one trial in a fresh process; ringwal rows use the io_uring backend and wait 1 s after open',
  'so that the background zero-fill of the next segment is not in the clock. Variants that are compared run',
  'interleaved, in alternating order (A B, B A, A B, …); a ratio is taken within each round, between trials',
  "that ran next to each other, and a difference is claimed only when every round's ratio is on the same side",
  "of 1. Spread = (max − min) ÷ median of one variant's rates over the rounds: how much the disk drifted.",
  'disk qd1 = 4 KiB O_DIRECT overwrite + fdatasync, one at a time; disk qd1-append = the same, but every',
  'write extends the file (the file system must journal the new size at each fdatasync). Both run at the',
  'start and at the end of the suite.',
].join('\n');

/**
 * @param {{ section: string, variant: string, round: number, producers?: number, workload: string, seconds: number, records?: number, rate?: number,
 *   walOptions: object }} trial
 */
function ringwalTrial({ section, variant, round, producers, workload, seconds, records, rate, walOptions }) {
  const args = [
    '--system',
    'ringwal',
    '--workload',
    workload,
    '--seconds',
    String(seconds),
    '--settle-ms',
    String(settleMs),
    '--wal-options',
    JSON.stringify(walOptions),
  ];
  if (records !== undefined) args.push('--records', String(records));
  if (rate !== undefined) args.push('--rate', String(rate));
  return { section, variant, round, producers, workload, walOptions, args };
}

function plan(scale) {
  const trials = [];
  const disk = (round) => {
    for (const workload of ['qd1', 'qd1-append']) {
      trials.push({
        section: 'disk',
        variant: workload,
        round,
        workload,
        args: ['--system', 'disk', '--workload', workload, '--seconds', String(scale.diskSeconds)],
      });
    }
  };
  const closed = (producers) =>
    producers === 1
      ? { workload: 'closed-1', seconds: scale.closedOneSeconds }
      : { workload: `closed-${producers}`, seconds: scale.closedManySeconds, records: scale.closedManyRecords };
  // Alternate the order of the variants every round, so that a drift of the disk over the run
  // favours neither.
  const rotated = (variants, round) => (round % 2 === 1 ? variants : [...variants].reverse());

  disk(1);
  for (let round = 1; round <= scale.preallocRounds; round++) {
    for (const producers of [1, 4096]) {
      for (const preallocate of rotated([true, false], round)) {
        trials.push(
          ringwalTrial({
            section: 'preallocate',
            variant: preallocate ? 'on' : 'off',
            round,
            producers,
            ...closed(producers),
            walOptions: { segmentSizeBytes: preallocSegmentSizeBytes, preallocate },
          }),
        );
      }
    }
  }
  for (let round = 1; round <= scale.doubleWriteRounds; round++) {
    for (const producers of [1, 4096]) {
      for (const mode of rotated(doubleWriteModes, round)) {
        trials.push(
          ringwalTrial({
            section: 'doubleWriteBuffer',
            variant: mode,
            round,
            producers,
            ...closed(producers),
            walOptions: { segmentSizeBytes: preallocSegmentSizeBytes, doubleWriteBuffer: mode },
          }),
        );
      }
    }
  }
  // The control runs the same load with default-size segments (one rollover at most), so that a
  // tail caused by rollovers can be told apart from one this VM shows anyway.
  const rolloverVariants = [
    { variant: 'on', walOptions: { segmentSizeBytes: rolloverSegmentSizeBytes, preallocate: true } },
    { variant: 'off', walOptions: { segmentSizeBytes: rolloverSegmentSizeBytes, preallocate: false } },
    { variant: 'control', walOptions: { segmentSizeBytes: preallocSegmentSizeBytes, preallocate: true } },
  ];
  for (let round = 1; round <= scale.openRounds; round++) {
    for (const { variant, walOptions } of rotated(rolloverVariants, round)) {
      trials.push(ringwalTrial({ section: 'rollover', variant, round, workload: 'open', seconds: scale.openSeconds, rate: scale.openRatePerS, walOptions }));
    }
  }
  trials.push(
    ringwalTrial({
      section: 'space',
      variant: 'on',
      round: 1,
      producers: 1,
      workload: 'closed-1',
      seconds: scale.spaceSeconds,
      walOptions: { segmentSizeBytes: spaceSegmentSizeBytes },
    }),
  );
  disk(2);
  return trials;
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const spreadOf = (values) => (values.length < 2 ? undefined : (Math.max(...values) - Math.min(...values)) / median(values));

/**
 * The disk of a shared VM drifts by several times over minutes, so the variants are compared in
 * pairs that ran next to each other (same round), and a difference is claimed only when every
 * round's ratio lies on the same side of 1. The range of those ratios is the noise shown with it.
 */
function verdict(pairRatios) {
  if (pairRatios.length === 0) return '';
  const low = Math.min(...pairRatios);
  const high = Math.max(...pairRatios);
  const range = `${ratio(low)}–${ratio(high)} over ${pairRatios.length} round${pairRatios.length === 1 ? '' : 's'}`;
  if (pairRatios.length === 1) return `one round (${ratio(low)}): noise unknown`;
  if (low > 1) return `higher in every round (${range})`;
  if (high < 1) return `lower in every round (${range})`;
  return `within noise (${range})`;
}

/** Per round, the rate of variant `a` ÷ that of variant `b`, for the rounds where both ran. */
function pairRatios(rows, section, producers, a, b) {
  const ratios = [];
  const rounds = new Set(rowsOf(rows, section, (row) => row.producers === producers).map((row) => row.round));
  for (const round of rounds) {
    const find = (variant) => rowsOf(rows, section, (row) => row.producers === producers && row.round === round && row.variant === variant)[0];
    const rowA = find(a);
    const rowB = find(b);
    if (rowA !== undefined && rowB !== undefined) ratios.push(rowA.recordsPerS / rowB.recordsPerS);
  }
  return ratios;
}

/** @type {(rows: any[], section: string, filter?: (row: any) => boolean) => any[]} */
const rowsOf = (rows, section, filter = () => true) => rows.filter((row) => row.section === section && row.ok && row.skipped === undefined && filter(row));
const ratesOf = (rows, section, producers, variant) =>
  rowsOf(rows, section, (row) => row.producers === producers && row.variant === variant).map((row) => row.recordsPerS);

/**
 * A sync that writes past the end of the file must also commit the new size. Without
 * preallocation the file grows one 4 KiB block at a time, so at most one sync per block written
 * grows it: an upper bound on the share of syncs that pay for the journal.
 */
function growingSyncsShare(row) {
  if (row.walOptions?.preallocate !== false || row.stats === undefined) return undefined;
  const grownBlocks = (row.stats.bytesOnDisk - row.stats.segmentCount * blockBytes) / blockBytes;
  return Math.min(1, grownBlocks / Math.max(1, row.stats.batches));
}

function trialCells(row) {
  if (!row.ok) return [`error: ${String(row.error).split('\n')[0].slice(0, 160)}`, '', '', '', '', '', ''];
  if (row.skipped !== undefined) return [`skipped: ${row.skipped}`, '', '', '', '', '', ''];
  const s = row.stats ?? {};
  return [
    integer(row.recordsPerS),
    integer(row.latency.p50Us),
    integer(row.latency.p99Us),
    integer(row.latency.maxUs),
    integer(s.batches),
    decimal(s.batches > 0 ? s.records / s.batches : undefined),
    integer(s.segmentsSealed),
  ];
}
const trialHeader = ['records/s', 'p50 µs', 'p99 µs', 'max µs', 'syncs', 'records/sync', 'sealed'];

function diskSection(rows) {
  const disk = rowsOf(rows, 'disk');
  const table = markdownTable(
    ['disk', 'round', 'writes/s', 'p50 µs', 'p99 µs', 'p99.9 µs', 'max µs'],
    disk.map((row) => [
      row.variant,
      row.round,
      integer(row.recordsPerS),
      integer(row.latency.p50Us),
      integer(row.latency.p99Us),
      integer(row.latency.p999Us),
      integer(row.latency.maxUs),
    ]),
    2,
  );
  const overwrite = disk.filter((row) => row.variant === 'qd1').map((row) => row.recordsPerS);
  const append = disk.filter((row) => row.variant === 'qd1-append').map((row) => row.recordsPerS);
  const pairs = [...new Set(disk.map((row) => row.round))].flatMap((round) => {
    const rate = (variant) => disk.find((row) => row.round === round && row.variant === variant)?.recordsPerS;
    return rate('qd1') !== undefined && rate('qd1-append') !== undefined ? [rate('qd1') / rate('qd1-append')] : [];
  });
  const overwriteOverAppend = pairs.length > 0 ? median(pairs) : undefined;
  const summary = {
    qd1PerS: overwrite.length > 0 ? median(overwrite) : undefined,
    qd1AppendPerS: append.length > 0 ? median(append) : undefined,
    qd1Spread: spreadOf(overwrite),
    overwriteOverAppend,
    pairRatios: pairs,
    verdict: verdict(pairs),
  };
  const line =
    `Overwrite ÷ extending sync rate on this disk (median of rounds): ${ratio(overwriteOverAppend)}, ${summary.verdict}. ` +
    'It bounds what preallocation can gain when every sync grows the file. ' +
    `The disk's own qd1 rate moved by ${percent(summary.qd1Spread)} (max − min ÷ median) between the start and the end of the suite.`;
  return { markdown: `## Disk reference\n\n${table}\n\n${line}`, summary };
}

function preallocateSection(rows) {
  const table = markdownTable(
    ['producers', 'round', 'preallocate', ...trialHeader, 'syncs growing the file ≤'],
    rows
      .filter((row) => row.section === 'preallocate')
      .map((row) => [row.producers, row.round, row.variant, ...trialCells(row), percent(growingSyncsShare(row))]),
    3,
  );
  const summary = [1, 4096].map((producers) => {
    const on = ratesOf(rows, 'preallocate', producers, 'on');
    const off = ratesOf(rows, 'preallocate', producers, 'off');
    const pairs = pairRatios(rows, 'preallocate', producers, 'on', 'off');
    return {
      producers,
      onPerS: on.length > 0 ? median(on) : undefined,
      offPerS: off.length > 0 ? median(off) : undefined,
      onOverOff: pairs.length > 0 ? median(pairs) : undefined,
      pairRatios: pairs,
      spreadOn: spreadOf(on),
      spreadOff: spreadOf(off),
      verdict: verdict(pairs),
    };
  });
  const summaryTable = markdownTable(
    ['producers', 'on records/s (median)', 'off records/s (median)', 'on ÷ off (median of rounds)', 'spread on', 'spread off', 'on vs off'],
    summary.map((s) => [s.producers, integer(s.onPerS), integer(s.offPerS), ratio(s.onOverOff), percent(s.spreadOn), percent(s.spreadOff), s.verdict]),
  );
  return {
    markdown:
      `## Preallocation on vs off (closed loop, 128 B, ${preallocSegmentSizeBytes / mib} MiB segments)\n\n${table}\n\n${summaryTable}\n\n` +
      'Target: 1 producer on ÷ off ≥ 1.2× where the disk shows a difference (disk reference above).',
    summary,
  };
}

function doubleWriteSection(rows) {
  const all = rows.filter((row) => row.section === 'doubleWriteBuffer');
  const skipped = all.find((row) => row.ok && row.skipped !== undefined);
  if (skipped !== undefined && rowsOf(rows, 'doubleWriteBuffer').length === 0) {
    return { markdown: `## Double-write buffer\n\nSkipped: ${skipped.skipped}.`, summary: { skipped: skipped.skipped } };
  }
  const table = markdownTable(
    ['producers', 'round', 'doubleWriteBuffer', ...trialHeader],
    all.map((row) => [row.producers, row.round, row.variant, ...trialCells(row)]),
    3,
  );
  const summary = [1, 4096].map((producers) => {
    const rates = Object.fromEntries(doubleWriteModes.map((mode) => [mode, ratesOf(rows, 'doubleWriteBuffer', producers, mode)]));
    const med = (mode) => (rates[mode].length > 0 ? median(rates[mode]) : undefined);
    const spreads = doubleWriteModes.map((mode) => spreadOf(rates[mode]));
    const buffered = pairRatios(rows, 'doubleWriteBuffer', producers, 'buffered', 'off');
    const direct = pairRatios(rows, 'doubleWriteBuffer', producers, 'direct', 'off');
    return {
      producers,
      offPerS: med('off'),
      bufferedPerS: med('buffered'),
      directPerS: med('direct'),
      bufferedOverOff: buffered.length > 0 ? median(buffered) : undefined,
      directOverOff: direct.length > 0 ? median(direct) : undefined,
      spreads,
      bufferedPairRatios: buffered,
      directPairRatios: direct,
      bufferedVerdict: verdict(buffered),
      directVerdict: verdict(direct),
    };
  });
  const summaryTable = markdownTable(
    ['producers', 'off', 'buffered', 'direct', 'buffered ÷ off', 'direct ÷ off', 'largest spread of a mode'],
    summary.map((s) => [
      s.producers,
      integer(s.offPerS),
      integer(s.bufferedPerS),
      integer(s.directPerS),
      `${ratio(s.bufferedOverOff)} (${s.bufferedVerdict})`,
      `${ratio(s.directOverOff)} (${s.directVerdict})`,
      percent(s.spreads.every((spread) => spread === undefined) ? undefined : Math.max(...s.spreads.filter((spread) => spread !== undefined))),
    ]),
  );
  return { markdown: `## Double-write buffer cost (closed loop, 128 B, records/s medians)\n\n${table}\n\n${summaryTable}`, summary };
}

function rolloverSection(rows, disk) {
  const all = rows.filter((row) => row.section === 'rollover');
  const table = markdownTable(
    [
      'segment size',
      'preallocate',
      'round',
      'records/s',
      'p50 µs',
      'p99 µs',
      'p99.9 µs',
      'max µs',
      'send lag max µs',
      'unfinished',
      'segments sealed',
      'p99 ≤ 1 ms',
      'max ≤ 5 ms',
    ],
    all
      .map((row) => [`${row.walOptions.segmentSizeBytes / mib} MiB`, row.walOptions.preallocate ? 'on' : 'off', row.round])
      .map((cells, index) => {
        const row = all[index];
        if (!row.ok || row.skipped !== undefined) return [...cells, String(row.error ?? `skipped: ${row.skipped}`).split('\n')[0]];
        return [
          ...cells,
          integer(row.recordsPerS),
          integer(row.latency.p50Us),
          integer(row.latency.p99Us),
          integer(row.latency.p999Us),
          integer(row.latency.maxUs),
          integer(row.sendLagUsMax),
          integer(row.recordsUnfinished),
          integer(row.stats?.segmentsSealed),
          row.latency.p99Us <= 1000 ? 'yes' : 'no',
          row.latency.maxUs <= 5000 ? 'yes' : 'no',
        ];
      }),
    3,
  );
  const qd1 = rowsOf(rows, 'disk', (row) => row.variant === 'qd1');
  const diskLine =
    qd1.length === 0
      ? ''
      : `Disk qd1 in this run (one 4 KiB write + fdatasync): ${qd1.map((row) => `p50 ${integer(row.latency.p50Us)} µs, p99 ${integer(row.latency.p99Us)} µs, max ${integer(row.latency.maxUs)} µs`).join('; ')}. ` +
        "An append cannot be durable sooner than one such sync, so where the disk's own p99 or max is above the target, so is every log's.";
  const summary = rowsOf(rows, 'rollover').map((row) => ({
    variant: row.variant,
    segmentSizeBytes: row.walOptions.segmentSizeBytes,
    round: row.round,
    p99Us: row.latency.p99Us,
    p999Us: row.latency.p999Us,
    maxUs: row.latency.maxUs,
    segmentsSealed: row.stats?.segmentsSealed,
    diskQd1PerS: disk.qd1PerS,
  }));
  return {
    markdown:
      `## Open loop, ${integer(all.find((row) => row.ok)?.spec?.ratePerS)} records/s across rollovers (${rolloverSegmentSizeBytes / mib} MiB segments)\n\n${table}\n\n` +
      `The ${preallocSegmentSizeBytes / mib} MiB rows are the control: the same load with at most one rollover. ` +
      'send lag max is how late the generator itself fired a send: when it is near the max latency, this Node process ' +
      "(or the VM's CPU) stalled, not only the log.\n\n" +
      diskLine,
    summary,
  };
}

function spaceSection(rows) {
  const all = rows.filter((row) => row.section === 'space');
  const table = markdownTable(
    ['segment size', 'records', 'syncs', 'segments sealed', 'segmentCount', 'bytesOnDisk', 'recordBytes', 'spaceAmplification', '≤ 1.05'],
    all.map((row) =>
      !row.ok
        ? [`${spaceSegmentSizeBytes / 1024} KiB`, `error: ${String(row.error).split('\n')[0]}`]
        : [
            `${spaceSegmentSizeBytes / 1024} KiB`,
            integer(row.records),
            integer(row.stats?.batches),
            integer(row.stats?.segmentsSealed),
            integer(row.stats?.segmentCount),
            integer(row.stats?.bytesOnDisk),
            integer(row.stats?.recordBytes),
            decimal(row.stats?.spaceAmplification, 3),
            row.stats?.spaceAmplification <= 1.05 ? 'yes' : 'no',
          ],
    ),
  );
  const summary = rowsOf(rows, 'space').map((row) => ({ spaceAmplification: row.stats?.spaceAmplification, segmentsSealed: row.stats?.segmentsSealed }));
  return {
    markdown:
      `## Space amplification, 1 producer, one record per sync\n\n${table}\n\n` +
      'spaceAmplification = bytes the log occupies up to its last record (header blocks and the rest of the last block included) ÷ bytes of records (48 B header + 128 B payload each).',
    summary,
  };
}

/** `dist`: another build for the ringwal trials to load (bench/trial.js --dist); the disk rows are the same. */
export async function runSegmentsSuite({ quick: isQuick, dist = undefined }) {
  const scale = isQuick ? quick : full;
  const trials = plan(scale);
  const rows = [];
  for (const [index, trial] of trials.entries()) {
    const label = `${trial.section} ${trial.variant}${trial.producers === undefined ? '' : ` ×${trial.producers}`} ${trial.workload} round ${trial.round}`;
    process.stderr.write(`[segments ${index + 1}/${trials.length}] ${label} … `);
    const { args, ...identity } = trial;
    const ringwal = trial.walOptions !== undefined;
    const row = { ...(await runTrial(ringwal && dist !== undefined ? [...args, '--dist', dist] : args)), ...identity };
    rows.push(row);
    let outcome = `${integer(row.recordsPerS)} records/s, p99 ${integer(row.latency?.p99Us)} µs`;
    if (!row.ok) outcome = `error: ${String(row.error).split('\n')[0]}`;
    else if (row.skipped !== undefined) outcome = `skipped: ${row.skipped}`;
    process.stderr.write(`${outcome}\n`);
  }
  const disk = diskSection(rows);
  const sections = [disk, preallocateSection(rows), doubleWriteSection(rows), rolloverSection(rows, disk.summary), spaceSection(rows)];
  return {
    rows,
    summary: {
      disk: disk.summary,
      preallocate: sections[1].summary,
      doubleWriteBuffer: sections[2].summary,
      rollover: sections[3].summary,
      space: sections[4].summary,
    },
    markdown: sections.map((section) => section.markdown).join('\n\n'),
  };
}
