import fp from 'fastify-plugin';
import type { FastifyBaseLogger, FastifyPluginCallback } from 'fastify';
import type { Collection, Db } from 'mongodb';
import { CloseCode, type Scope } from '@orders/contracts';
import type { AppConfig } from '../config.js';
import { NAMESPACE_EXISTS, errorCode } from '../driver-errors.js';
import type { OrderDocument } from '../orders/order-document.js';
import type { ChangeCursor, LookupOrder, OpenChangeStream } from '../realtime/change-mapping.js';
import { HISTORY_COLLECTION, type HistoryDocument } from '../history/entry.js';
import { createHistoryRepository } from '../history/store.js';
import { HistoryWriter } from '../history/writer.js';
import type { ChangeItem } from '../realtime/change-mapping.js';
import { ChangeFeed, type FeedLogger, type FeedSink, type PositionStore } from '../realtime/feed.js';
import type { HubConnection, HubSocket } from '../realtime/hub/client.js';
import { Hub, type ClientIdentity, type HubObserver, type HubStats } from '../realtime/hub/hub.js';
import { FeedPosition } from '../realtime/position.js';
import { HistoryReplays, createReplayOpener } from '../realtime/replay.js';

/**
 * The real-time half of the API, wired in the order events flow: database → change mapping → feed → hub (with
 * history replays feeding it from the same side) → message builders → the socket adapter (`GET /ws`, registered
 * in app.ts). See docs/ARCHITECTURE.md, "The event path".
 * @see https://github.com/fastify/fastify-plugin
 * @see https://www.mongodb.com/docs/manual/changeStreams/
 */
export interface RealtimeDecorator {
  /** The feed's current position (an event's or the idle post-batch token); `GET /orders` takes it before reading. */
  position(): string | null;
  /**
   * Registers a socket with the hub under its principal's scope, drawing on its principal's and address's replay
   * budgets (the `/ws` route's socket adapter calls it).
   */
  connect(socket: HubSocket, scope: Scope | null, identity?: ClientIdentity): HubConnection;
  /** True while the change stream is established. */
  isFeedOpen(): boolean;
  /** Counters for /metrics. */
  stats(): HubStats & { feedOpen: boolean };
  /** Changes the history writer has read and not stored yet. */
  historyPending(): number;
  /** Installs a hub observer (null removes it): the fan-out benchmark's timestamps and Socket.IO baseline. */
  observe(observer: HubObserver | null): void;
}

declare module 'fastify' {
  interface FastifyInstance {
    realtime: RealtimeDecorator;
  }
}

export interface RealtimePluginOptions {
  config: AppConfig;
}

interface FeedStateDocument {
  _id: string;
  position: string;
  updated_at: Date;
}

/** The collection where each feed keeps its position (one document per watched collection). */
export const FEED_STATE_COLLECTION = 'feed_state';

