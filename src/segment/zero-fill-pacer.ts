/**
 * When the zero-fill of the next segment (docs/design.md, "Creating a segment", S1) may put its
 * next chunk in the device queue.
 *
 * The log's batches and the fill share one device. A zero chunk written while a batch is on its
 * way delays that batch twice: in the queue, and in the batch's cache flush, which has to persist
 * the chunk's bytes as well. Filling 64 MiB in 1 MiB writes back to back, as soon as a segment was
 * sealed, made every batch of those 70 ms wait (bench/results/2026-12-02-open-loop-profile.md).
 * So the fill is paced by the writer:
 *
 *   1. one chunk in flight at a time (the fill awaits each chunk before it asks for the next);
 *   2. while the writer is idle (no batch in flight, none waiting), chunks go out back to back;
 *      idleness is judged on a later turn than the completion that ended a batch, so that an
 *      append made in reaction to that completion is seen first;
 *   3. while the writer is busy, a chunk goes out only right after a batch completed, when no
 *      further batch waits behind the one just submitted, and only as the schedule asks: every
 *      byte by which the log's durable end advances earns `ratio` bytes of zeros, the ratio set so
 *      that the fill is done once the log has used half the room it had when the fill began;
 *   4. a fill that falls behind its schedule by much (the writer never stops having a batch
 *      waiting) goes out right after a completion anyway, and chunk after chunk while it is behind,
 *      at the rate that still finishes it by the time the log has used 80 % of that room;
 *   5. a rollover that waits for the fill (R1) lifts all pacing, and closing the log aborts it.
 */
import assert from 'node:assert/strict';

/** What the pacer needs to know of the log's writer at any moment. */
export interface WriterActivity {
  /** A batch is in flight or about to be: records are encoded and not yet durable, or appends wait. */
  readonly busy: boolean;
}

/** One fill's view of the pacer. */
export interface ZeroFillPace {
  /** Resolves once the next chunk of `chunkBytes` may be submitted; rejects once the log closes. */
  turn(chunkBytes: number): Promise<void>;
  /** The fill is over (done or failed): the pacer forgets it. */
  end(): void;
}

/** The share of the room left at the start whose use should see the fill done (rule 3). */
const SCHEDULE_ROOM_SHARE = 0.5;
/**
 * The share of that room by which the fill must be done however busy the log is (rule 4). A
 * saturated writer fills the rest of its segment at this pace: the fill must be done with room to
 * spare, or the rollover waits for what is left of it.
 */
const DEADLINE_ROOM_SHARE = 0.8;

export class ZeroFillAborted extends Error {
  constructor() {
    super('the zero-fill was aborted: the log is closing');
    this.name = 'ZeroFillAborted';
  }
}

interface Fill {
  /** Zero bytes earned per byte the log advances, on the schedule and on the deadline. */
  scheduleRatio: number;
  deadlineRatio: number;
  /** Bytes of zeros earned and not yet spent on chunks; negative when ahead (idle time). */
  scheduleCreditBytes: number;
  deadlineCreditBytes: number;
  /** The turn waiting for permission, if any: one at a time (rule 1). */
  waiting: { chunkBytes: number; resolve: () => void; reject: (err: Error) => void } | null;
  idleCheckScheduled: boolean;
}

export class ZeroFillPacer {
  private activity: WriterActivity | null = null;
  private fill: Fill | null = null;
  private hurried = false;
  private closed = false;

  /** Tells the pacer how to see the writer; until then the log writes nothing and counts as idle. */
  attach(activity: WriterActivity): void {
    this.activity = activity;
  }

  private get writerBusy(): boolean {
    return this.activity !== null && this.activity.busy;
  }

