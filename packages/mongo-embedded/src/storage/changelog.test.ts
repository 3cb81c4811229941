import { Timestamp } from 'bson';
import { describe, expect, it } from 'vitest';
import { ChangeHistory, estimateRecordBytes, type ChangeRecord } from './changelog.js';

const catalog = {
  lookupDocument: () => null,
  collectionExists: () => true,
  currentClusterTime: () => new Timestamp({ t: 1, i: 0 }),
};

function insert(seq: number, payloadBytes: number): ChangeRecord {
  return {
    seq: BigInt(seq),
    clusterTime: new Timestamp({ t: 1, i: seq }),
    wallTime: new Date(0),
    db: 'd',
    coll: 'c',
    op: 'insert',
    documentKey: { _id: seq },
    postImage: { _id: seq, payload: 'x'.repeat(payloadBytes) },
  };
}

/** Appends records 1..n as one durable batch each, as the store does. */
function fill(history: ChangeHistory, n: number, payloadBytes: number): void {
  for (let seq = 1; seq <= n; seq++) {
    history.nextSeq();
    const rec = insert(seq, payloadBytes);
    history.append(rec);
    history.beginBatch(rec.seq)();
  }
}

describe('ChangeHistory retention', () => {
  it('keeps at most maxRecords records, newest first to survive', () => {
    const history = new ChangeHistory({ maxRecords: 3, maxBytes: Number.POSITIVE_INFINITY }, catalog);
    fill(history, 10, 10);
    expect(history.retainedCount).toBe(3);
    expect(history.oldestSeq).toBe(8n);
    expect(history.readFrom(0n, 100).map((r) => r.seq)).toEqual([8n, 9n, 10n]);
  });

  it('drops the oldest records once their estimated bytes exceed maxBytes', () => {
    const perRecord = estimateRecordBytes(insert(1, 1000));
    const history = new ChangeHistory({ maxRecords: 1_000_000, maxBytes: perRecord * 4 }, catalog);
    fill(history, 20, 1000);
    expect(history.retainedCount).toBe(4);
    expect(history.retainedBytes).toBeLessThanOrEqual(perRecord * 4);
    expect(history.oldestSeq).toBe(17n);
    expect(history.readFrom(16n, 100).map((r) => r.seq)).toEqual([17n, 18n, 19n, 20n]);
    expect(history.retained().map((r) => r.seq)).toEqual([17n, 18n, 19n, 20n]);
  });

  it('always keeps the newest record, even one larger than the whole budget', () => {
    const history = new ChangeHistory({ maxRecords: 100, maxBytes: 10 }, catalog);
    fill(history, 3, 5000);
    expect(history.retainedCount).toBe(1);
    expect(history.lastSeq).toBe(3n);
    expect(history.readFrom(2n, 10).map((r) => r.seq)).toEqual([3n]);
  });

  it('keeps reading correctly across many evictions (the backing array is compacted)', () => {
    const history = new ChangeHistory({ maxRecords: 50, maxBytes: Number.POSITIVE_INFINITY }, catalog);
    fill(history, 5000, 1);
    expect(history.retainedCount).toBe(50);
    expect(history.oldestSeq).toBe(4951n);
    expect(history.readFrom(4990n, 5).map((r) => r.seq)).toEqual([4991n, 4992n, 4993n, 4994n, 4995n]);
  });

  it('applies the byte budget to restored history', () => {
    const perRecord = estimateRecordBytes(insert(1, 1000));
    const history = new ChangeHistory({ maxRecords: 1000, maxBytes: perRecord * 2 }, catalog);
    history.restore(
      Array.from({ length: 10 }, (_, i) => insert(i + 1, 1000)),
      10n,
    );
    expect(history.retained().map((r) => r.seq)).toEqual([9n, 10n]);
    expect(history.oldestSeq).toBe(9n);
  });
});