// Synchronous registration (decorate, hooks): the feed starts on `onReady`, once everything is registered.
const realtimePlugin: FastifyPluginCallback<RealtimePluginOptions> = (fastify, { config }, done) => {
  const log = feedLogger(fastify.log.child({ component: 'realtime' }));
  const { db, orders } = fastify.mongo;
  let fullDocument: 'updateLookup' | 'whenAvailable' = 'updateLookup';

  const open: OpenChangeStream = (start) =>
    orders.watch([], {
      fullDocument,
      fullDocumentBeforeChange: 'whenAvailable',
      ...(start.startAfter !== undefined ? { startAfter: { _data: start.startAfter } } : {}),
      ...(start.resumeAfter !== undefined ? { resumeAfter: { _data: start.resumeAfter } } : {}),
    }) satisfies ChangeCursor;
  const lookup: LookupOrder = (id) => orders.findOne({ _id: id });

  const position = new FeedPosition();
  const hub = new Hub({
    position,
    maxBufferedBytes: config.ws.maxBufferedBytes,
    batchWindowMs: config.ws.batchWindowMs,
    ringSize: config.ws.hubRingSize,
    subscribeLimit: { max: config.ws.subscribeMax, windowMs: config.rateLimit.windowMs },
    replayBudget: {
      principalBytes: config.ws.replayBudgetBytes,
      addressBytes: config.ws.replayAddressBudgetBytes,
      windowMs: config.rateLimit.windowMs,
    },
    replays: new HistoryReplays({ open: createReplayOpener(open, lookup), log }),
    log,
    ...(fastify.metrics.recorder !== null && { metrics: fastify.metrics.recorder.hub }),
  });
  const history = config.history.record
    ? new HistoryWriter({
        store: createHistoryRepository(db.collection<HistoryDocument>(HISTORY_COLLECTION)),
        log,
        ...(fastify.metrics.recorder !== null && { observer: fastify.metrics.recorder.history }),
      })
    : null;
  // The history first: it holds each change before the hub fans it out. See docs/ARCHITECTURE.md, "The change feed".
  const sink: FeedSink =
    history === null
      ? hub
      : {
          publish: (item: ChangeItem) => {
            history.publish(item);
            hub.publish(item);
          },
          advance: (at: string) => {
            history.advance(at);
            hub.advance(at);
          },
          reset: (reason) => {
            history.reset();
            hub.reset(reason);
          },
        };
  const feed = new ChangeFeed({
    open,
    sink,
    ...(history !== null && { durable: history }),
    position,
    store: feedStateStore(db.collection<FeedStateDocument>(FEED_STATE_COLLECTION), orders.collectionName),
    lookup,
    log,
    prepare: async () => {
      fullDocument = await postImageMode(db, orders, log);
    },
  });

  fastify.decorate('realtime', {
    position: () => position.current(),
    connect: (socket, scope, identity) => hub.connect(socket, scope, identity),
    isFeedOpen: () => feed.isOpen(),
    stats: () => ({ ...hub.stats(), feedOpen: feed.isOpen() }),
    historyPending: () => history?.pending ?? 0,
    observe: (observer) => hub.observe(observer),
  } satisfies RealtimeDecorator);

  fastify.addHook('onReady', async () => {
    await feed.start();
  });
  // Before the HTTP server stops: clients learn the server is going away (1001) and reconnect elsewhere.
  fastify.addHook('preClose', (done) => {
    hub.close(CloseCode.GoingAway, 'server shutting down');
    done();
  });
  // onClose runs before mongo's (reverse registration order): the position is persisted while the client is up.
  fastify.addHook('onClose', async () => {
    await feed.close();
  });
  done();
};

/**
 * Exact post-images (`whenAvailable`) need pre- and post-images enabled on the collection; with them, every
 * update event carries the order as that write left it, not as it is when the event is read (updateLookup),
 * so 1,000 rapid writes reach clients as 1,000 distinct versions. Enabled here when the server allows it.
 */
async function postImageMode(
  db: Db,
  orders: Collection<OrderDocument>,
  log: FeedLogger,
): Promise<'updateLookup' | 'whenAvailable'> {
  const setting = { changeStreamPreAndPostImages: { enabled: true } };
  try {
    const [info] = await db.listCollections({ name: orders.collectionName }).toArray();
    if (info === undefined) {
      await db.createCollection(orders.collectionName, setting).catch(async (err: unknown) => {
        // Someone created it meanwhile (e.g. another API process): enable images on it instead.
        if (errorCode(err) !== NAMESPACE_EXISTS) throw err;
        await db.command({ collMod: orders.collectionName, ...setting });
      });
    } else if (!imagesEnabled(info)) {
      await db.command({ collMod: orders.collectionName, ...setting });
    }
    return 'whenAvailable';
  } catch (err) {
    log.warn({ err }, 'feed: post-images unavailable; update events use updateLookup (they may skip versions)');
    return 'updateLookup';
  }
}

function imagesEnabled(info: unknown): boolean {
  const options = (info as { options?: { changeStreamPreAndPostImages?: { enabled?: unknown } } }).options;
  return options?.changeStreamPreAndPostImages?.enabled === true;
}

function feedStateStore(collection: Collection<FeedStateDocument>, name: string): PositionStore {
  return {
    async load() {
      const doc = await collection.findOne({ _id: name });
      return typeof doc?.position === 'string' ? doc.position : null;
    },
    async save(position) {
      await collection.updateOne({ _id: name }, { $set: { position, updated_at: new Date() } }, { upsert: true });
    },
  };
}

function feedLogger(logger: FastifyBaseLogger): FeedLogger {
  return {
    info: (obj, msg) => logger.info(obj, msg),
    warn: (obj, msg) => logger.warn(obj, msg),
    error: (obj, msg) => logger.error(obj, msg),
  };
}

export default fp(realtimePlugin, { name: 'realtime', dependencies: ['mongo', 'websocket', 'metrics'] });
