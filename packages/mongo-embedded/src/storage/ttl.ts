import { compileFilter, MongoServerError, type Doc } from '../query/index.js';
import type { Collection, Store } from './store.js';

/** mongod's default `ttlMonitorSleepSecs`. */
export const DEFAULT_TTL_MONITOR_SLEEP_SECS = 60;

/** `serverStatus().metrics.ttl`. */
export interface TtlStats {
  deletedDocuments: number;
  passes: number;
}

/** The TTL expiry of an index spec, or null when it is not a TTL index (mongod: one field, numeric seconds). */
export function ttlSecondsOf(spec: Doc): number | null {
  const secs = Number(spec.expireAfterSeconds?.valueOf());
  if (spec.expireAfterSeconds === undefined || !Number.isFinite(secs)) return null;
  const key = spec.key as Doc;
  const fields = Object.keys(key);
  return fields.length === 1 && fields[0] !== '_id' ? secs : null;
}

/**
 * mongod's TTLMonitor: every `ttlMonitorSleepSecs` one pass deletes, for each TTL index, the documents whose indexed
 * date (the earliest, for an array) is older than now minus `expireAfterSeconds`. Passes never overlap: the next is
 * armed only after the previous one's deletes are durable. The deletes are ordinary journalled document deletes, so
 * they survive a restart and change streams report them as `delete` events.
 */
export class TtlMonitor {
  private sleepSecs: number;
  private enabled = true;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  readonly stats: TtlStats = { deletedDocuments: 0, passes: 0 };

  constructor(
    private readonly store: Store,
    options: { sleepSecs?: number; warn?: (msg: string) => void } = {},
  ) {
    this.sleepSecs = options.sleepSecs ?? DEFAULT_TTL_MONITOR_SLEEP_SECS;
    this.warn = options.warn ?? (() => undefined);
  }

  private readonly warn: (msg: string) => void;

  /** Arms the first pass. */
  start(): void {
    this.arm();
  }

  get sleepSeconds(): number {
    return this.sleepSecs;
  }

  get isEnabled(): boolean {
    return this.enabled;
  }

  /** `setParameter ttlMonitorSleepSecs`: the next pass waits the new interval from now. */
  setSleepSeconds(secs: number): void {
    this.sleepSecs = secs;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
      this.arm();
    }
  }

  /** `setParameter ttlMonitorEnabled`: a disabled monitor keeps waking but deletes nothing (as mongod). */
  setEnabled(enabled: boolean): void {
    this.enabled = enabled;
  }

  /** Stops the timer and waits for a pass in progress to finish its (durable) deletes. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  private arm(): void {
    if (this.stopped || this.running) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.pass()
        .catch((err: unknown) => this.warn(`TTL pass failed: ${(err as Error).message}`))
        .finally(() => {
          this.running = null;
          this.arm();
        });
    }, this.sleepSecs * 1000);
    // The monitor alone must not keep a process alive.
    this.timer.unref();
  }

  /** One pass over every TTL index; resolves once its deletes are durable. */
  async pass(now = new Date()): Promise<void> {
    if (!this.enabled) return;
    this.stats.passes++;
    const durable: Promise<void>[] = [];
    for (const db of this.store.databaseNames()) {
      for (const coll of this.store.collections(db)) {
        if ('viewOn' in coll.options) continue;
        for (const index of coll.indexes) {
          const secs = ttlSecondsOf(index.spec);
          if (secs === null) continue;
          this.expire(coll, index.fields[0]!, index, new Date(now.getTime() - secs * 1000), durable);
        }
      }
    }
    await Promise.all(durable);
  }

  private expire(
    coll: Collection,
    field: string,
    index: Collection['indexes'][number],
    cutoff: Date,
    durable: Promise<void>[],
  ): void {
    // mongod scans the TTL index from the dawn of time up to the cutoff, both ends included; `$lte` on a Date
    // matches exactly those entries: dates only (any element of an array), never strings, numbers or timestamps.
    const filter = { [field]: { $lte: cutoff } };
    const matches = compileFilter(filter);
    const expired = this.store
      .plan(coll, filter)
      .candidates.filter((doc) => matches(doc) && index.keysFor(doc).length > 0);
    if (expired.length === 0) return;
    try {
      this.store.write(
        undefined,
        (batch) => {
          for (const doc of expired) {
            try {
              this.store.delete(batch, coll, doc);
              this.stats.deletedDocuments++;
            } catch {
              // A document an open transaction wrote is left to that transaction; a later pass retries it.
            }
          }
        },
        (d) => durable.push(d.catch((err: unknown) => this.warn(`TTL delete failed: ${(err as Error).message}`))),
      );
    } catch (err) {
      if (!(err instanceof MongoServerError && err.code === 91)) throw err;
    }
  }
}
