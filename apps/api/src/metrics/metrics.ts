import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ResyncReason } from '@orders/contracts';
import type { HistoryDocument } from '../history/entry.js';
import type { HistoryWriterObserver } from '../history/writer.js';
import type { ChangeItem } from '../realtime/change-mapping.js';
import type { HubMetrics, HubStats } from '../realtime/hub/hub.js';

/*
 * The API's Prometheus metrics. Names are `orders_<thing>_<unit>`; labels come from small fixed sets (route
 * pattern, method, status class, reason, source), never ids or positions. The hub's counters are read when
 * Prometheus scrapes, so the fan-out pays nothing per socket for them; its timings are observed once per flush.
 * See docs/ARCHITECTURE.md, "Fan-out".
 * @see https://prometheus.io/docs/practices/naming/
 */

/** What the metrics read at scrape time. */
export interface MetricsSources {
  hub(): HubStats;
  /** Changes the history writer holds, not yet stored. */
  historyPending(): number;
  /** True when the database answers a ping (bounded by its own timeout). */
  databaseUp(): Promise<boolean>;
}

/** Latency buckets from 1 ms to 10 s: request durations, feed lag, fan-out durations. */
const SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];
const METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The route label of a request that matched no route: one value, so unknown paths cannot grow the series. */
export const UNMATCHED_ROUTE = 'unmatched';

/** One process's registry and the recorders the HTTP layer, the hub and the history writer call. */
export class ApiMetrics {
  readonly registry = new Registry();
  private readonly httpRequests: Counter<'method' | 'route' | 'status_class'>;
  private readonly httpDuration: Histogram<'method' | 'route' | 'status_class'>;
  private readonly feedLag: Histogram;
  private readonly fanoutDuration: Histogram;
  private readonly batchEvents: Histogram;
  private readonly historyLag: Histogram;
  private readonly historyFailures: Counter;

  constructor(private readonly sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.httpRequests = new Counter({
      name: 'orders_http_requests_total',
      help: 'HTTP requests answered, by route pattern, method and status class',
      labelNames: ['method', 'route', 'status_class'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'orders_http_request_duration_seconds',
      help: 'Time from receiving a request to answering it',
      labelNames: ['method', 'route', 'status_class'],
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.feedLag = new Histogram({
      name: 'orders_feed_lag_seconds',
      help: "From an event's commit in the database to the start of the fan-out carrying it",
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.fanoutDuration = new Histogram({
      name: 'orders_fanout_duration_seconds',
      help: 'From the start of a fan-out to its last socket write',
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.batchEvents = new Histogram({
      name: 'orders_fanout_batch_events',
      help: 'Events carried by one fan-out',
      buckets: BATCH_BUCKETS,
      registers,
    });
    this.historyLag = new Histogram({
      name: 'orders_history_write_lag_seconds',
      help: "From a change's commit in the database to its history entry being stored",
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.historyFailures = new Counter({
      name: 'orders_history_write_failures_total',
      help: 'History writes that failed and were retried',
      registers,
    });
    this.hubMetrics(registers);
  }

  /** Records one answered HTTP request. `route` is the matched pattern, or undefined when none matched. */
  request(method: string, route: string | undefined, statusCode: number, durationMs: number): void {
    const labels = {
      method: METHODS.has(method) ? method : 'other',
      route: route ?? UNMATCHED_ROUTE,
      status_class: `${String(Math.floor(statusCode / 100))}xx`,
    };
    this.httpRequests.inc(labels);
    this.httpDuration.observe(labels, durationMs / 1000);
  }

  /** The hub's per-flush recorder. */
  readonly hub: HubMetrics = {
    flushed: (items: readonly ChangeItem[], startedAt: number, durationMs: number) => {
      this.fanoutDuration.observe(durationMs / 1000);
      this.batchEvents.observe(items.length);
      for (const item of items) {
        const committed = item.facts?.committedAt;
        if (committed != null) this.feedLag.observe(Math.max(0, startedAt - committed.getTime()) / 1000);
      }
    },
  };

  /** The history writer's recorder. */
  readonly history: HistoryWriterObserver = {
    stored: (documents: readonly HistoryDocument[], at: Date) => {
      for (const document of documents) {
        this.historyLag.observe(Math.max(0, at.getTime() - document.committed_at.getTime()) / 1000);
      }
    },
    failed: () => {
      this.historyFailures.inc();
    },
  };

  /** The exposition in Prometheus text format. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** Gauges and counters read from the hub, the writer and the database when scraped. */
  private hubMetrics(registers: Registry[]): void {
    const sources = this.sources;
    const fromHub = (name: string, help: string, read: (stats: HubStats) => number, kind: 'gauge' | 'counter') => {
      if (kind === 'gauge') {
        new Gauge({
          name,
          help,
          registers,
          collect() {
            this.set(read(sources.hub()));
          },
        });
        return;
      }
      new Counter({
        name,
        help,
        registers,
        collect() {
          // The hub counts; the counter mirrors it (the hub's counts only grow).
          this.reset();
          this.inc(read(sources.hub()));
        },
      });
    };
    fromHub('orders_ws_connections', 'Open WebSocket connections', (s) => s.clients, 'gauge');
    fromHub('orders_ws_subscriptions', 'WebSocket connections that have subscribed', (s) => s.subscriptions, 'gauge');
    fromHub(
      'orders_events_published_total',
      'Change events handed to the fan-out',
      (s) => s.eventsPublished,
      'counter',
    );
    fromHub(
      'orders_ws_deliveries_total',
      'Events written to sockets (one per event per socket)',
      (s) => s.deliveries,
      'counter',
    );
    fromHub('orders_ws_frames_sent_total', 'WebSocket frames written', (s) => s.framesSent, 'counter');
    fromHub('orders_ws_sent_bytes_total', 'Bytes of WebSocket frames written', (s) => s.bytesSent, 'counter');
    fromHub(
      'orders_ws_slow_consumer_closes_total',
      'Sockets closed because they fell too far behind',
      (s) => s.slowConsumerCloses,
      'counter',
    );
    new Counter({
      name: 'orders_ws_resyncs_total',
      help: 'Resync messages sent, by reason',
      labelNames: ['reason'],
      registers,
      collect() {
        const byReason = sources.hub().resyncsByReason;
        this.reset();
        for (const reason of Object.values(ResyncReason)) this.inc({ reason }, byReason[reason]);
      },
    });
    new Counter({
      name: 'orders_ws_replays_total',
      help: 'Replays to reconnecting clients, by source (the ring in memory, or the change stream)',
      labelNames: ['source'],
      registers,
      collect() {
        const stats = sources.hub();
        this.reset();
        this.inc({ source: 'ring' }, stats.replaysFromRing);
        this.inc({ source: 'change_stream' }, stats.replaysFromHistory);
      },
    });
    new Gauge({
      name: 'orders_history_pending_changes',
      help: 'Changes read from the feed and not yet stored in the history',
      registers,
      collect() {
        this.set(sources.historyPending());
      },
    });
    new Gauge({
      name: 'orders_database_up',
      help: '1 when the database answers a ping, else 0',
      registers,
      async collect() {
        this.set((await sources.databaseUp()) ? 1 : 0);
      },
    });
  }
}
