/*
 * Replay budgets: the bytes of replayed events a client may receive per window, kept per principal and per
 * address, so reconnecting in a loop with an old position cannot make the server send the same history again and
 * again. A client past its budget is told to `resync` (`replay_limited`) and reads its list again instead, which
 * costs no more than the replay. See docs/ARCHITECTURE.md, "Abuse limits".
 */

/** One budget a replay is paid from: its key (`principal:…`, `address:…`) and its size in bytes per window. */
export interface ReplayAccount {
  key: string;
  bytes: number;
}

export interface ReplayBudgetOptions {
  /** A budget refills from empty to full over this, continuously (a token bucket). */
  windowMs: number;
  /** The most keys remembered; past it full ones are forgotten first, then the oldest (default 10,000). */
  maxKeys?: number;
  now?: () => number;
}

interface Bucket {
  /** Bytes left at `at`. */
  left: number;
  at: number;
  capacity: number;
}

/** Token buckets of replay bytes by key; an account never charged (or refilled since) is full. */
export class ReplayBudgets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(options: ReplayBudgetOptions) {
    this.windowMs = options.windowMs;
    this.maxKeys = options.maxKeys ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** Keys currently remembered (the rest are full). */
  get size(): number {
    return this.buckets.size;
  }

  /** True when every account has some of its budget left. */
  available(accounts: readonly ReplayAccount[]): boolean {
    const now = this.now();
    return accounts.every((account) => this.left(account, now) > 0);
  }

  /**
   * Takes `bytes` from every account if each can pay them all, and says so; otherwise takes nothing. A replay
   * larger than an account's whole budget is never paid.
   */
  take(accounts: readonly ReplayAccount[], bytes: number): boolean {
    if (bytes <= 0) return true;
    const now = this.now();
    if (!accounts.every((account) => this.left(account, now) >= bytes)) return false;
    for (const account of accounts) {
      const left = this.left(account, now) - bytes;
      this.buckets.delete(account.key);
      this.buckets.set(account.key, { left, at: now, capacity: account.bytes });
    }
    if (this.buckets.size > this.maxKeys) this.prune(now);
    return true;
  }

  private left(account: ReplayAccount, now: number): number {
    const bucket = this.buckets.get(account.key);
    if (bucket === undefined) return account.bytes;
    return Math.min(account.bytes, bucket.left + ((now - bucket.at) * account.bytes) / this.windowMs);
  }

  /** Forgets full buckets (the same as absent), then the least recently charged until within `maxKeys`. */
  private prune(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (bucket.left + ((now - bucket.at) * bucket.capacity) / this.windowMs >= bucket.capacity) {
        this.buckets.delete(key);
      }
    }
    for (const key of this.buckets.keys()) {
      if (this.buckets.size <= this.maxKeys) break;
      this.buckets.delete(key);
    }
  }
}
