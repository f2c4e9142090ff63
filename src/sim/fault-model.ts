/**
 * What the simulated disk may do wrong, and how likely each fault is in one run.
 *
 * Tier 1 stays inside ringwal's device assumption (docs/format.md): unsynced writes lost,
 * reordered or torn with each sector entirely old or entirely new, failed writes and syncs,
 * ENOSPC. Under tier 1 every check of the oracle applies and any violation is a ringwal bug.
 *
 * Tier 2 adds media faults beyond the assumption: garbage sectors at a crash, bits flipped on
 * read, writes landing at the wrong offset. ringwal may lose acknowledged records then (it cannot
 * know), but must still answer with a typed WalError or with records that are exactly what was
 * appended under those LSNs.
 *
 * Rates are drawn per run from a small menu ("swarm testing"): a run with many write errors and
 * a run with none find different bugs, and neither is found by one averaged rate.
 */
import type { Prng } from './prng.js';

export type FaultTier = 1 | 2;

export interface FaultRates {
  tier: FaultTier;
  /** Bytes per sector: the unit in which a crash tears a write (each sector old or new). */
  sectorBytes: number;
  /** Direct-I/O alignment the simulated files report; also the segment block size. */
  alignmentBytes: number;
  /** At a crash, per unsynced write: probability it is lost entirely / applied entirely; the rest tear. */
  crashLostP: number;
  crashAppliedP: number;
  /** A write fails with EIO (its sectors may or may not have reached the medium). */
  writeEioP: number;
  /** A write fails with ENOSPC before anything is written. */
  writeEnospcP: number;
  /** A sync (or the sync half of a durable write) fails with EIO. */
  syncEioP: number;
  /** After a failed sync, probability the kernel dropped the dirty data (else it stays dirty). */
  syncFailDropsP: number;
  /**
   * After a failed sync of a buffered file, probability the kernel kept the failed pages cached
   * and marked them clean instead (Linux's behaviour): reads return data that is not on disk.
   */
  syncFailCleanP: number;
  /** A read returns fewer bytes than asked (at least one sector) before the end of the file. */
  shortReadP: number;
  /** A read fails with EIO, transiently (the next read of the same bytes may succeed). */
  readEioP: number;
  /** Tier 2: per torn sector, probability it holds random bytes instead of old or new ones. */
  garbageSectorP: number;
  /** Tier 2: per read, probability one bit of the returned bytes is flipped. */
  readBitFlipP: number;
  /** Tier 2: per write, probability it lands a few blocks away from where it was aimed. */
  misdirectedWriteP: number;
  /** Tier 2: per garbage sector, probability it reads back as a medium error (EIO) until rewritten. */
  unreadableSectorP: number;
  /**
   * A durable write stays in flight until it completes, outside every sync but its own: with
   * several batches in flight, a later one can be durable while an earlier one is lost or torn.
   */
  lateLandingP: number;
}

/** Draws the rates of one run. Zero is on every menu so that some runs see no fault of a kind. */
export function drawFaultRates(rng: Prng, tier: FaultTier): FaultRates {
  const sectorBytes = rng.pick([512, 4096]);
  const alignmentBytes = sectorBytes === 4096 ? 4096 : rng.pick([512, 4096]);
  const crashLostP = rng.pick([0, 0.2, 0.5]);
  const rates: FaultRates = {
    tier,
    sectorBytes,
    alignmentBytes,
    crashLostP,
    crashAppliedP: (1 - crashLostP) * rng.pick([0, 0.3, 0.6]),
    writeEioP: rng.pick([0, 0, 0.005, 0.03]),
    writeEnospcP: rng.pick([0, 0, 0.005, 0.03]),
    syncEioP: rng.pick([0, 0, 0.005, 0.03]),
    syncFailDropsP: rng.pick([0, 0.5, 1]),
    syncFailCleanP: 0,
    shortReadP: 0,
    readEioP: 0,
    garbageSectorP: 0,
    readBitFlipP: 0,
    misdirectedWriteP: 0,
    unreadableSectorP: 0,
    lateLandingP: 0,
  };
  if (tier === 2) {
    rates.garbageSectorP = rng.pick([0, 0.1, 0.5]);
    rates.readBitFlipP = rng.pick([0, 0.001, 0.01]);
    rates.misdirectedWriteP = rng.pick([0, 0.001, 0.005]);
    rates.unreadableSectorP = rng.pick([0, 0.5]);
  }
  // Drawn last, so that the faults above keep the rates they had for a seed before these existed.
  rates.syncFailCleanP = rng.pick([0, 0.5, 1]);
  rates.shortReadP = rng.pick([0, 0, 0.05, 0.3]);
  rates.readEioP = rng.pick([0, 0, 0.002, 0.01]);
  return rates;
}

/** No fault at all: used by the fuzzer, which damages files itself, and to let a stuck open through. */
export function noFaults(alignmentBytes: number): FaultRates {
  return {
    tier: 1,
    sectorBytes: Math.min(512, alignmentBytes),
    alignmentBytes,
    crashLostP: 0,
    crashAppliedP: 1,
    writeEioP: 0,
    writeEnospcP: 0,
    syncEioP: 0,
    syncFailDropsP: 0,
    syncFailCleanP: 0,
    shortReadP: 0,
    readEioP: 0,
    garbageSectorP: 0,
    readBitFlipP: 0,
    misdirectedWriteP: 0,
    unreadableSectorP: 0,
    lateLandingP: 0,
  };
}
