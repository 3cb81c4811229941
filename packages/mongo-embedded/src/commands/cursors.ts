import { BSON, Long } from 'bson';
import type { Doc } from '../query/index.js';
import type { ChangeLog } from '../storage/store.js';

/** What `openChangeStream` needs (ARCHITECTURE.md section 4). */
export interface ChangeStreamSpec {
  db: string;
  coll: string | null;
  stage: Doc;
  pipeline: Doc[];
}

export interface ChangeStreamCursor {
  next(
    batchSize: number,
    maxAwaitMs: number,
    signal: AbortSignal,
  ): Promise<{ events: Doc[]; postBatchResumeToken: Doc; invalidated: boolean }>;
  close(): void;
}

export type OpenChangeStream = (log: ChangeLog, spec: ChangeStreamSpec) => ChangeStreamCursor;

interface CursorBase {
  id: Long;
  key: string;
  /** `db.collection` the cursor reads; getMore must name the same collection. */
  ns: string;
  lastUsed: number;
}

export interface PlainCursor extends CursorBase {
  kind: 'plain';
  docs: Doc[];
  position: number;
}

export interface StreamCursor extends CursorBase {
  kind: 'stream';
  stream: ChangeStreamCursor;
  /** Aborts the getMore currently waiting on this cursor, when killCursors arrives. */
  waiting: AbortController | null;
  firstBatchToken: Doc | null;
}

export type Cursor = PlainCursor | StreamCursor;

/** Replies stay under the 16 MiB document limit; leave room for the envelope. */
const MAX_BATCH_BYTES = 16 * 1024 * 1024 - 64 * 1024;
const IDLE_CURSOR_TIMEOUT_MS = 10 * 60 * 1000;

function randomCursorId(): Long {
  for (;;) {
    const hi = Math.floor(Math.random() * 0x7fffffff);
    const lo = Math.floor(Math.random() * 0x100000000);
    const id = Long.fromBits(lo | 0, hi, false);
    if (!id.isZero()) return id;
  }
}

/** Takes up to `batchSize` documents from `docs` starting at `from`, also capped by reply size. */
export function takeBatch(docs: Doc[], from: number, batchSize: number): Doc[] {
  const out: Doc[] = [];
  let bytes = 0;
  for (let i = from; i < docs.length && out.length < batchSize; i++) {
    const doc = docs[i]!;
    bytes += BSON.calculateObjectSize(doc);
    if (bytes > MAX_BATCH_BYTES && out.length > 0) break;
    out.push(doc);
  }
  return out;
}

/** Server-side cursors, by id. Idle plain cursors time out after 10 minutes, like mongod's. */
export class CursorManager {
  private readonly cursors = new Map<string, Cursor>();
  private readonly sweeper: NodeJS.Timeout;

  constructor() {
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }

  get size(): number {
    return this.cursors.size;
  }

  registerPlain(ns: string, docs: Doc[], position: number): PlainCursor {
    const id = randomCursorId();
    const cursor: PlainCursor = { kind: 'plain', id, key: id.toString(), ns, docs, position, lastUsed: Date.now() };
    this.cursors.set(cursor.key, cursor);
    return cursor;
  }

  registerStream(ns: string, stream: ChangeStreamCursor): StreamCursor {
    const id = randomCursorId();
    const cursor: StreamCursor = {
      kind: 'stream',
      id,
      key: id.toString(),
      ns,
      stream,
      waiting: null,
      firstBatchToken: null,
      lastUsed: Date.now(),
    };
    this.cursors.set(cursor.key, cursor);
    return cursor;
  }

  get(id: Long): Cursor | undefined {
    const c = this.cursors.get(id.toString());
    if (c) c.lastUsed = Date.now();
    return c;
  }

  /** Closes and forgets a cursor; returns whether it existed. */
  kill(id: Long): boolean {
    const c = this.cursors.get(id.toString());
    if (!c) return false;
    this.cursors.delete(c.key);
    if (c.kind === 'stream') {
      c.waiting?.abort();
      c.stream.close();
    }
    return true;
  }

  closeAll(): void {
    clearInterval(this.sweeper);
    for (const c of [...this.cursors.values()]) this.kill(c.id);
  }

  private sweep(): void {
    const cutoff = Date.now() - IDLE_CURSOR_TIMEOUT_MS;
    for (const c of [...this.cursors.values()]) {
      if (c.lastUsed < cutoff && !(c.kind === 'stream' && c.waiting)) this.kill(c.id);
    }
  }
}
