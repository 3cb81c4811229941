import type { Doc } from '../query/index.js';
import type { Store, WriteBatch, WriteSession } from '../storage/store.js';
import type { TtlMonitor } from '../storage/ttl.js';
import type { ConnectionContext } from '../wire/connection.js';
import type { CursorManager, OpenChangeStream } from './cursors.js';
import type { FailPoints } from './failpoints.js';
import type { OpCounters } from './stats.js';
import type { TransactionManager } from './transactions.js';

/** Facts about this server that hello, getCmdLineOpts and friends report. */
export interface ServerInfo {
  /** The exact `host:port` clients must use; hello reports it as `me`, `primary` and `hosts`. */
  address: string;
  host: string;
  port: number;
  setName: string;
  dbPath: string | null;
  startedAt: Date;
}

/** Per-connection facts remembered across commands. */
export interface ConnectionState {
  appName?: string;
  client?: Doc;
}

/** Everything a command handler may use. */
export interface CommandContext {
  readonly store: Store;
  readonly cursors: CursorManager;
  readonly failPoints: FailPoints;
  /** serverStatus' opcounters. */
  readonly opcounters: OpCounters;
  readonly transactions: TransactionManager;
  readonly info: ServerInfo;
  readonly openChangeStream: OpenChangeStream | null;
  /** The TTL monitor, when the server runs one. */
  readonly ttl: TtlMonitor | null;
  readonly body: Doc;
  /** Target database (`$db`). */
  readonly db: string;
  readonly name: string;
  readonly conn: ConnectionContext;
  readonly connState: ConnectionState;
  readonly session: WriteSession;
  /** Durability promises of this command's writes; the reply waits for all of them. */
  readonly durable: Promise<void>[];
}

export type CommandHandler = (ctx: CommandContext) => Promise<Doc> | Doc;

/** Runs synchronous mutations as one journalled batch and remembers its durability promise. */
export function write<T>(ctx: CommandContext, fn: (batch: WriteBatch) => T): T {
  return ctx.store.write(ctx.session, fn, (durable) => ctx.durable.push(durable));
}
