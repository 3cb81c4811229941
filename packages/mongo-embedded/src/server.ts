import { createServer, type Server, type Socket } from 'node:net';
import { openChangeStream } from './changestream/index.js';
import { Dispatcher } from './commands/dispatcher.js';
import { Journal } from './storage/journal.js';
import { Store } from './storage/store.js';
import { TtlMonitor } from './storage/ttl.js';
import { WireConnection } from './wire/connection.js';

/** Options of `startEmbeddedServer`. */
export interface EmbeddedServerOptions {
  /** 0 = ephemeral (default 0); the CLI defaults to 27017. */
  port?: number;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Data directory; omit for in-memory mode. */
  dbPath?: string;
  /** Default 'rs0'. */
  replSetName?: string;
  /** How many change records are retained for resume (default 100_000); resuming from older ones answers 286. */
  changeHistoryMaxRecords?: number;
  /**
   * Bound on the retained change history's estimated BSON size, post- and pre-images included (default
   * DEFAULT_CHANGE_HISTORY_MAX_BYTES): the oldest records are dropped once either this or the record count is
   * exceeded, and resuming from before them answers 286. Keeps memory near live data when the history holds large
   * images or the last images of documents deleted since (mongod's equivalent is the oplog size).
   */
  changeHistoryMaxBytes?: number;
  /**
   * Seconds between TTL monitor passes (mongod's `ttlMonitorSleepSecs`, default 60); settable at runtime with
   * `setParameter`. Tests use 1.
   */
  ttlMonitorSleepSecs?: number;
  logger?: { info(msg: string): void; warn(msg: string): void; error(msg: string): void };
}

/** A running engine. */
export interface EmbeddedServer {
  /** `mongodb://<host>:<port>/?replicaSet=<name>`: the exact address hello reports. */
  readonly uri: string;
  readonly host: string;
  readonly port: number;
  /** Stops accepting, closes client sockets, flushes and closes the journal. Idempotent. */
  close(): Promise<void>;
}

/**
 * How long a closing server answers "shutting down" before it closes its sockets: enough for a driver on this
 * machine to read the reply and drop its monitoring connection, short enough not to slow a restart.
 */
const SHUTDOWN_QUIESCE_MS = 150;
/** Default bound on retained change history: 32 MiB of BSON, about 100k records of 200-byte documents. */
export const DEFAULT_CHANGE_HISTORY_MAX_BYTES = 32 * 1024 * 1024;
const SILENT = { info: () => undefined, warn: () => undefined, error: () => undefined };

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Starts a MongoDB-wire-compatible server that the official driver sees as a single-node replica-set primary.
 * With `dbPath`, data and change history are journalled there and recovered on the next start.
 */
export async function startEmbeddedServer(options: EmbeddedServerOptions = {}): Promise<EmbeddedServer> {
  const logger = options.logger ?? SILENT;
  const host = options.host ?? '127.0.0.1';
  const setName = options.replSetName ?? 'rs0';
  const historyLimits = {
    changeHistoryMaxRecords: options.changeHistoryMaxRecords ?? 100_000,
    changeHistoryMaxBytes: options.changeHistoryMaxBytes ?? DEFAULT_CHANGE_HISTORY_MAX_BYTES,
  };
  const store = new Store({ ...historyLimits, warn: (m) => logger.warn(m) });
  if (options.dbPath) {
    // Records go straight from the files into the store; a refused open leaves this half-built store unreferenced.
    const recovery = store.beginRecovery();
    const opened = await Journal.openInto({ dir: options.dbPath }, recovery);
    const { journal } = opened;
    if (opened.report.tornBytesDropped > 0) {
      logger.warn(
        `dropped ${opened.report.tornBytesDropped} bytes of torn journal tail (${opened.report.tornTail?.reason ?? ''})`,
      );
    }
    try {
      recovery.finish();
    } catch (err) {
      await journal.close();
      throw err;
    }
    store.attachJournal(journal);
  }

  const server = createServer();
  const connections = new Set<WireConnection>();
  let nextConnectionId = 1;
  try {
    await listen(server, options.port ?? 0, host);
  } catch (err) {
    await store.close();
    throw err;
  }
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 0);
  // A wildcard bind address cannot be dialled; advertise loopback, which it includes.
  const advertised = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  const hostPort = `${advertised.includes(':') ? `[${advertised}]` : advertised}:${port}`;
  const ttl = new TtlMonitor(store, {
    ...(options.ttlMonitorSleepSecs === undefined ? {} : { sleepSecs: options.ttlMonitorSleepSecs }),
    warn: (m) => logger.warn(m),
  });
  ttl.start();
  const dispatcher = new Dispatcher({
    store,
    info: { address: hostPort, host: advertised, port, setName, dbPath: options.dbPath ?? null, startedAt: new Date() },
    openChangeStream: (log, spec) => openChangeStream(log, spec),
    logger,
    ttl,
  });

  server.on('connection', (socket: Socket) => {
    const id = nextConnectionId++;
    const conn = new WireConnection(
      socket,
      id,
      (ctx) => dispatcher.handle(ctx),
      logger,
      (c) => {
        connections.delete(c);
        dispatcher.connectionClosed(c.connectionId);
      },
    );
    connections.add(conn);
  });
  server.on('error', (err) => logger.error(`server error: ${err.message}`));
  logger.info(
    `mongo-embedded listening on ${hostPort}${options.dbPath ? ` (dbPath ${options.dbPath})` : ' (in memory)'}`,
  );

  let closing: Promise<void> | null = null;
  return {
    uri: `mongodb://${hostPort}/?replicaSet=${encodeURIComponent(setName)}`,
    host: advertised,
    port,
    close(): Promise<void> {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        if (connections.size > 0) {
          // Quiesce: clients get a "shutting down" reply on a live socket, then the sockets close.
          dispatcher.beginShutdown();
          await new Promise((resolve) => setTimeout(resolve, SHUTDOWN_QUIESCE_MS));
        }
        for (const conn of [...connections]) conn.close();
        dispatcher.close();
        await ttl.stop();
        await stopped;
        await store.close();
        logger.info('mongo-embedded stopped');
      })();
      return closing;
    },
  };
}
