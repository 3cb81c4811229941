import { ObjectId, type ChangeStream, type Db, type Document } from 'mongodb';
import type { LiveConnections } from './live.js';
import { SESSIONS_COLLECTION } from './sessions.js';
import { TOKENS_COLLECTION } from './tokens.js';
import { USERS_COLLECTION } from './users.js';

export interface AuthWatcherLogger {
  warn(obj: object, msg: string): void;
}

/** User fields whose change alters what the user's open sockets may receive. */
const RIGHTS_FIELDS = new Set(['role', 'scope']);
const SHORTEST_RETRY_MS = 100;
const LONGEST_RETRY_MS = 5000;

/**
 * Watches `sessions`, `api_tokens` and `users` with one change stream per API process (no broker): a sign-out,
 * a revoked token, a disabled user or a changed role on any process closes the matching sockets on this one.
 * After the stream (re)opens, every live credential is checked again, since news may have been missed while it
 * was down. See docs/ARCHITECTURE.md, "Access control".
 */
export class AuthWatcher {
  private stream: ChangeStream | null = null;
  private closed = false;
  private running: Promise<void> | null = null;
  private wake: (() => void) | null = null;

  constructor(
    private readonly db: Db,
    private readonly live: LiveConnections,
    private readonly log: AuthWatcherLogger,
  ) {}

  /** Starts watching; resolves once the stream is established or its first attempt failed (it keeps retrying). */
  start(): Promise<void> {
    return new Promise((established) => {
      this.running ??= this.run(established);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.stream?.close().catch(() => undefined);
    await this.running;
  }

  /** A method, not the field: `close()` flips it while `run` awaits, which narrowing cannot see. */
  private isClosed(): boolean {
    return this.closed;
  }

  private async run(established: () => void): Promise<void> {
    let retryMs = SHORTEST_RETRY_MS;
    while (!this.closed) {
      const stream = this.db.watch(
        [{ $match: { 'ns.coll': { $in: [SESSIONS_COLLECTION, TOKENS_COLLECTION, USERS_COLLECTION] } } }],
        { fullDocument: 'default' },
      );
      this.stream = stream;
      try {
        // The first round trip establishes the cursor: from then on nothing is missed.
        const first = await stream.tryNext();
        established();
        retryMs = SHORTEST_RETRY_MS;
        if (first !== null) this.apply(first);
        await this.live.recheckAll();
        while (!this.isClosed()) this.apply(await stream.next());
      } catch (err) {
        established();
        if (this.isClosed()) break;
        this.log.warn({ err }, 'auth watcher: change stream failed; reopening');
      } finally {
        await stream.close().catch(() => undefined);
        this.stream = null;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, retryMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
      retryMs = Math.min(retryMs * 2, LONGEST_RETRY_MS);
    }
  }

  private apply(change: Document): void {
    const ns = change.ns as { coll?: unknown } | undefined;
    const key = (change.documentKey as { _id?: unknown } | undefined)?._id;
    const id = typeof key === 'string' ? key : key instanceof ObjectId ? key.toHexString() : null;
    if (id === null) return;
    const operation = change.operationType as string;
    switch (ns?.coll) {
      case SESSIONS_COLLECTION:
        if (operation === 'delete') this.live.sessionEnded(id);
        break;
      case TOKENS_COLLECTION:
        if (operation === 'delete') this.live.tokenEnded(id);
        break;
      case USERS_COLLECTION:
        this.applyUserChange(id, operation, change);
        break;
    }
  }

  private applyUserChange(userId: string, operation: string, change: Document): void {
    if (operation === 'delete') {
      this.live.userEnded(userId);
      return;
    }
    if (operation === 'replace') {
      // A whole-document replace (from outside the API) may have changed anything: check every socket again.
      void this.live.recheckAll();
      return;
    }
    if (operation !== 'update') return;
    const updated = (change.updateDescription as { updatedFields?: Record<string, unknown> } | undefined)
      ?.updatedFields;
    if (updated === undefined) return;
    if (updated.disabled === true) {
      this.live.userEnded(userId);
      return;
    }
    if (Object.keys(updated).some((field) => RIGHTS_FIELDS.has(field.split('.', 1)[0] ?? field))) {
      this.live.userRightsChanged(userId);
    }
  }
}
