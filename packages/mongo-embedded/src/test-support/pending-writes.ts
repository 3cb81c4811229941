/** The journal writes a store hands back through its `track` callback, for a test to wait on. */
export interface PendingWrites {
  /** Pass as a store write's `track` argument. */
  readonly track: (write: Promise<void>) => void;
  /** Resolves once every write tracked so far is journaled (and forgets them). */
  readonly settled: () => Promise<void>;
}

/** Collects the journal writes of a store under test. */
export function pendingWrites(): PendingWrites {
  const pending: Promise<void>[] = [];
  return {
    track: (write) => {
      pending.push(write);
    },
    settled: async () => {
      await Promise.all(pending.splice(0));
    },
  };
}
