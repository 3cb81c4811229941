import { Binary, Long } from 'bson';
import { MongoServerError, type Doc } from '../query/index.js';
import { writeConflict, type Collection, type Store, type WriteBatch } from '../storage/store.js';
import { TransactionView, type SnapshotImages } from '../storage/transaction-view.js';
import { isDoc, toBool } from './util.js';

/** mongod's `transactionLifetimeLimitSeconds` default: an open transaction older than this is aborted. */
export const TRANSACTION_LIFETIME_MS = 60_000;
const SWEEP_EVERY_MS = 1_000;
const MAX_REMEMBERED_SESSIONS = 10_000;

/** Commands a multi-document transaction may run (mongod 7.0's list, less what this engine refuses). */
const ALLOWED_IN_TRANSACTION = new Set([
  'insert',
  'update',
  'delete',
  'findAndModify',
  'findandmodify',
  'find',
  'getMore',
  'killCursors',
  'aggregate',
  'distinct',
  'create',
  'createIndexes',
  'commitTransaction',
  'abortTransaction',
]);

type TxnState = 'inProgress' | 'committed' | 'aborted';

/** One multi-document transaction of a session. */
export interface Transaction {
  readonly sessionKey: string;
  readonly lsid: Doc;
  readonly txnNumber: Long;
  state: TxnState;
  /** The transaction's snapshot plus its own writes; what its commands read and write. */
  readonly view: TransactionView;
  /** Why it was aborted by someone else (a conflicting write, its lifetime); null while it runs. */
  abortReason: string | null;
  /** Resolves once the commit is durable; a retried commitTransaction waits for it too. */
  committed: Promise<void> | null;
  readonly images: SnapshotImages;
  /** `ns\0idKey` of every document the transaction wrote. */
  readonly written: Set<string>;
  readonly startedAt: number;
  /** Resolves when the transaction commits or aborts (writes waiting for it go on then). */
  readonly ended: Promise<void>;
  end: () => void;
}

/**
 * Thrown by a write outside transactions that must wait for an open transaction: the dispatcher waits for `ended`
 * and runs the command again. Not a MongoServerError, so command handlers do not turn it into a write error.
 */
export class BlockedByTransaction extends Error {
  constructor(readonly ended: Promise<void>) {
    super('the write waits for an open transaction');
  }
}

/** The session key of an `lsid` (its UUID as hex), or null. */
export function sessionKey(lsid: unknown): string | null {
  if (!isDoc(lsid)) return null;
  const id = lsid.id;
  return id instanceof Binary ? id.toString('hex') : null;
}

function transient(code: number, codeName: string, message: string): MongoServerError {
  return new MongoServerError(code, codeName, message, { errorLabels: ['TransientTransactionError'] });
}

function noSuchTransaction(message: string): MongoServerError {
  return transient(251, 'NoSuchTransaction', message);
}

function invalidOptions(message: string): MongoServerError {
  return new MongoServerError(72, 'InvalidOptions', message);
}

/**
 * Single-node multi-document transactions with snapshot isolation. A transaction reads the committed state as of
 * its first command plus its own writes, and its writes reach the store (and change streams) only at commit, as
 * one journal record. Write conflicts are decided at the write, as mongod does: writing a document that another
 * open transaction wrote, or that changed since the snapshot, answers WriteConflict (112, TransientTransactionError)
 * and aborts the transaction. A write outside transactions to a document an open transaction wrote waits for that
 * transaction to end (see `beforeCommittedWrite`).
 */
export class TransactionManager {
  private readonly sessions = new Map<string, Transaction>();
  private readonly active = new Set<Transaction>();
  private sweeper: NodeJS.Timeout | null = null;
  private started = 0;
  private committedCount = 0;
  private abortedCount = 0;

  constructor(private readonly store: Store) {}

  /** Open transactions. */
  get openCount(): number {
    return this.active.size;
  }

  /** serverStatus' `transactions` section (the counters mongod reports for a replica-set member). */
  stats(): Doc {
    return {
      currentActive: Long.ZERO,
      currentInactive: Long.fromNumber(this.active.size),
      currentOpen: Long.fromNumber(this.active.size),
      totalAborted: Long.fromNumber(this.abortedCount),
      totalCommitted: Long.fromNumber(this.committedCount),
      totalStarted: Long.fromNumber(this.started),
    };
  }

  /** `endSessions`: the open transactions of the ended sessions are aborted, as mongod does. */
  endSessions(lsids: unknown): void {
    if (!Array.isArray(lsids)) return;
    for (const lsid of lsids) {
      const key = sessionKey(lsid);
      const txn = key === null ? undefined : this.sessions.get(key);
      if (txn) this.abort(txn, 'its session ended');
    }
  }

