import type { TtlMonitor } from '../storage/ttl.js';
import { Binary, Long } from 'bson';
import { MongoServerError, type Doc } from '../query/index.js';
import { writeConflict, type Store } from '../storage/store.js';
import { CLOSE_CONNECTION, type ConnectionContext } from '../wire/connection.js';
import { MAX_COMMAND_BODY_SIZE } from '../wire/protocol.js';
import * as admin from './admin.js';
import type { CommandContext, CommandHandler, ConnectionState, ServerInfo } from './context.js';
import { aggregate, getMore, killCursors } from './cursor-commands.js';
import { CursorManager, type OpenChangeStream } from './cursors.js';
import * as crud from './crud.js';
import * as ddl from './ddl.js';
import { FailPoints } from './failpoints.js';
import * as stats from './stats.js';
import { BlockedByTransaction, sessionKey, TransactionManager } from './transactions.js';
import { errorFields, isDoc, toBool } from './util.js';

const HANDLERS: Record<string, CommandHandler> = {
  hello: admin.hello,
  isMaster: admin.hello,
  ismaster: admin.hello,
  ping: admin.ok,
  buildInfo: admin.buildInfo,
  buildinfo: admin.buildInfo,
  getParameter: admin.getParameter,
  setParameter: admin.setParameter,
  getCmdLineOpts: admin.getCmdLineOpts,
  serverStatus: admin.serverStatus,
  hostInfo: admin.hostInfo,
  replSetGetStatus: admin.replSetGetStatus,
  whatsmyuri: admin.whatsmyuri,
  connectionStatus: admin.connectionStatus,
  getLog: admin.getLog,
  endSessions: (ctx) => {
    ctx.transactions.endSessions(ctx.body.endSessions);
    return {};
  },
  killAllSessions: admin.ok,
  killSessions: admin.ok,
  refreshSessions: admin.ok,
  startSession: () => ({ id: { id: new Binary(crypto.getRandomValues(new Uint8Array(16)), 4) }, timeoutMinutes: 30 }),
  insert: crud.insert,
  update: crud.update,
  delete: crud.remove,
  findAndModify: crud.findAndModify,
  findandmodify: crud.findAndModify,
  find: crud.find,
  getMore,
  killCursors,
  aggregate: (ctx) => {
    const pipeline = ctx.body.pipeline;
    const first: unknown = Array.isArray(pipeline) ? pipeline[0] : undefined;
    if (ctx.body.explain !== undefined && toBool(ctx.body.explain)) return stats.explainAggregate(ctx, ctx.body, true);
    if (isDoc(first) && '$collStats' in first && typeof ctx.body.aggregate === 'string') {
      return stats.collStatsAggregate(ctx, ctx.body.aggregate, pipeline as Doc[]);
    }
    return aggregate(ctx);
  },
  count: crud.count,
  distinct: crud.distinct,
  explain: (ctx) => {
    const inner = ctx.body.explain;
    if (isDoc(inner) && Object.keys(inner)[0] === 'aggregate')
      return stats.explainAggregate(ctx, inner, ctx.body.verbosity);
    return crud.explain(ctx);
  },
  create: ddl.create,
  drop: ddl.drop,
  dropDatabase: ddl.dropDatabase,
  renameCollection: ddl.renameCollection,
  collMod: ddl.collMod,
  createIndexes: ddl.createIndexes,
  listIndexes: ddl.listIndexes,
  dropIndexes: ddl.dropIndexes,
  deleteIndexes: ddl.dropIndexes,
  listCollections: ddl.listCollections,
  listDatabases: ddl.listDatabases,
  dbStats: ddl.dbStats,
  collStats: stats.collStats,
  replSetGetConfig: stats.replSetGetConfig,
  commitTransaction: () => {
    throw new MongoServerError(125, 'CommandFailed', 'commitTransaction must be run within a transaction');
  },
  abortTransaction: () => {
    throw new MongoServerError(125, 'CommandFailed', 'abortTransaction must be run within a transaction');
  },
};

/** Commands that a `txnNumber` makes retryable (and therefore deduplicated). */
const RETRYABLE_WRITES = new Set(['insert', 'update', 'delete', 'findAndModify', 'findandmodify']);
const MAX_REMEMBERED_SESSIONS = 10_000;

interface RetryEntry {
  txnNumber: bigint;
  outcome: Promise<Doc>;
}

export interface DispatcherOptions {
  store: Store;
  info: ServerInfo;
  openChangeStream: OpenChangeStream | null;
  logger: { error(msg: string): void; warn(msg: string): void };
  /** The TTL monitor that setParameter/getParameter and serverStatus report on (none: no TTL expiry). */
  ttl?: TtlMonitor;
}

/** The (unsigned) $clusterTime signature: the same on every reply, so built once (replies are only serialized). */
const SIGNATURE: Doc = Object.freeze({ hash: new Binary(Buffer.alloc(20), 0), keyId: Long.ZERO });

