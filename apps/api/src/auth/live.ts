import { CloseCode } from '@orders/contracts';
import type { Authentication, Credential, Principal } from './principal.js';

/** How a live connection is closed: the WebSocket close code and reason. */
export type CloseLive = (code: number, reason: string) => void;

interface LiveEntry {
  credential: Credential;
  principal: Principal;
  close: CloseLive;
  timer: NodeJS.Timeout | null;
}

/** setTimeout's longest delay; later deadlines are re-armed in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface LiveConnectionsOptions {
  /** Reads a credential again (the auth service's `recheck`). */
  recheck(credential: Credential): Promise<Authentication>;
  onError(err: unknown): void;
  now?: () => number;
}

/**
 * Every live WebSocket with the credential it was opened with, so the end of a credential closes its sockets:
 * a revoked session or token or a disabled user with 4401, a changed role or scope with 4403. The news comes
 * from the auth watcher (every process watches the collections) and from a timer at the credential's expiry.
 * See docs/ARCHITECTURE.md, "Access control".
 */
export class LiveConnections {
  private readonly entries = new Set<LiveEntry>();
  private readonly now: () => number;

  constructor(private readonly options: LiveConnectionsOptions) {
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Tracks a connection until the returned function is called (when it closes). */
  add(credential: Credential, principal: Principal, close: CloseLive): () => void {
    const entry: LiveEntry = { credential, principal, close, timer: null };
    this.entries.add(entry);
    this.arm(entry);
    return () => this.drop(entry);
  }

  /** A session ended (signed out, expired, revoked). */
  sessionEnded(sessionId: string): void {
    this.closeWhere((e) => e.credential.kind === 'session' && e.credential.id === sessionId, CloseCode.Unauthenticated);
  }

  /** A token was revoked or expired. */
  tokenEnded(tokenId: string): void {
    this.closeWhere((e) => e.credential.kind === 'token' && e.credential.id === tokenId, CloseCode.Unauthenticated);
  }

  /** A user was disabled or removed: every socket of every session of theirs. */
  userEnded(userId: string): void {
    this.closeWhere(
      (e) => e.credential.kind === 'session' && e.credential.userId === userId,
      CloseCode.Unauthenticated,
    );
  }

  /** A user's role or scope changed: their sockets were opened under the old rights. */
  userRightsChanged(userId: string): void {
    this.closeWhere((e) => e.credential.kind === 'session' && e.credential.userId === userId, CloseCode.Forbidden);
  }

  /** Checks every live credential again (after the watcher reopened and may have missed news). */
  async recheckAll(): Promise<void> {
    await Promise.all([...this.entries].map((entry) => this.recheck(entry)));
  }

  /** Stops every timer (shutdown; the sockets themselves are closed by the hub). */
  close(): void {
    for (const entry of this.entries) this.drop(entry);
  }

  private closeWhere(match: (entry: LiveEntry) => boolean, code: number): void {
    for (const entry of [...this.entries]) {
      if (!match(entry)) continue;
      this.drop(entry);
      entry.close(code, code === CloseCode.Forbidden ? 'rights changed' : 'signed out');
    }
  }

  private drop(entry: LiveEntry): void {
    if (entry.timer !== null) clearTimeout(entry.timer);
    entry.timer = null;
    this.entries.delete(entry);
  }

  private arm(entry: LiveEntry): void {
    const delay = Math.max(0, Math.min(entry.credential.expiresAt.getTime() - this.now(), MAX_TIMER_MS));
    entry.timer = setTimeout(() => {
      entry.timer = null;
      void this.recheck(entry);
    }, delay);
    entry.timer.unref();
  }

  private async recheck(entry: LiveEntry): Promise<void> {
    let result: Authentication;
    try {
      result = await this.options.recheck(entry.credential);
    } catch (err) {
      // The database is unreachable: keep the socket and look again shortly rather than cut everyone off.
      this.options.onError(err);
      if (this.entries.has(entry)) {
        if (entry.timer !== null) clearTimeout(entry.timer);
        entry.timer = setTimeout(() => void this.recheck(entry), 1000);
        entry.timer.unref();
      }
      return;
    }
    if (!this.entries.has(entry)) return;
    if (result.status !== 'authenticated') {
      this.drop(entry);
      entry.close(CloseCode.Unauthenticated, 'signed out');
      return;
    }
    if (!sameRights(result.principal, entry.principal)) {
      this.drop(entry);
      entry.close(CloseCode.Forbidden, 'rights changed');
      return;
    }
    entry.credential = result.credential;
    if (entry.timer !== null) clearTimeout(entry.timer);
    this.arm(entry);
  }
}

function sameRights(a: Principal, b: Principal): boolean {
  return a.role === b.role && JSON.stringify(a.scope) === JSON.stringify(b.scope);
}