  /**
   * Finds (or, with `startTransaction`, begins) the transaction of a command carrying `autocommit`. Throws the
   * errors mongod gives for a missing session, a wrong txnNumber or an aborted transaction.
   */
  enter(name: string, body: Doc): Transaction {
    // mongod's checks of the session fields, in its order and with its messages.
    const lsid = body.lsid;
    const key = sessionKey(lsid);
    const txnNumber = body.txnNumber;
    if (txnNumber !== undefined && (key === null || !isDoc(lsid))) {
      throw invalidOptions('Transaction number requires a session ID to also be specified');
    }
    if (body.autocommit !== undefined && txnNumber === undefined) {
      throw invalidOptions("'autocommit' field requires a transaction number to also be specified");
    }
    if (body.autocommit === undefined) {
      throw invalidOptions("'startTransaction' field requires 'autocommit' field to also be specified");
    }
    if (body.autocommit !== false) invalidOptionsFor(body);
    if (key === null || !isDoc(lsid) || !(txnNumber instanceof Long)) {
      throw new MongoServerError(14, 'TypeMismatch', "BSON field 'txnNumber' is the wrong type, expected type 'long'");
    }
    const previous = this.sessions.get(key);
    if (body.startTransaction !== undefined) {
      if (body.startTransaction !== true) throw invalidOptions('Specifying startTransaction=false is not allowed.');
      if (previous && previous.txnNumber.greaterThanOrEqual(txnNumber)) {
        const which = previous.txnNumber.equals(txnNumber) ? 'this' : 'a newer';
        throw new MongoServerError(
          225,
          'TransactionTooOld',
          `Cannot start transaction ${txnNumber.toString()} on session ${key} because ${which} transaction with txnNumber ${previous.txnNumber.toString()} has already started`,
        );
      }
      if (previous?.state === 'inProgress') this.abort(previous, 'a newer transaction started on its session');
      if (name === 'commitTransaction' || name === 'abortTransaction') {
        throw noSuchTransaction(`Transaction with { txnNumber: ${txnNumber.toString()} } has not been started`);
      }
      return this.begin(key, lsid, txnNumber);
    }
    if (!previous || !previous.txnNumber.equals(txnNumber)) {
      if (previous?.txnNumber.greaterThan(txnNumber)) {
        throw new MongoServerError(
          225,
          'TransactionTooOld',
          `Cannot continue transaction ${txnNumber.toString()} on session ${key} because a newer transaction with txnNumber ${previous.txnNumber.toString()} has already started`,
        );
      }
      throw noSuchTransaction(
        `Given transaction number ${txnNumber.toString()} does not match any in-progress transactions.` +
          (previous ? ` The active transaction number is ${previous.txnNumber.toString()}` : ''),
      );
    }
    return this.continueTransaction(name, previous);
  }

  private continueTransaction(name: string, txn: Transaction): Transaction {
    const n = txn.txnNumber.toString();
    if (txn.state === 'committed') {
      // A retried commit is answered as the first one was (once that one is durable).
      if (name === 'commitTransaction') return txn;
      throw new MongoServerError(
        256,
        'TransactionCommitted',
        `Transaction with { txnNumber: ${n} } has been committed.`,
      );
    }
    if (txn.state === 'aborted') {
      const why = txn.abortReason ? ` (${txn.abortReason})` : '';
      if (name === 'abortTransaction') {
        throw new MongoServerError(251, 'NoSuchTransaction', `Transaction with { txnNumber: ${n} } has been aborted.`);
      }
      throw noSuchTransaction(`Transaction with { txnNumber: ${n} } has been aborted${why}.`);
    }
    if (!ALLOWED_IN_TRANSACTION.has(name)) {
      this.abort(txn, null);
      throw new MongoServerError(
        263,
        'OperationNotSupportedInTransaction',
        `Cannot run '${name}' in a multi-document transaction.`,
      );
    }
    return txn;
  }

  private begin(key: string, lsid: Doc, txnNumber: Long): Transaction {
    const images: SnapshotImages = new Map();
    const written = new Set<string>();
    let end = (): void => undefined;
    const ended = new Promise<void>((resolve) => (end = resolve));
    const txn: Transaction = {
      ended,
      end,
      sessionKey: key,
      lsid,
      txnNumber,
      state: 'inProgress',
      abortReason: null,
      committed: null,
      images,
      written,
      startedAt: Date.now(),
      view: new TransactionView(this.store, images, {
        check: (ns, idKey) => {
          const changed = images.get(ns)?.has(idKey) === true;
          if (changed || this.writtenByOther(txn, `${ns}\0${idKey}`)) {
            this.abort(txn, 'write conflict');
            throw writeConflict();
          }
        },
        wrote: (ns, idKey) => written.add(`${ns}\0${idKey}`),
      }),
    };
    this.sessions.delete(key);
    this.sessions.set(key, txn);
    if (this.sessions.size > MAX_REMEMBERED_SESSIONS) this.forgetOldestSession();
    this.active.add(txn);
    this.started++;
    this.watchStore();
    return txn;
  }

