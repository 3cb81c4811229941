import { readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BSON, Int32 } from 'bson';
import { describe, expect, it } from 'vitest';
import { directoryDigest, flipByte, useDataDirs } from '../test-support/data-dir.js';
import { FRAME_HEADER_BYTES, JOURNAL_HEADER_BYTES, SNAPSHOT_HEADER_BYTES, journalFileName } from './journal-format.js';
import {
  Journal,
  JournalCorruptError,
  type JournalFs,
  type RecoveryReport,
  type RecoverySink,
  nodeJournalFs,
} from './journal.js';

type Doc = Record<string, unknown>;

const { tempDir } = useDataDirs();

/** Records of about 1 KiB, so a few thousand of them span several of recovery's 1 MiB reads. */
const PAD = 'x'.repeat(1000);
const READ_CHUNK = 1024 * 1024;

function record(i: number): Doc {
  return { i: new Int32(i), pad: PAD };
}

/** Bytes of one record's frame on disk. */
const FRAME_BYTES = FRAME_HEADER_BYTES + BSON.calculateObjectSize(record(0));

const numberOf = (doc: Doc): number => (doc.i as Int32).value;

/** A sink that keeps what it is handed, split by source, in arrival order. */
function collectingSink(): RecoverySink & { snapshot: Doc[]; journal: Doc[] } {
  const snapshot: Doc[] = [];
  const journal: Doc[] = [];
  return {
    snapshot,
    journal,
    snapshotRecord: (doc) => snapshot.push(doc),
    journalRecord: (doc) => journal.push(doc),
  };
}

/** The real file system, counting the bytes read so far. */
function countingFs(): { fs: JournalFs; bytesRead: () => number } {
  let total = 0;
  return {
    fs: {
      ...nodeJournalFs,
      read: async (fd, buffer, offset, length, position) => {
        const n = await nodeJournalFs.read(fd, buffer, offset, length, position);
        total += n;
        return n;
      },
    },
    bytesRead: () => total,
  };
}

async function openInto(dir: string, sink: RecoverySink, fs?: JournalFs): Promise<RecoveryReport> {
  const { journal, report } = await Journal.openInto({ dir, ...(fs ? { fs } : {}) }, sink);
  await journal.close();
  return report;
}

async function appendAll(dir: string, from: number, to: number): Promise<void> {
  const { journal } = await Journal.open({ dir });
  await Promise.all(Array.from({ length: to - from }, (_, k) => journal.append(record(from + k))));
  await journal.close();
}

/** Offsets at which each frame of a journal file starts. */
function frameStarts(path: string): number[] {
  const bytes = readFileSync(path);
  const starts: number[] = [];
  for (let at = JOURNAL_HEADER_BYTES; at < bytes.length; at += FRAME_HEADER_BYTES + bytes.readUInt32LE(at))
    starts.push(at);
  return starts;
}

/**
 * A directory whose snapshot (records 0..snapshotCount-1) is followed by two journals, as an interrupted compaction
 * leaves it: journal 2 holds `snapshotCount`, journal 3 holds `snapshotCount + 1`.
 */
async function twoGenerations(snapshotCount: number): Promise<string> {
  const dir = tempDir();
  const { journal } = await Journal.open({ dir });
  await journal.compact(Array.from({ length: snapshotCount }, (_, i) => record(i)));
  await journal.append(record(snapshotCount));
  function* failing(): Generator<Doc> {
    yield record(0);
    throw new Error('interrupted');
  }
  await expect(journal.compact(failing())).rejects.toThrow(/interrupted/);
  await journal.append(record(snapshotCount + 1));
  await journal.close();
  expect(readdirSync(dir).filter((name) => name.startsWith('journal-'))).toEqual([
    journalFileName(2),
    journalFileName(3),
  ]);
  return dir;
}

