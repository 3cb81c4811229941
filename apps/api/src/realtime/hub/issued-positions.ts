/*
 * Which positions this hub has handed out, so that a `since` it never issued is refused rather than resumed.
 * See docs/ARCHITECTURE.md, "Abuse limits".
 */

/** How many idle positions (GET /orders may hand them out between events) the hub recognizes exactly. */
const MAX_IDLE_POSITIONS = 1024;

/** The one spelling of positions this server issues (resume tokens' hex, upper case). */
const CANONICAL_POSITION = /^[0-9A-F]+$/;

/** True when `position` is spelled as this server spells positions. */
export function isCanonicalPosition(position: string): boolean {
  return CANONICAL_POSITION.test(position);
}

/** The idle positions the feed advanced to, newest last, bounded to the most recent MAX_IDLE_POSITIONS. */
export class IdlePositions {
  private readonly positions = new Set<string>();

  add(position: string): void {
    this.positions.add(position);
    if (this.positions.size > MAX_IDLE_POSITIONS) {
      const oldest = this.positions.values().next();
      if (oldest.done !== true) this.positions.delete(oldest.value);
    }
  }

  has(position: string): boolean {
    return this.positions.has(position);
  }

  clear(): void {
    this.positions.clear();
  }
}
