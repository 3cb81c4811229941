import type { Authentication, Credential } from './principal.js';

type Authenticated = Extract<Authentication, { status: 'authenticated' }>;

interface Entry {
  result: Authenticated;
  until: number;
}

export interface CredentialCacheOptions {
  /** How long a resolved credential is trusted without reading the database again. */
  ttlMs: number;
  /** The most credentials kept; the oldest is dropped first. */
  maxEntries: number;
  now?: () => number;
}

/**
 * Resolved sessions and tokens, kept for at most `ttlMs` so a busy client does not cost a database read per
 * request. A revocation on this process forgets its entries at once, the auth watcher's news from other processes
 * forgets them as it arrives, and the TTL bounds how long anything missed can be served. A lookup that began before
 * a forget is never stored (the epoch moved), so a stale answer cannot slip back in.
 * See docs/ARCHITECTURE.md, "Access control".
 */
export class CredentialCache {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;
  private generation = 0;

  constructor(private readonly options: CredentialCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Changes whenever something is forgotten; pass the value read before a lookup to `set`. */
  get epoch(): number {
    return this.generation;
  }

  /** The cached result for `key`, unless it is older than the TTL or its credential has lapsed. */
  get(key: string): Authenticated | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    const now = this.now();
    if (entry.until <= now || entry.result.credential.expiresAt.getTime() <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.result;
  }

  /** Keeps a result read from the database, unless something was forgotten since `epoch` was read. */
  set(key: string, result: Authenticated, epoch: number): void {
    if (epoch !== this.generation) return;
    this.entries.delete(key);
    if (this.entries.size >= this.options.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { result, until: this.now() + this.options.ttlMs });
  }

  /** Forgets every credential `match` selects (a signed-out session, a revoked token, a changed user). */
  forget(match: (credential: Credential) => boolean): void {
    this.generation += 1;
    for (const [key, entry] of this.entries) if (match(entry.result.credential)) this.entries.delete(key);
  }

  forgetSession(sessionId: string): void {
    this.forget((credential) => credential.kind === 'session' && credential.id === sessionId);
  }

  forgetToken(tokenId: string): void {
    this.forget((credential) => credential.kind === 'token' && credential.id === tokenId);
  }

  /** A user's sessions (their role, scope or standing changed). */
  forgetUser(userId: string): void {
    this.forget((credential) => credential.kind === 'session' && credential.userId === userId);
  }

  /** Everything (news may have been missed while the watcher was reconnecting). */
  clear(): void {
    this.generation += 1;
    this.entries.clear();
  }
}