  /**
   * Starts pacing a fill of `sizeBytes` that must be done before the log has written `roomBytes`
   * more into its active segment (where the rollover needs it). With no room, nothing is paced.
   */
  begin(sizeBytes: number, roomBytes: number): ZeroFillPace {
    assert(this.fill === null, 'one zero-fill at a time');
    assert(sizeBytes > 0, 'a fill of at least one chunk');
    const usable = (share: number): number => Math.max(1, roomBytes * share);
    const fill: Fill = {
      scheduleRatio: roomBytes <= 0 ? Infinity : sizeBytes / usable(SCHEDULE_ROOM_SHARE),
      deadlineRatio: roomBytes <= 0 ? Infinity : sizeBytes / usable(DEADLINE_ROOM_SHARE),
      scheduleCreditBytes: 0,
      deadlineCreditBytes: 0,
      waiting: null,
      idleCheckScheduled: false,
    };
    this.fill = fill;
    if (roomBytes <= 0) this.hurried = true;
    return {
      turn: (chunkBytes) => this.turn(fill, chunkBytes),
      end: () => {
        if (this.fill !== fill) return;
        this.fill = null;
        this.hurried = false;
      },
    };
  }

  private turn(fill: Fill, chunkBytes: number): Promise<void> {
    assert(fill.waiting === null, 'one chunk in flight at a time');
    if (this.closed) return Promise.reject(new ZeroFillAborted());
    // Behind the deadline, a chunk follows the last one without waiting for a completion: with
    // batches larger than a chunk (a saturated writer), one chunk per batch would fall further
    // behind at every batch, until the rollover had to wait for the rest of the fill.
    if (this.hurried || fill.deadlineCreditBytes >= chunkBytes) {
      this.spend(fill, chunkBytes);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      fill.waiting = { chunkBytes, resolve, reject };
      if (!this.writerBusy) this.checkIdleLater(fill);
    });
  }

  private spend(fill: Fill, chunkBytes: number): void {
    fill.scheduleCreditBytes -= chunkBytes;
    fill.deadlineCreditBytes -= chunkBytes;
  }

  private grant(fill: Fill): void {
    const waiting = fill.waiting;
    if (waiting === null) return;
    fill.waiting = null;
    this.spend(fill, waiting.chunkBytes);
    waiting.resolve();
  }

  /**
   * The writer's signal, once per batch: the batch is durable and the writer has submitted the
   * batch that was waiting, if any. `advanceBytes` is how far the durable end of the active
   * segment moved; `batchWaiting` whether more records are encoded or queued behind the batch
   * now in flight.
   */
  batchComplete(advanceBytes: number, batchWaiting: boolean): void {
    const fill = this.fill;
    if (fill === null) return;
    fill.scheduleCreditBytes += advanceBytes * fill.scheduleRatio;
    fill.deadlineCreditBytes += advanceBytes * fill.deadlineRatio;
    const waiting = fill.waiting;
    if (waiting === null) return;
    const due = (!batchWaiting && fill.scheduleCreditBytes >= waiting.chunkBytes) || fill.deadlineCreditBytes >= waiting.chunkBytes;
    if (due) this.grantAfterTick(fill);
    else if (!this.writerBusy) this.checkIdleLater(fill);
  }

  /**
   * Grants on process.nextTick: after the promise reactions of the appends the completion just
   * resolved, and after the flush those appends schedule (the writer flushes on nextTick too), so
   * that the chunk follows into the device queue the batch the completion set off.
   */
  private grantAfterTick(fill: Fill): void {
    const waiting = fill.waiting;
    process.nextTick(() => {
      if (this.fill === fill && fill.waiting === waiting) this.grant(fill);
    });
  }

  /** Rule 2: the writer looked idle after a completion; go only if it still is a turn later. */
  private checkIdleLater(fill: Fill): void {
    if (fill.idleCheckScheduled) return;
    fill.idleCheckScheduled = true;
    setImmediate(() => {
      fill.idleCheckScheduled = false;
      if (this.fill === fill && fill.waiting !== null && !this.writerBusy) this.grant(fill);
    });
  }

  /** Rule 5: a rollover waits for the fill. */
  hurry(): void {
    const fill = this.fill;
    if (fill === null) return;
    this.hurried = true;
    this.grant(fill);
  }

  /** The log closes: a fill waiting for its turn stops (its file is left for the next open to delete). */
  close(): void {
    this.closed = true;
    const waiting = this.fill?.waiting ?? null;
    if (this.fill !== null) this.fill.waiting = null;
    waiting?.reject(new ZeroFillAborted());
  }
}
