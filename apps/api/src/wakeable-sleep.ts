/**
 * A wait that its owner can cut short: the feed's retry backoff and the history writer's batching window both sleep
 * with it, and `close()` wakes them so shutdown never waits out a timer.
 */
export class WakeableSleep {
  private wakeCurrent: (() => void) | null = null;

  /** Resolves after `ms`, or as soon as `wake()` is called. */
  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeCurrent = done;
    }).finally(() => {
      this.wakeCurrent = null;
    });
  }

  /** Ends the current sleep now; nothing when none is running. */
  wake(): void {
    this.wakeCurrent?.();
  }
}