/** Routes requests to command handlers and wraps every reply in the envelope (ok, operationTime, $clusterTime). */
export class Dispatcher {
  readonly cursors = new CursorManager();
  readonly failPoints = new FailPoints();
  private readonly opcounters = new stats.OpCounters();
  private readonly retries = new Map<string, RetryEntry>();
  private readonly connections = new Map<number, ConnectionState>();
  private readonly transactions: TransactionManager;
  private shuttingDown = false;

  constructor(private readonly options: DispatcherOptions) {
    this.transactions = new TransactionManager(options.store);
  }

  /** Forgets per-connection state when a client disconnects. */
  connectionClosed(connectionId: number): void {
    this.connections.delete(connectionId);
  }

  close(): void {
    this.cursors.closeAll();
    this.transactions.close();
  }

  /**
   * Shutdown begins (mongod's quiesce): every command from now on answers ShutdownInProgress, and getMores waiting
   * for changes end with InterruptedAtShutdown (resumable), so drivers learn that the server is going away from a
   * reply while their sockets are still open. Closing the sockets without that warning can wedge the Node
   * driver's monitor: a check started as its connection closes waits forever, and the client never reconnects.
   */
  beginShutdown(): void {
    this.shuttingDown = true;
    this.cursors.closeAll();
    this.transactions.close();
  }

  /** Handles one request; never throws for command-level problems. */
  async handle(conn: ConnectionContext): Promise<Doc | typeof CLOSE_CONNECTION> {
    const body = conn.request.body;
    const name = Object.keys(body)[0] ?? '';
    const db = typeof body.$db === 'string' ? body.$db : 'admin';
    let connState = this.connections.get(conn.connectionId);
    if (!connState) this.connections.set(conn.connectionId, (connState = {}));
    const ctx: CommandContext = {
      store: this.options.store,
      cursors: this.cursors,
      failPoints: this.failPoints,
      opcounters: this.opcounters,
      transactions: this.transactions,
      info: this.options.info,
      openChangeStream: this.options.openChangeStream,
      ttl: this.options.ttl ?? null,
      body,
      db,
      name,
      conn,
      connState,
      session: {
        ...(isDoc(body.lsid) ? { lsid: body.lsid } : {}),
        ...(body.txnNumber instanceof Long ? { txnNumber: body.txnNumber } : {}),
      },
      durable: [],
    };
    if (this.shuttingDown) return { ok: 0, ...errorFields(shutdownInProgress()), ...this.times() };
    this.opcounters.record(name, body);
    let extra: Doc = {};
    try {
      if (conn.request.bodySize > MAX_COMMAND_BODY_SIZE) {
        throw new MongoServerError(
          10334,
          'BSONObjectTooLarge',
          `BSONObj size: ${conn.request.bodySize} is invalid. Size must be between 0 and 16793600(16MB)`,
        );
      }
      const inTransaction = body.autocommit !== undefined || body.startTransaction !== undefined;
      const isRetryableWrite = RETRYABLE_WRITES.has(name) && ctx.session.txnNumber !== undefined && !inTransaction;
      const action =
        name === 'configureFailPoint' ? null : this.failPoints.failCommand(name, connState.appName, isRetryableWrite);
      if (action) {
        if (action.blockMs > 0) await new Promise((resolve) => setTimeout(resolve, action.blockMs));
        if (action.closeConnection) return CLOSE_CONNECTION;
        if (action.error) {
          const labels = action.errorLabels ?? [];
          throw new MongoServerError(
            action.error.code,
            action.error.codeName,
            action.error.message,
            labels.length > 0 ? { errorLabels: labels } : undefined,
          );
        }
        if (action.writeConcernError) extra = { writeConcernError: action.writeConcernError };
      }
      let payload: Doc;
      if (inTransaction) payload = await this.runInTransaction(ctx);
      else payload = isRetryableWrite ? await this.runRetryable(ctx) : await this.run(ctx);
      await Promise.all(ctx.durable);
      // A change stream sees a write no later than its writer: the getMores this commit woke answer in microtasks,
      // and the acknowledgement waits for the event loop's next check phase, so their replies go out first.
      if (ctx.durable.length > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.isShuttingDown() && name === 'getMore') throw interruptedAtShutdown();
      return { ...payload, ...extra, ok: 1, ...this.times() };
    } catch (caught) {
      await Promise.allSettled(ctx.durable);
      // A getMore cut short by the shutdown (its cursor was killed) reports why, as mongod does.
      const err = this.isShuttingDown() && name === 'getMore' ? interruptedAtShutdown() : caught;
      if (err instanceof MongoServerError) return { ok: 0, ...errorFields(err), ...this.times() };
      this.options.logger.error(`command ${name} failed: ${(err as Error).stack ?? String(err)}`);
      return {
        ok: 0,
        errmsg: `internal error: ${(err as Error).message}`,
        code: 1,
        codeName: 'InternalError',
        ...this.times(),
      };
    }
  }

