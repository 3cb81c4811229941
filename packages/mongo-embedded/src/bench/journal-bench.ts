/**
 * Micro-benchmark of the journal alone: durable appends per second with 1 and with 10 concurrent appenders, each
 * awaiting its acknowledgement before the next append (like driver connections doing single-document inserts),
 * records of about 300 bytes. Also a 100k-record compaction and the reopen that reads it back.
 *
 *   node --import tsx packages/mongo-embedded/src/bench/journal-bench.ts [secondsPerRun=3] [dir under os.tmpdir()]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Int32, Long, ObjectId } from 'bson';
import { Journal } from '../storage/journal.js';

const secondsPerRun = Number(process.argv[2] ?? '3');

function record(seq: number): Record<string, unknown> {
  // ~300 bytes of BSON, shaped like a change record for an order insert.
  return {
    k: 'w',
    seq: Long.fromNumber(seq),
    db: 'orders',
    coll: 'orders',
    doc: {
      _id: new ObjectId(),
      customer: 'customer-0000042',
      status: 'pending',
      items: [{ sku: 'SKU-000123', qty: new Int32(2) }],
      note: 'n'.repeat(140),
      createdAt: new Date(),
    },
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function appendRun(concurrency: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'journal-bench-'));
  try {
    const { journal } = await Journal.open({ dir });
    const deadline = performance.now() + secondsPerRun * 1000;
    const latencies: number[] = [];
    let seq = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < deadline) {
          const t0 = performance.now();
          await journal.append(record(seq++));
          latencies.push(performance.now() - t0);
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    const { appends, fsyncs, bytesWritten } = journal.stats;
    await journal.close();
    latencies.sort((a, b) => a - b);
    console.log(
      `appenders=${String(concurrency).padStart(2)}  ${Math.round(appends / elapsed)} durable appends/s  ` +
        `${(appends / fsyncs).toFixed(1)} records/fsync  ${Math.round(bytesWritten / appends)} B/record  ` +
        `latency p50 ${percentile(latencies, 50).toFixed(2)} ms p99 ${percentile(latencies, 99).toFixed(2)} ms`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function compactionRun(count: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'journal-bench-'));
  try {
    const { journal } = await Journal.open({ dir });
    const records = Array.from({ length: count }, (_, i) => record(i));
    let longestGap = 0;
    let last = performance.now();
    let ticking = true;
    const tick = (): void => {
      const now = performance.now();
      longestGap = Math.max(longestGap, now - last);
      last = now;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    let t0 = performance.now();
    await journal.compact(records);
    const compactMs = performance.now() - t0;
    const gapDuringCompact = longestGap;
    const bytes = journal.snapshotBytes;
    await journal.close();
    longestGap = 0;
    last = performance.now();
    t0 = performance.now();
    const reopened = await Journal.open({ dir });
    const openMs = performance.now() - t0;
    ticking = false;
    await reopened.journal.close();
    console.log(
      `compaction of ${count} records (${(bytes / 1024 / 1024).toFixed(1)} MiB): ${compactMs.toFixed(0)} ms, ` +
        `longest event-loop stall ${gapDuringCompact.toFixed(1)} ms; reopen ${openMs.toFixed(0)} ms, ` +
        `longest stall ${longestGap.toFixed(1)} ms`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`journal micro-benchmark, ${secondsPerRun} s per run, Node ${process.version}, dir ${tmpdir()}`);
await appendRun(1);
await appendRun(10);
await appendRun(50);
await compactionRun(100_000);
