import type { Collection } from 'mongodb';
import type { ChaosClient } from './client.js';
import type { StoredOrder } from './writer.js';

/*
 * The truth the run checks against is the database itself, read through the driver: its change history on the
 * orders collection (every change, with its position) and its final documents.
 */

export interface TruthEvent {
  position: string;
  operation: string;
  id: unknown;
}

/** Opens a change stream at the present and returns its position (the post-batch token of an empty batch). */
export async function currentPosition(orders: Collection<StoredOrder>): Promise<string> {
  const stream = orders.watch([]);
  try {
    const change = await stream.tryNext();
    if (change !== null) throw new Error('a change arrived before the run started');
    const token = tokenData(stream.resumeToken);
    if (token === null) throw new Error('the change stream reported no position');
    return token;
  } finally {
    await stream.close();
  }
}

/** Every change to the orders collection after `since`, in commit order, read until the history is exhausted. */
export async function readHistory(
  orders: Collection<StoredOrder>,
  since: string,
  limit = 1_000_000,
): Promise<TruthEvent[]> {
  const stream = orders.watch([], { resumeAfter: { _data: since }, batchSize: 1000 });
  const events: TruthEvent[] = [];
  try {
    // An empty batch means the stream reached the present; two in a row rule out a batch boundary.
    let idle = 0;
    while (idle < 2 && events.length < limit) {
      const change = await stream.tryNext();
      if (change === null) {
        idle += 1;
        continue;
      }
      idle = 0;
      const position = tokenData(change._id);
      if (position === null) throw new Error('a change without a position');
      const key = 'documentKey' in change ? (change.documentKey as { _id?: unknown })._id : undefined;
      events.push({ position, operation: change.operationType, id: key });
    }
  } finally {
    await stream.close();
  }
  return events;
}

/** The change operations the order history records (every other operation on the collection is not a change). */
const RECORDED_OPERATIONS: ReadonlySet<string> = new Set(['insert', 'update', 'replace', 'delete']);

/** One stored history entry, as far as the check reads it. */
export interface HistoryRow {
  _id: string;
  order_id: number;
}

export interface HistoryVerdict {
  /** Changes in the database's history after the run's start. */
  expected: number;
  /** History entries after the run's start. */
  recorded: number;
  /** Changes with no entry. */
  missing: number;
  /** Entries that are no change of the database's history, or a change recorded more than once. */
  extra: number;
  examples: string[];
}

/** Checks the order history against the database's change history: every change recorded, none twice. */
export function verifyHistory(history: TruthEvent[], rows: HistoryRow[]): HistoryVerdict {
  const expected = history.filter((event) => RECORDED_OPERATIONS.has(event.operation));
  const byPosition = new Map<string, number>();
  for (const row of rows) byPosition.set(row._id, (byPosition.get(row._id) ?? 0) + 1);
  const examples: string[] = [];
  let missing = 0;
  for (const event of expected) {
    if (byPosition.has(event.position)) continue;
    missing += 1;
    if (examples.length < 5)
      examples.push(`missing: ${event.operation} ${String(event.id)} @${event.position.slice(-16)}`);
  }
  const known = new Map(expected.map((event) => [event.position, event]));
  let extra = 0;
  for (const [position, count] of byPosition) {
    const event = known.get(position);
    const surplus = event === undefined ? count : count - 1;
    const row = rows.find((candidate) => candidate._id === position);
    if (event !== undefined && row !== undefined && row.order_id !== event.id) {
      extra += 1;
      if (examples.length < 5) examples.push(`wrong order: ${String(row.order_id)} for ${String(event.id)}`);
    }
    if (surplus <= 0) continue;
    extra += surplus;
    if (examples.length < 5) examples.push(`extra: order ${String(row?.order_id)} @${position.slice(-16)} x${count}`);
  }
  return { expected: expected.length, recorded: rows.length, missing, extra, examples };
}

export interface ClientVerdict {
  name: string;
  /** Changes after a segment's start (and up to its end, when a resync ended it) that never arrived. */
  lost: number;
  /** Examples of lost positions, for the report. */
  lostExamples: string[];
  /** Orders whose final state in the client's view differs from the database's (missing, extra, other version). */
  divergent: number;
  divergentExamples: string[];
}

/** The fields a client's view must agree on with the database. */
function fingerprint(order: Pick<StoredOrder, 'version' | 'status' | 'customer_name' | 'product_name'>): string {
  return JSON.stringify([order.version, order.status, order.customer_name, order.product_name]);
}

/** Checks one client against the history and the final documents. */
export function verifyClient(client: ChaosClient, history: TruthEvent[], documents: StoredOrder[]): ClientVerdict {
  let lost = 0;
  const lostExamples: string[] = [];
  for (const segment of client.segments) {
    const end = segment.endedBy === 'resync' ? segment.last : null;
    for (const event of history) {
      if (event.position <= segment.start) continue;
      if (end !== null && event.position > end) break;
      if (!segment.received.has(event.position)) {
        lost += 1;
        if (lostExamples.length < 5)
          lostExamples.push(`${event.operation} ${String(event.id)} @${event.position.slice(-16)}`);
      }
    }
  }

  let divergent = 0;
  const divergentExamples: string[] = [];
  const note = (text: string): void => {
    divergent += 1;
    if (divergentExamples.length < 5) divergentExamples.push(text);
  };
  const stored = new Map<number, StoredOrder>();
  for (const doc of documents) stored.set(doc._id, doc);
  for (const [id, doc] of stored) {
    const held = client.view.get(id);
    if (!held) note(`order ${id} missing`);
    else if (fingerprint(held) !== fingerprint(doc)) {
      note(`order ${id}: client ${fingerprint(held)} vs database ${fingerprint(doc)}`);
    }
  }
  for (const id of client.view.keys()) if (!stored.has(id)) note(`order ${id} deleted in the database but held`);
  return { name: client.name, lost, lostExamples, divergent, divergentExamples };
}

function tokenData(token: unknown): string | null {
  if (typeof token === 'object' && token !== null && '_data' in token && typeof token._data === 'string')
    return token._data;
  return null;
}