  /** Read through a method: shutdown may begin while a command awaits, which a narrowed field would hide. */
  private isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  private times(): Doc {
    const now = this.options.store.clock.current;
    return { operationTime: now, $clusterTime: { clusterTime: now, signature: SIGNATURE } };
  }

  private async run(ctx: CommandContext): Promise<Doc> {
    if (ctx.name === 'configureFailPoint') {
      if (ctx.db !== 'admin')
        throw new MongoServerError(
          13,
          'Unauthorized',
          'configureFailPoint may only be run against the admin database.',
        );
      return this.failPoints.configure(ctx.body);
    }
    const handler = Object.prototype.hasOwnProperty.call(HANDLERS, ctx.name) ? HANDLERS[ctx.name] : undefined;
    if (!handler) throw new MongoServerError(59, 'CommandNotFound', `no such command: '${ctx.name}'`);
    for (;;) {
      try {
        return await handler(ctx);
      } catch (err) {
        // It changed nothing yet: wait for the transaction that holds its document, then run it again.
        if (!(err instanceof BlockedByTransaction)) throw err;
        await err.ended;
      }
    }
  }

  /**
   * A command of a multi-document transaction: it reads and writes the transaction's view, an error aborts the
   * transaction (as in mongod), and commitTransaction applies the writes as one journalled batch.
   */
  private async runInTransaction(ctx: CommandContext): Promise<Doc> {
    const txn = this.transactions.enter(ctx.name, ctx.body);
    if (ctx.name === 'commitTransaction') {
      if (txn.state === 'committed') {
        await txn.committed;
        return {};
      }
      return this.transactions.commit(txn, (durable) => ctx.durable.push(durable));
    }
    if (ctx.name === 'abortTransaction') {
      this.transactions.abort(txn, null);
      return {};
    }
    try {
      refuseInTransaction(ctx);
      const payload = await this.run({ ...ctx, store: txn.view, session: {} });
      const writeErrors = payload.writeErrors;
      if (Array.isArray(writeErrors) && writeErrors.length > 0) {
        this.transactions.abort(txn, null);
        // mongod reports a conflict inside a transaction as the command's error, labelled for a retry.
        if (writeErrors.some((e) => isDoc(e) && e.code === 112)) throw writeConflict();
      }
      return payload;
    } catch (err) {
      this.transactions.abort(txn, null);
      throw err;
    }
  }

  /**
   * A write with (lsid, txnNumber) runs once: a retry of a completed or running statement gets the original reply.
   */
  private async runRetryable(ctx: CommandContext): Promise<Doc> {
    const key = sessionKey(ctx.session.lsid);
    const txn = ctx.session.txnNumber;
    if (key === null || txn === undefined) return this.run(ctx);
    const txnNumber = txn.toBigInt();
    const previous = this.retries.get(key);
    if (previous && previous.txnNumber === txnNumber) return previous.outcome;
    if (previous && previous.txnNumber > txnNumber) {
      throw new MongoServerError(
        225,
        'TransactionTooOld',
        `Retryable write with txnNumber ${txnNumber} is prohibited on session ${key} because a newer retryable write with txnNumber ${previous.txnNumber} has already started on this session.`,
      );
    }
    const outcome = this.run(ctx).then(async (payload) => {
      await Promise.all(ctx.durable);
      return payload;
    });
    const entry: RetryEntry = { txnNumber, outcome };
    this.retries.delete(key);
    this.retries.set(key, entry);
    if (this.retries.size > MAX_REMEMBERED_SESSIONS) {
      const oldest = this.retries.keys().next().value;
      if (oldest !== undefined) this.retries.delete(oldest);
    }
    // A failed statement did not take effect, so its retry must run again.
    outcome.catch(() => {
      if (this.retries.get(key) === entry) this.retries.delete(key);
    });
    return outcome;
  }
}

/** Stages that write or watch, which mongod refuses inside a transaction. */
const STAGES_REFUSED_IN_TRANSACTION = ['$out', '$merge', '$changeStream'];

function refuseInTransaction(ctx: CommandContext): void {
  if (ctx.name !== 'aggregate' || !Array.isArray(ctx.body.pipeline)) return;
  for (const stage of ctx.body.pipeline) {
    const stageName = isDoc(stage) ? Object.keys(stage)[0] : undefined;
    if (stageName !== undefined && STAGES_REFUSED_IN_TRANSACTION.includes(stageName)) {
      throw new MongoServerError(
        263,
        'OperationNotSupportedInTransaction',
        `${stageName} cannot be used in a transaction`,
      );
    }
  }
}

function shutdownInProgress(): MongoServerError {
  return new MongoServerError(91, 'ShutdownInProgress', 'The server is in quiesce mode and will shut down');
}

/** Resumable, as mongod labels it on a change stream's getMore: a driver resumes once the server is back. */
function interruptedAtShutdown(): MongoServerError {
  return new MongoServerError(11600, 'InterruptedAtShutdown', 'interrupted at shutdown', {
    errorLabels: ['ResumableChangeStreamError'],
  });
}
