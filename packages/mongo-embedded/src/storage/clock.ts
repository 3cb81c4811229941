import { Timestamp } from 'bson';

/**
 * The engine's cluster time: a strictly increasing Timestamp(unixSeconds, counter), one tick per document write.
 * Never goes backwards, even when the wall clock does or after a restart (`advanceTo` restores the floor).
 */
export class ClusterClock {
  private t: number;
  private i: number;

  constructor(private readonly now: () => number = Date.now) {
    this.t = Math.floor(now() / 1000);
    this.i = 0;
  }

  /** The latest time handed out (or the start time when nothing was written yet). */
  get current(): Timestamp {
    return new Timestamp({ t: this.t, i: this.i });
  }

  /** Returns a new time strictly greater than every earlier one. */
  tick(): Timestamp {
    const secs = Math.floor(this.now() / 1000);
    if (secs > this.t) {
      this.t = secs;
      this.i = 1;
    } else if (this.i >= 0xffffffff) {
      this.t += 1;
      this.i = 1;
    } else {
      this.i += 1;
    }
    return this.current;
  }

  /** Makes sure later ticks are greater than `ts` (used when recovering persisted state). */
  advanceTo(ts: Timestamp): void {
    if (ts.t > this.t || (ts.t === this.t && ts.i > this.i)) {
      this.t = ts.t;
      this.i = ts.i;
    }
  }
}
