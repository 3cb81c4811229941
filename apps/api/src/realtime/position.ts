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
