/**
 * The change feed's current position: the latest resume token the feed handed on (an event's, or the idle
 * post-batch token), null before the first and after a reset. It has ONE writer, the feed; the hub reads it to
 * decide what it can replay and where live delivery stands, and `GET /orders` reads it before its snapshot, so
 * both always agree. See docs/ARCHITECTURE.md, "Snapshot with position".
 */
export class FeedPosition {
  private value: string | null = null;

  /** The current position. */
  current(): string | null {
    return this.value;
  }

  /** Moves to `position` (the feed's only; positions only move forward, except through `set`). */
  set(position: string | null): void {
    this.value = position;
  }
}

/**
 * A position that sorts after every event committed at or before `clusterTime` and before every later one. Resume
 * tokens (MongoDB's and the embedded engine's alike) are uppercase hex starting with `82` and the event's cluster
 * time as 16 hex digits, so their text sorts in commit order; this one carries the time followed by the largest
 * digits. It marks what a read at that time already reflects (the counts' position); it is never a place to resume
 * from. See docs/ARCHITECTURE.md, "Snapshot with position".
 */
export function positionAtClusterTime(clusterTime: { high: number; low: number }): string {
  const hex = (n: number) => (n >>> 0).toString(16).toUpperCase().padStart(8, '0');
  return `82${hex(clusterTime.high)}${hex(clusterTime.low)}${'F'.repeat(18)}`;
}