describe('Journal.openInto', () => {
  it('hands records over while the journal is still being read, never more than one read ahead', async () => {
    const dir = tempDir();
    const count = 4000;
    await appendAll(dir, 0, count);
    const size = statSync(join(dir, journalFileName(1))).size;
    expect(size).toBeGreaterThan(3 * READ_CHUNK);

    const { fs, bytesRead } = countingFs();
    const arrived: number[] = [];
    let readWhenFirstArrived = 0;
    let mostReadAhead = 0;
    let bytesHandedOver = JOURNAL_HEADER_BYTES;
    const report = await openInto(
      dir,
      {
        snapshotRecord: () => {
          throw new Error('no snapshot here');
        },
        journalRecord: (doc) => {
          if (arrived.length === 0) readWhenFirstArrived = bytesRead();
          arrived.push(numberOf(doc));
          bytesHandedOver += FRAME_BYTES;
          mostReadAhead = Math.max(mostReadAhead, bytesRead() - bytesHandedOver);
        },
      },
      fs,
    );

    expect(arrived).toEqual(Array.from({ length: count }, (_, i) => i));
    expect(report).toEqual({ snapshotRecords: null, journalRecords: count, tornBytesDropped: 0, tornTail: null });
    // The first record arrived after one read, not after the whole file; later ones at most one read behind it
    // (plus the frames a read cut in two, which the next read fetches again).
    expect(readWhenFirstArrived).toBeLessThanOrEqual(JOURNAL_HEADER_BYTES + READ_CHUNK);
    expect(mostReadAhead).toBeLessThanOrEqual(READ_CHUNK + JOURNAL_HEADER_BYTES + 8 * FRAME_BYTES);
  });

  it('drops a corrupt frame in the middle of a later read, and everything after it, as a torn tail', async () => {
    const dir = tempDir();
    const count = 4000;
    await appendAll(dir, 0, count);
    const path = join(dir, journalFileName(1));
    const starts = frameStarts(path);
    const damaged = 3000;
    const offset = starts[damaged] ?? 0;
    expect(offset).toBeGreaterThan(2 * READ_CHUNK);
    const bytes = readFileSync(path);
    bytes[offset + FRAME_HEADER_BYTES + 20] = (bytes[offset + FRAME_HEADER_BYTES + 20] ?? 0) ^ 0xff;
    writeFileSync(path, bytes);

    const sink = collectingSink();
    const report = await openInto(dir, sink);
    expect(sink.journal.map(numberOf)).toEqual(Array.from({ length: damaged }, (_, i) => i));
    expect(report).toEqual({
      snapshotRecords: null,
      journalRecords: damaged,
      tornBytesDropped: bytes.findLastIndex((byte) => byte !== 0) + 1 - offset,
      tornTail: { file: path, offset, reason: 'frame checksum mismatch' },
    });
    expect(statSync(path).size).toBe(offset);

    // Appends continue right after the last good record, and the next open finds nothing torn.
    await appendAll(dir, count, count + 1);
    const again = collectingSink();
    const reopened = await openInto(dir, again);
    expect(again.journal.map(numberOf)).toEqual([...Array.from({ length: damaged }, (_, i) => i), count]);
    expect(reopened.tornBytesDropped).toBe(0);
    expect(reopened.tornTail).toBeNull();
  });

  it('streams a snapshot larger than one read before the journals that follow it', async () => {
    const count = 3000;
    const dir = await twoGenerations(count);
    expect(statSync(join(dir, 'snapshot.bson')).size).toBeGreaterThan(2 * READ_CHUNK);
    const order: string[] = [];
    const sink = collectingSink();
    const report = await openInto(dir, {
      snapshotRecord: (doc) => {
        if (order.at(-1) !== 'snapshot') order.push('snapshot');
        sink.snapshotRecord(doc);
      },
      journalRecord: (doc) => {
        if (order.at(-1) !== 'journal') order.push('journal');
        sink.journalRecord(doc);
      },
    });
    expect(order).toEqual(['snapshot', 'journal']);
    expect(sink.snapshot.map(numberOf)).toEqual(Array.from({ length: count }, (_, i) => i));
    expect(sink.journal.map(numberOf)).toEqual([count, count + 1]);
    expect(report).toEqual({ snapshotRecords: count, journalRecords: 2, tornBytesDropped: 0, tornTail: null });
  });

  it('refuses a missing generation before handing over any record, and leaves the directory as it was', async () => {
    const dir = await twoGenerations(10);
    const missing = join(dir, journalFileName(2));
    const saved = readFileSync(missing);
    rmSync(missing);
    const before = directoryDigest(dir);

    const sink = collectingSink();
    await expect(openInto(dir, sink)).rejects.toThrow(/journal-000000000002\.log.*missing/);
    expect(sink.snapshot).toEqual([]);
    expect(sink.journal).toEqual([]);
    expect(directoryDigest(dir)).toEqual(before);

    // Put back, the same directory opens with everything (and the refused open released the lock).
    writeFileSync(missing, saved);
    const fixed = collectingSink();
    await openInto(dir, fixed);
    expect(fixed.snapshot).toHaveLength(10);
    expect(fixed.journal.map(numberOf)).toEqual([10, 11]);
  });

  it('refuses a bad header of a later journal found after earlier records were handed over', async () => {
    const dir = await twoGenerations(10);
    const later = join(dir, journalFileName(3));
    const saved = flipByte(later, 20);
    const before = directoryDigest(dir);

    const sink = collectingSink();
    const refused = openInto(dir, sink);
    await expect(refused).rejects.toBeInstanceOf(JournalCorruptError);
    await expect(refused).rejects.toThrow(/journal-000000000003\.log.*header checksum/);
    // The caller was already handed the snapshot and journal 2: it must discard what it built from them.
    expect(sink.snapshot).toHaveLength(10);
    expect(sink.journal.map(numberOf)).toEqual([10]);
    expect(directoryDigest(dir)).toEqual(before);

    writeFileSync(later, saved);
    const fixed = collectingSink();
    await openInto(dir, fixed);
    expect(fixed.journal.map(numberOf)).toEqual([10, 11]);
  });

  it('refuses a snapshot damaged in a later read after handing over its first records', async () => {
    const count = 3000;
    const dir = await twoGenerations(count);
    const path = join(dir, 'snapshot.bson');
    const saved = flipByte(path, SNAPSHOT_HEADER_BYTES + 2 * READ_CHUNK + 500);
    const before = directoryDigest(dir);

    const sink = collectingSink();
    await expect(openInto(dir, sink)).rejects.toBeInstanceOf(JournalCorruptError);
    expect(sink.snapshot.length).toBeGreaterThan(0);
    expect(sink.snapshot.length).toBeLessThan(count);
    expect(sink.journal).toEqual([]);
    expect(directoryDigest(dir)).toEqual(before);

    writeFileSync(path, saved);
    const fixed = collectingSink();
    await openInto(dir, fixed);
    expect(fixed.snapshot).toHaveLength(count);
  });

  it('stops at a sink that throws, releases the directory and changes nothing', async () => {
    const dir = tempDir();
    await appendAll(dir, 0, 20);
    const before = directoryDigest(dir);
    const refused = openInto(dir, {
      snapshotRecord: () => undefined,
      journalRecord: (doc) => {
        if (numberOf(doc) === 5) throw new Error('the store cannot apply record 5');
      },
    });
    await expect(refused).rejects.toThrow('the store cannot apply record 5');
    expect(directoryDigest(dir)).toEqual(before);
    const sink = collectingSink();
    await openInto(dir, sink);
    expect(sink.journal).toHaveLength(20);
  });
});