  private writtenByOther(txn: Transaction, key: string): boolean {
    for (const other of this.active) if (other !== txn && other.written.has(key)) return true;
    return false;
  }

  /** Runs the commit: the transaction's writes become one journalled batch. Returns the reply payload. */
  commit(txn: Transaction, track: (durable: Promise<void>) => void): Doc {
    this.active.delete(txn);
    this.unwatchStoreIfIdle();
    try {
      this.store.applyTransaction(
        { lsid: txn.lsid, txnNumber: txn.txnNumber, inTransaction: true },
        txn.view.entries,
        (durable) => {
          txn.committed = durable;
          track(durable);
        },
      );
    } catch (err) {
      txn.state = 'aborted';
      this.abortedCount++;
      txn.end();
      txn.abortReason = 'its commit conflicted with a write outside the transaction';
      if (err instanceof MongoServerError && err.code === 11000) throw writeConflict();
      throw err;
    }
    txn.state = 'committed';
    this.committedCount++;
    txn.end();
    return {};
  }

  /** abortTransaction, or an error inside the transaction: its writes are dropped. */
  abort(txn: Transaction, reason: string | null): void {
    if (txn.state !== 'inProgress') return;
    txn.state = 'aborted';
    this.abortedCount++;
    txn.end();
    txn.abortReason = reason;
    this.active.delete(txn);
    this.unwatchStoreIfIdle();
  }

  /** Aborts every open transaction and stops the lifetime sweep. */
  close(): void {
    for (const txn of [...this.active]) this.abort(txn, 'the server is shutting down');
    this.unwatchStoreIfIdle();
  }

  private forgetOldestSession(): void {
    for (const [key, txn] of this.sessions) {
      if (txn.state === 'inProgress') continue;
      this.sessions.delete(key);
      return;
    }
  }

  private watchStore(): void {
    this.store.documentWriteObserver = {
      beforeWrite: (coll, idKey, batch) => this.beforeCommittedWrite(coll, idKey, batch),
      afterWrite: (coll, idKey, before) => this.committedWrite(coll, idKey, before),
    };
    this.sweeper ??= setInterval(() => this.sweep(), SWEEP_EVERY_MS);
    this.sweeper.unref();
  }

  private unwatchStoreIfIdle(): void {
    if (this.active.size > 0) return;
    this.store.documentWriteObserver = null;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
  }

  /**
   * A write outside transactions to a document an open transaction wrote waits for that transaction, as in mongod:
   * the command is re-run once the transaction ends, which is safe while it has changed nothing yet. Otherwise (a
   * later document of a multi-document write, or a commit) the transaction loses and is aborted.
   */
  private beforeCommittedWrite(coll: Collection, idKey: string, batch: WriteBatch): void {
    const key = `${coll.ns}\0${idKey}`;
    for (const txn of this.active) {
      if (!txn.written.has(key)) continue;
      if (batch.session && !batch.session.applied && !batch.session.inTransaction) {
        throw new BlockedByTransaction(txn.ended);
      }
      this.abort(txn, 'a write outside the transaction changed a document it wrote');
    }
  }

  /** A committed write: open transactions keep the document as their snapshot had it. */
  private committedWrite(coll: Collection, idKey: string, before: Doc | null): void {
    const ns = coll.ns;
    for (const txn of this.active) {
      let images = txn.images.get(ns);
      if (!images) txn.images.set(ns, (images = new Map<string, Doc | null>()));
      if (!images.has(idKey)) images.set(idKey, before);
    }
  }

  private sweep(): void {
    const cutoff = Date.now() - TRANSACTION_LIFETIME_MS;
    for (const txn of [...this.active]) {
      if (txn.startedAt < cutoff) this.abort(txn, 'it exceeded the transaction lifetime limit');
    }
  }
}

function invalidOptionsFor(body: Doc): never {
  if (toBool(body.autocommit)) throw invalidOptions('Specifying autocommit=true is not allowed.');
  throw new MongoServerError(
    14,
    'TypeMismatch',
    "BSON field 'OperationSessionInfo.autocommit' is the wrong type, expected type 'bool'",
  );
}
