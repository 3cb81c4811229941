import { type ChildProcess, spawn } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { BSONRegExp, Binary, Code, Decimal128, Double, Int32, Long, MaxKey, MinKey, ObjectId, Timestamp } from 'bson';
import { afterEach, describe, expect, it } from 'vitest';
import { crc32c } from './journal-crc32c.js';
import { FRAME_HEADER_BYTES, JOURNAL_HEADER_BYTES, journalFileName } from './journal-format.js';
import {
  DataDirectoryLockedError,
  Journal,
  JournalClosedError,
  JournalCorruptError,
  JournalFailedError,
  type JournalFs,
  type JournalOptions,
  type RecoveredState,
  nodeJournalFs,
} from './journal.js';

type Doc = Record<string, unknown>;

const here = dirname(fileURLToPath(import.meta.url));
const tempDirs: string[] = [];
const openJournals = new Set<Journal>();
const children = new Set<ChildProcess>();

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'journal-test-'));
  tempDirs.push(dir);
  return dir;
}

async function open(opts: JournalOptions): Promise<{ journal: Journal; recovered: RecoveredState }> {
  const opened = await Journal.open(opts);
  openJournals.add(opened.journal);
  return opened;
}

async function closeJournal(journal: Journal): Promise<void> {
  openJournals.delete(journal);
  await journal.close();
}

/** After a simulated crash the journal's fs refuses everything; this only frees descriptors in the test process. */
async function abandon(journal: Journal): Promise<void> {
  openJournals.delete(journal);
  await journal.close().catch(() => undefined);
}

async function reopen(dir: string): Promise<RecoveredState> {
  const { journal, recovered } = await open({ dir });
  await closeJournal(journal);
  return recovered;
}

afterEach(async () => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
  for (const journal of openJournals) await journal.close().catch(() => undefined);
  openJournals.clear();
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

type Op = keyof JournalFs;
type Verdict = 'crash-before' | 'crash-after' | 'fail' | undefined;

/**
 * The real file system with a rule deciding, per call, to simulate a crash (this and every later call fails, as if
 * the process had died; `close` still works so the test does not leak descriptors) or a one-off I/O error.
 */
function faultyFs(
  rule: (op: Op, args: readonly unknown[]) => Verdict = () => undefined,
  gate?: (op: Op) => Promise<void> | undefined,
) {
  const state = { crashed: false, calls: new Map<Op, number>() };
  const fs: Partial<Record<Op, (...args: unknown[]) => Promise<unknown>>> = {};
  for (const op of Object.keys(nodeJournalFs) as Op[]) {
    const real = nodeJournalFs[op] as (...args: unknown[]) => Promise<unknown>;
    fs[op] = async (...args: unknown[]) => {
      if (state.crashed && op !== 'close') throw new Error(`simulated crash: process is dead (${op})`);
      state.calls.set(op, (state.calls.get(op) ?? 0) + 1);
      const verdict = rule(op, args);
      if (verdict === 'crash-before') {
        state.crashed = true;
        throw new Error(`simulated crash before ${op}`);
      }
      if (verdict === 'fail') throw Object.assign(new Error(`EIO: simulated i/o error, ${op}`), { code: 'EIO' });
      await gate?.(op);
      const result = await real(...args);
      if (verdict === 'crash-after') {
        state.crashed = true;
        throw new Error(`simulated crash after ${op}`);
      }
      return result;
    };
  }
  return { fs: fs as JournalFs, state };
}

const pathArg = (args: readonly unknown[], index = 0): string => String(args[index]);

function journalFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.startsWith('journal-'))
    .sort();
}

function lastJournalPath(dir: string): string {
  const files = journalFiles(dir);
  return join(dir, files[files.length - 1] ?? 'missing');
}

describe('crc32c', () => {
  it('matches the published CRC-32C check values', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(32, 0))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
  });

  it('gives the same value computed in pieces as in one pass, at every alignment', () => {
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 131 + 7) & 0xff));
    const whole = crc32c(data);
    for (const split of [1, 7, 8, 9, 500, 999]) {
      expect(crc32c(data, split, data.length, crc32c(data, 0, split))).toBe(whole);
    }
  });
});

describe('Journal records', () => {
  it('round-trips every BSON value type, through the journal and through a snapshot', async () => {
    const dir = tempDir();
    const id = new ObjectId();
    const record = {
      int32: new Int32(7),
      int32Negative: new Int32(-2147483648),
      double: new Double(1),
      doubleFraction: new Double(2.5),
      doubleNegativeZero: new Double(-0),
      doubleInfinity: new Double(Number.POSITIVE_INFINITY),
      long: Long.fromString('9007199254740993'),
      decimal: Decimal128.fromString('1234567890.123456789012345678901234'),
      string: 'héllo \u{1F600}',
      bool: false,
      nil: null,
      date: new Date('2024-02-29T12:34:56.789Z'),
      id,
      binary: new Binary(Buffer.from([0, 1, 2, 255]), 4),
      timestamp: new Timestamp({ t: 1700000000, i: 42 }),
      regex: new BSONRegExp('^a.c$', 'i'),
      min: new MinKey(),
      max: new MaxKey(),
      code: new Code('function () { return 1; }'),
      array: [new Int32(1), new Double(1), Long.fromNumber(1), 'one'],
      nested: { a: { b: [{ c: new Int32(3) }] } },
    };
    const { journal } = await open({ dir });
    await journal.append(record);
    await closeJournal(journal);

    const recovered = await reopen(dir);
    expect(recovered.snapshot).toBeNull();
    expect(recovered.records).toHaveLength(1);
    const [back] = recovered.records as [Doc];
    expect(back).toEqual(record);
    expect(back.int32).toBeInstanceOf(Int32);
    expect(back.double).toBeInstanceOf(Double);
    expect((back.double as Double).value).toBe(1);
    expect(Object.is((back.doubleNegativeZero as Double).value, -0)).toBe(true);
    expect(back.long).toBeInstanceOf(Long);
    expect((back.long as Long).toString()).toBe('9007199254740993');
    expect(back.decimal).toBeInstanceOf(Decimal128);
    expect(back.regex).toBeInstanceOf(BSONRegExp);
    expect((back.array as unknown[]).map((v) => (v as object).constructor.name)).toEqual([
      'Int32',
      'Double',
      'Long',
      'String',
    ]);

    const second = await open({ dir });
    await second.journal.compact([record, { after: new Int32(1) }]);
    await closeJournal(second.journal);
    const compacted = await reopen(dir);
    expect(compacted.snapshot).toEqual([record, { after: new Int32(1) }]);
    expect((compacted.snapshot?.[0] as Doc).int32).toBeInstanceOf(Int32);
    expect(compacted.records).toEqual([]);
  });

  it('serializes the record at append time, so a later mutation is not what gets stored', async () => {
    const dir = tempDir();
    const { journal } = await open({ dir });
    const record: Doc = { n: new Int32(1) };
    const appended = journal.append(record);
    record.n = new Int32(2);
    await appended;
    await closeJournal(journal);
    expect((await reopen(dir)).records).toEqual([{ n: new Int32(1) }]);
  });

  it('rejects a record BSON cannot encode and keeps working', async () => {
    const dir = tempDir();
    const { journal } = await open({ dir });
    await journal.append({ n: new Int32(1) });
    await expect(journal.append({ 'bad\0key': 1 })).rejects.toThrow(/null bytes/);
    await journal.append({ n: new Int32(2) });
    expect(journal.failedWith).toBeNull();
    await closeJournal(journal);
    expect((await reopen(dir)).records).toEqual([{ n: new Int32(1) }, { n: new Int32(2) }]);
  });
});

describe('Journal group commit', () => {
  it('makes concurrent appends durable in call order with far fewer fsyncs than records', async () => {
    const dir = tempDir();
    const { fs, state } = faultyFs();
    const { journal } = await open({ dir, fs });
    const resolvedOrder: number[] = [];
    let nextSeq = 0;
    const append = async () => {
      const seq = nextSeq++;
      await journal.append({ seq: new Int32(seq), body: 'x'.repeat(250) });
      resolvedOrder.push(seq);
    };
    // Ten clients, each waiting for its acknowledgement before the next write, like ten driver connections.
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        for (let i = 0; i < 50; i++) await append();
      }),
    );
    // And a burst issued in one go, like an unordered insertMany.
    await Promise.all(Array.from({ length: 500 }, append));

    expect(resolvedOrder).toEqual([...resolvedOrder].sort((a, b) => a - b));
    expect(resolvedOrder).toHaveLength(1000);
    const journalFsyncs = state.calls.get('fdatasync') ?? 0;
    expect(journal.stats.appends).toBe(1000);
    expect(journal.stats.fsyncs).toBe(journalFsyncs);
    expect(journalFsyncs).toBeLessThanOrEqual(1000 / 4);
    await closeJournal(journal);

    const recovered = await reopen(dir);
    expect(recovered.records.map((r) => (r.seq as Int32).value)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('resolves an append only after its fdatasync has completed', async () => {
    const dir = tempDir();
    // Assigned inside the gate callback, which control-flow analysis does not follow.
    let releaseSync = null as (() => void) | null;
    let gated = 0;
    const gate = (op: Op) =>
      op === 'fdatasync' && ++gated === 1
        ? new Promise<void>((resolve) => {
            releaseSync = resolve;
          })
        : undefined;
    const { fs } = faultyFs(undefined, gate);
    const { journal } = await open({ dir, fs });
    let acknowledged = false;
    const appended = journal.append({ n: new Int32(1) }).then(() => {
      acknowledged = true;
    });
    try {
      for (let i = 0; i < 500 && releaseSync === null; i++) await sleep(10);
      expect(releaseSync).not.toBeNull();
      // Written but not yet synced: not acknowledged, however many turns the event loop takes.
      for (let i = 0; i < 20; i++) await nextTurn();
      expect(acknowledged).toBe(false);
      expect(readFileSync(lastJournalPath(dir)).includes(Buffer.from([0x10, 0x6e, 0x00, 0x01, 0, 0, 0]))).toBe(true);
    } finally {
      releaseSync?.();
    }
    await appended;
    expect(acknowledged).toBe(true);
  });

  it('rejects the affected and all later appends after an fsync error, and never reports them durable', async () => {
    const dir = tempDir();
    let syncs = 0;
    const { fs } = faultyFs((op) => (op === 'fdatasync' && ++syncs === 3 ? 'fail' : undefined));
    const { journal } = await open({ dir, fs });
    await journal.append({ n: new Int32(1) });
    await journal.append({ n: new Int32(2) });
    const third = journal.append({ n: new Int32(3) });
    const fourth = journal.append({ n: new Int32(4) });
    await expect(third).rejects.toBeInstanceOf(JournalFailedError);
    await expect(fourth).rejects.toThrow(/EIO: simulated/);
    expect(journal.failedWith?.message).toMatch(/EIO/);
    await expect(journal.append({ n: new Int32(5) })).rejects.toBeInstanceOf(JournalFailedError);
    await expect(journal.compact([])).rejects.toBeInstanceOf(JournalFailedError);
    await closeJournal(journal);

    const recovered = await reopen(dir);
    const values = recovered.records.map((r) => (r.n as Int32).value);
    // 3 and 4 were written before the failed fsync, so they may be there; 5 was refused up front.
    expect(values.slice(0, 2)).toEqual([1, 2]);
    expect(values).not.toContain(5);
  });

  it('rejects appends whose write fails and does not leave them on disk', async () => {
    const dir = tempDir();
    let disk = 'healthy';
    const { fs } = faultyFs((op) => (op === 'write' && disk === 'failing' ? 'fail' : undefined));
    const { journal } = await open({ dir, fs });
    await journal.append({ n: new Int32(1) });
    disk = 'failing';
    await expect(journal.append({ n: new Int32(2) })).rejects.toBeInstanceOf(JournalFailedError);
    await closeJournal(journal);
    expect((await reopen(dir)).records).toEqual([{ n: new Int32(1) }]);
  });
});

describe('Journal torn tail', () => {
  async function writeRecords(dir: string, count: number): Promise<number[]> {
    const { journal } = await open({ dir });
    const frameEnds: number[] = [];
    for (let i = 0; i < count; i++) {
      await journal.append({ i: new Int32(i), text: `record ${i}` });
      frameEnds.push(journal.journalBytes);
    }
    await closeJournal(journal);
    return frameEnds;
  }

  const damages: [string, (path: string, frameEnds: number[]) => void][] = [
    ['the last frame is cut in half', (path, ends) => truncateSync(path, (ends.at(-1) ?? 0) - 10)],
    ['only part of the last frame header made it', (path, ends) => truncateSync(path, (ends.at(-2) ?? 0) + 3)],
    [
      'a byte of the last frame payload is flipped',
      (path, ends) => {
        const bytes = readFileSync(path);
        const at = (ends.at(-1) ?? 0) - 6;
        bytes[at] = (bytes[at] ?? 0) ^ 0x40;
        writeFileSync(path, bytes);
      },
    ],
    [
      'garbage follows the last frame',
      (path) => appendFileSync(path, Buffer.from('\x13\x00\x00\x00garbage that is not a frame')),
    ],
    [
      'a torn frame followed by zeros',
      (path, ends) => {
        truncateSync(path, (ends.at(-1) ?? 0) - 30);
        appendFileSync(path, Buffer.alloc(4096));
      },
    ],
    [
      'the length field of the last frame is absurd',
      (path, ends) => {
        const bytes = readFileSync(path);
        bytes.writeUInt32LE(0x7fffffff, ends.at(-2) ?? 0);
        writeFileSync(path, bytes);
      },
    ],
  ];

  it.each(damages)(
    '%s: earlier records load, the tail is dropped from disk, and new appends follow',
    async (_name, damage) => {
      const dir = tempDir();
      const frameEnds = await writeRecords(dir, 20);
      const path = lastJournalPath(dir);
      damage(path, frameEnds);
      const damagedSize = statSync(path).size;

      const { journal, recovered } = await open({ dir });
      const survivors = recovered.records.map((r) => (r.i as Int32).value);
      expect(survivors.length).toBeGreaterThanOrEqual(19);
      expect(survivors).toEqual(Array.from({ length: survivors.length }, (_, i) => i));
      expect(recovered.tornBytesDropped).toBeGreaterThan(0);
      expect(recovered.tornBytesDropped).toBeLessThanOrEqual(damagedSize - (frameEnds[survivors.length - 1] ?? 0));
      expect(recovered.tornTail?.file).toBe(path);
      expect(statSync(path).size).toBe(frameEnds[survivors.length - 1]);

      await journal.append({ i: new Int32(100), text: 'after recovery' });
      await closeJournal(journal);
      const again = await reopen(dir);
      expect(again.tornBytesDropped).toBe(0);
      expect(again.records.map((r) => (r.i as Int32).value)).toEqual([...survivors, 100]);
    },
  );

  it('reads zeros after the last frame as unwritten preallocated space, not as damage', async () => {
    const dir = tempDir();
    await writeRecords(dir, 5);
    const path = lastJournalPath(dir);
    appendFileSync(path, Buffer.alloc(64 * 1024));
    const { journal, recovered } = await open({ dir });
    expect(recovered.records).toHaveLength(5);
    expect(recovered.tornBytesDropped).toBe(0);
    expect(recovered.tornTail).toBeNull();
    await journal.append({ i: new Int32(5), text: 'into the zeros' });
    await closeJournal(journal);
    const again = await reopen(dir);
    expect(again.records.map((r) => (r.i as Int32).value)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(again.tornBytesDropped).toBe(0);
  });

  it('treats everything after a corrupt frame in the middle as torn, even valid frames (log-structured)', async () => {
    const dir = tempDir();
    const frameEnds = await writeRecords(dir, 10);
    const path = lastJournalPath(dir);
    const bytes = readFileSync(path);
    const fifthFrame = frameEnds[3] ?? 0;
    bytes[fifthFrame + FRAME_HEADER_BYTES + 7] = (bytes[fifthFrame + FRAME_HEADER_BYTES + 7] ?? 0) ^ 0xff;
    writeFileSync(path, bytes);

    const recovered = await reopen(dir);
    expect(recovered.records.map((r) => (r.i as Int32).value)).toEqual([0, 1, 2, 3]);
    // Counted up to the last non-zero byte: trailing zeros are indistinguishable from unwritten space.
    expect(recovered.tornBytesDropped).toBe(bytes.findLastIndex((byte) => byte !== 0) + 1 - fifthFrame);
    expect(recovered.tornTail).toEqual({ file: path, offset: fifthFrame, reason: 'frame checksum mismatch' });
  });

  it('drops later journal files too when an older one is corrupt', async () => {
    const dir = tempDir();
    // A compaction that dies before its snapshot is renamed leaves two live journals.
    const { fs } = faultyFs((op, args) =>
      op === 'rename' && pathArg(args).endsWith('snapshot.bson.tmp') ? 'crash-before' : undefined,
    );
    const first = await open({ dir, fs });
    await first.journal.append({ i: new Int32(0) });
    await first.journal.append({ i: new Int32(1) });
    await expect(first.journal.compact([{ i: new Int32(0) }, { i: new Int32(1) }])).rejects.toThrow(/simulated crash/);
    await abandon(first.journal);
    const second = await open({ dir });
    await second.journal.append({ i: new Int32(2) });
    await closeJournal(second.journal);
    expect(journalFiles(dir)).toEqual([journalFileName(1), journalFileName(2)]);

    const olderPath = join(dir, journalFileName(1));
    const newerSize = statSync(join(dir, journalFileName(2))).size;
    const older = readFileSync(olderPath);
    older[older.length - 2] = (older[older.length - 2] ?? 0) ^ 0xff;
    writeFileSync(olderPath, older);

    const { journal, recovered } = await open({ dir });
    expect(recovered.records.map((r) => (r.i as Int32).value)).toEqual([0]);
    expect(recovered.tornBytesDropped).toBeGreaterThan(newerSize);
    expect(journalFiles(dir)).toEqual([journalFileName(1)]);
    await journal.append({ i: new Int32(3) });
    await closeJournal(journal);
    expect((await reopen(dir)).records.map((r) => (r.i as Int32).value)).toEqual([0, 3]);
  });

  it('refuses to open a journal whose header is damaged instead of guessing', async () => {
    const dir = tempDir();
    await writeRecords(dir, 3);
    const path = lastJournalPath(dir);
    const bytes = readFileSync(path);
    bytes[10] = 99;
    writeFileSync(path, bytes);
    await expect(Journal.open({ dir })).rejects.toThrow(JournalCorruptError);
    await expect(Journal.open({ dir })).rejects.toThrow(/header checksum/);
    expect(statSync(path).size).toBe(bytes.length);
  });
});

/** Key/value puts: the state is the fold of snapshot records and journal records. */
function put(key: string, value: number): Doc {
  return { k: key, v: new Int32(value) };
}

function fold(recovered: RecoveredState): Map<string, number> {
  const state = new Map<string, number>();
  for (const record of [...(recovered.snapshot ?? []), ...recovered.records])
    state.set(record.k as string, (record.v as Int32).value);
  return state;
}

function snapshotOf(state: Map<string, number>): Doc[] {
  return [...state].map(([k, v]) => put(k, v));
}

describe('Journal compaction', () => {
  it('replaces journal and snapshot, deletes the old journal, and shrinks journalBytes', async () => {
    const dir = tempDir();
    const { journal } = await open({ dir });
    const state = new Map<string, number>();
    for (let i = 0; i < 200; i++) {
      state.set(`k${i % 10}`, i);
      await journal.append(put(`k${i % 10}`, i));
    }
    const before = journal.journalBytes;
    await journal.compact(snapshotOf(state));
    expect(journal.journalBytes).toBe(JOURNAL_HEADER_BYTES);
    expect(journal.journalBytes).toBeLessThan(before);
    expect(journal.snapshotBytes).toBe(statSync(join(dir, 'snapshot.bson')).size);
    expect(readdirSync(dir).sort()).toEqual(['engine.lock', journalFileName(2), 'snapshot.bson']);
    expect(journal.stats.compactions).toBe(1);
    await journal.append(put('k0', 1000));
    state.set('k0', 1000);
    await closeJournal(journal);

    const recovered = await reopen(dir);
    expect(recovered.snapshot).toHaveLength(10);
    expect(recovered.records).toEqual([put('k0', 1000)]);
    expect(fold(recovered)).toEqual(state);
  });

  it('covers in the snapshot every append called before compact(), and journals every append made during it', async () => {
    const dir = tempDir();
    const { journal } = await open({ dir });
    for (let i = 0; i < 50; i++) await journal.append(put(`before${i}`, i));
    // Called but not yet durable when compact() is called: the snapshot below covers it.
    const lastBefore = journal.append(put('lastBefore', 1));
    const snapshot = [...Array.from({ length: 50 }, (_, i) => put(`before${i}`, i)), put('lastBefore', 1)];

    let midway: () => void = () => undefined;
    const reachedMidway = new Promise<void>((resolve) => {
      midway = resolve;
    });
    let continueSnapshot: () => void = () => undefined;
    const mayContinue = new Promise<void>((resolve) => {
      continueSnapshot = resolve;
    });
    async function* slowSnapshot(): AsyncGenerator<Doc> {
      for (const [index, record] of snapshot.entries()) {
        if (index === 25) {
          midway();
          await mayContinue;
        }
        yield record;
      }
    }
    const compaction = journal.compact(slowSnapshot());
    await lastBefore;
    await reachedMidway;
    const during = Array.from({ length: 30 }, (_, i) => put(`during${i}`, i));
    await Promise.all(during.map((record) => journal.append(record)));
    continueSnapshot();
    await compaction;
    const after = put('after', 1);
    await journal.append(after);
    await closeJournal(journal);

    const recovered = await reopen(dir);
    expect(recovered.snapshot).toEqual(snapshot);
    expect(recovered.records).toEqual([...during, after]);
    expect(journalFiles(dir)).toEqual([journalFileName(2)]);
  });

  /** Matches the step of a compaction at which the simulated process dies. */
  const crashPoints: [string, () => (op: Op, args: readonly unknown[]) => Verdict][] = [
    [
      'before the new journal file is renamed into place',
      () => (op, args) =>
        op === 'rename' && pathArg(args).endsWith(`${journalFileName(2)}.tmp`) ? 'crash-before' : undefined,
    ],
    [
      'right after the new journal is created (journal switch)',
      () => (op, args) =>
        op === 'rename' && pathArg(args).endsWith(`${journalFileName(2)}.tmp`) ? 'crash-after' : undefined,
    ],
    [
      'in the middle of writing the snapshot',
      () => {
        let snapshotOpened = false;
        let bigWrites = 0;
        return (op, args) => {
          if (op === 'open' && pathArg(args).endsWith('snapshot.bson.tmp')) snapshotOpened = true;
          // Snapshot chunks are 1 MiB; the journal writes racing them are small.
          return snapshotOpened && op === 'write' && Number(args[3]) >= 512 * 1024 && ++bigWrites === 2
            ? 'crash-before'
            : undefined;
        };
      },
    ],
    [
      'after the temp snapshot is written and synced, before its rename',
      () => (op, args) => (op === 'rename' && pathArg(args).endsWith('snapshot.bson.tmp') ? 'crash-before' : undefined),
    ],
    [
      'right after the snapshot rename, before the directory fsync',
      () => (op, args) => (op === 'rename' && pathArg(args).endsWith('snapshot.bson.tmp') ? 'crash-after' : undefined),
    ],
    [
      'after the old journal is deleted',
      () => (op, args) => (op === 'unlink' && /journal-\d+\.log$/.test(pathArg(args)) ? 'crash-after' : undefined),
    ],
  ];

  it.each(crashPoints)('a crash %s recovers the complete state', async (_name, makeRule) => {
    const dir = tempDir();
    const { fs, state: fsState } = faultyFs(makeRule());
    const { journal } = await open({ dir, fs });
    const acknowledged = new Map<string, number>();
    const padding = 'z'.repeat(150);
    // Enough data that the snapshot takes several 1 MiB chunks.
    for (let round = 0; round < 4; round++) {
      await Promise.all(
        Array.from({ length: 5000 }, (_, i) => {
          const key = `k${i}`;
          const value = round * 10_000 + i;
          return journal.append({ ...put(key, value), padding }).then(() => acknowledged.set(key, value));
        }),
      );
    }
    const snapshot = [...acknowledged].map(([k, v]) => ({ ...put(k, v), padding }));
    const compaction = journal.compact(snapshot);
    // Writes racing the compaction: each either got acknowledged (and must survive) or was refused by the crash.
    const racing = Array.from({ length: 50 }, (_, i) =>
      journal.append(put(`k${i}`, 99_000 + i)).then(
        () => acknowledged.set(`k${i}`, 99_000 + i),
        () => undefined,
      ),
    );
    await expect(compaction).rejects.toThrow(/simulated crash/);
    await Promise.all(racing);
    expect(fsState.crashed).toBe(true);
    await abandon(journal);

    const recovered = await reopen(dir);
    expect(fold(recovered)).toEqual(acknowledged);
    expect(recovered.tornBytesDropped).toBe(0);

    // The next compaction cleans up whatever the crash left behind.
    const { journal: next, recovered: again } = await open({ dir });
    await next.compact(snapshotOf(fold(again)));
    await closeJournal(next);
    expect(readdirSync(dir).filter((name) => name !== 'engine.lock')).toHaveLength(2);
    expect(fold(await reopen(dir))).toEqual(acknowledged);
  });

  it('keeps the old state when the snapshot iterable throws, and leaves no temp file', async () => {
    const dir = tempDir();
    const { journal } = await open({ dir });
    await journal.append(put('a', 1));
    // eslint-style generator that fails halfway, like a store bug while walking collections
    function* failing(): Generator<Doc> {
      yield put('a', 1);
      throw new Error('store walked off a cliff');
    }
    await expect(journal.compact(failing())).rejects.toThrow(/cliff/);
    await journal.append(put('b', 2));
    await closeJournal(journal);
    expect(existsSync(join(dir, 'snapshot.bson.tmp'))).toBe(false);
    const recovered = await reopen(dir);
    expect(recovered.snapshot).toBeNull();
    expect(recovered.records).toEqual([put('a', 1), put('b', 2)]);
  });

  it('runs queued compactions in call order, each with its own cut point', async () => {
    const dir = tempDir();
    const { journal } = await open({ dir });
    await journal.append(put('a', 1));
    const first = journal.compact([put('a', 1)]);
    await journal.append(put('b', 2));
    const second = journal.compact([put('a', 1), put('b', 2)]);
    await journal.append(put('c', 3));
    await Promise.all([first, second]);
    await closeJournal(journal);
    const recovered = await reopen(dir);
    expect(recovered.snapshot).toEqual([put('a', 1), put('b', 2)]);
    expect(recovered.records).toEqual([put('c', 3)]);
    expect(journalFiles(dir)).toEqual([journalFileName(3)]);
  });

  it('writes and reads a snapshot far beyond 16 MiB while the event loop keeps turning', async () => {
    const dir = tempDir();
    const { journal } = await open({ dir });
    const count = 100_000;
    const padding = 'd'.repeat(180);
    function* documents(): Generator<Doc> {
      for (let i = 0; i < count; i++) yield { _id: new Int32(i), padding };
    }
    let ticks = 0;
    let ticking = true;
    const tick = (): void => {
      ticks++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    await journal.compact(documents());
    const ticksDuringCompaction = ticks;
    await closeJournal(journal);
    expect(statSync(join(dir, 'snapshot.bson')).size).toBeGreaterThan(16 * 1024 * 1024);

    ticks = 0;
    const recovered = await reopen(dir);
    const ticksDuringOpen = ticks;
    ticking = false;
    expect(recovered.snapshot).toHaveLength(count);
    expect(recovered.snapshot?.every((doc, i) => (doc._id as Int32).value === i)).toBe(true);
    // A single synchronous pass over 100k records would give the loop no turn at all.
    expect(ticksDuringCompaction).toBeGreaterThanOrEqual(count / 1000);
    expect(ticksDuringOpen).toBeGreaterThanOrEqual(count / 1000);
  });

  it('refuses to open a damaged snapshot rather than starting from less data', async () => {
    const dir = tempDir();
    const { journal } = await open({ dir });
    await journal.compact([put('a', 1), put('b', 2)]);
    await closeJournal(journal);
    const path = join(dir, 'snapshot.bson');
    const bytes = readFileSync(path);
    writeFileSync(path, bytes.subarray(0, bytes.length - 5));
    await expect(Journal.open({ dir })).rejects.toThrow(JournalCorruptError);
    expect(existsSync(path)).toBe(true);
    expect(journalFiles(dir)).toEqual([journalFileName(2)]);
  });

  it('refuses to open when the journal that follows the snapshot has disappeared', async () => {
    const dir = tempDir();
    const { journal } = await open({ dir });
    await journal.compact([put('a', 1)]);
    await journal.append(put('b', 2));
    await closeJournal(journal);
    rmSync(join(dir, journalFileName(2)));
    await expect(Journal.open({ dir })).rejects.toThrow(/journal-000000000002\.log.*missing/);
  });
});

function spawnNode(args: string[]): ChildProcess {
  const child = spawn(process.execPath, args, { cwd: here, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  return child;
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

describe('Journal data directory lock', () => {
  it('refuses a second open of the same directory, naming it, until the first closes', async () => {
    const dir = tempDir();
    const { journal } = await open({ dir });
    const second = Journal.open({ dir });
    await expect(second).rejects.toBeInstanceOf(DataDirectoryLockedError);
    await expect(Journal.open({ dir })).rejects.toThrow(dir);
    await closeJournal(journal);
    expect(existsSync(join(dir, 'engine.lock'))).toBe(false);
    const third = await open({ dir });
    await closeJournal(third.journal);
  });

  it('refuses a directory locked by another live process', async () => {
    const dir = tempDir();
    const holder = spawnNode(['-e', 'setTimeout(() => {}, 20000)']);
    expect(holder.pid).toBeTypeOf('number');
    writeFileSync(join(dir, 'engine.lock'), `${holder.pid}\n`);
    await expect(Journal.open({ dir })).rejects.toThrow(new RegExp(`${dir}.*process ${holder.pid}`));
    expect(readFileSync(join(dir, 'engine.lock'), 'utf8')).toBe(`${holder.pid}\n`);
  });

  it('takes over a lock left by a dead process, or an unreadable one', async () => {
    const dir = tempDir();
    const gone = spawnNode(['-e', '']);
    await exited(gone);
    writeFileSync(join(dir, 'engine.lock'), `${gone.pid}\n`);
    const { journal } = await open({ dir });
    expect(readFileSync(join(dir, 'engine.lock'), 'utf8')).toBe(`${process.pid}\n`);
    await journal.append(put('a', 1));
    await closeJournal(journal);

    for (const garbage of ['not a pid', '0', '']) {
      writeFileSync(join(dir, 'engine.lock'), garbage);
      expect((await reopen(dir)).records).toEqual([put('a', 1)]);
      expect(existsSync(join(dir, 'engine.lock'))).toBe(false);
    }
  });
});

describe('Journal close', () => {
  it('flushes appends still pending, then refuses new work', async () => {
    const dir = tempDir();
    const { journal } = await open({ dir, groupCommitMs: 5 });
    const pending = Array.from({ length: 20 }, (_, i) => journal.append(put(`k${i}`, i)));
    await journal.close();
    openJournals.delete(journal);
    await Promise.all(pending);
    await expect(journal.append(put('late', 1))).rejects.toBeInstanceOf(JournalClosedError);
    await expect(journal.compact([])).rejects.toBeInstanceOf(JournalClosedError);
    await journal.close();
    expect((await reopen(dir)).records).toHaveLength(20);
  });
});

describe('Journal under kill -9', () => {
  const childScript = join(here, 'journal-crash-child.ts');

  /** Runs the child until it has acknowledged `target` more appends, then SIGKILLs it; returns the acknowledged seqs. */
  async function runAndKill(dir: string, target: number, compactEvery: number): Promise<number[]> {
    const child = spawnNode(['--import', 'tsx', childScript, dir, '10', '1000000', String(compactEvery)]);
    const acknowledged: number[] = [];
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    let pending = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`child acknowledged only ${acknowledged.length} appends in 20 s: ${stderr}`)),
        20_000,
      );
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        if (signal === 'SIGKILL') resolve();
        else reject(new Error(`child exited on its own (${code}): ${stderr}`));
      });
      child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
        const lines = (pending + chunk).split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) if (/^\d+$/.test(line)) acknowledged.push(Number(line));
        if (acknowledged.length >= target && child.signalCode === null) child.kill('SIGKILL');
      });
    });
    children.delete(child);
    return acknowledged;
  }

  it.each([
    ['appends only', 0],
    ['appends with compactions', 150],
  ])('loses no acknowledged append (%s), across two kills', async (_name, compactEvery) => {
    const dir = tempDir();
    const acknowledged = [...(await runAndKill(dir, 400, compactEvery)), ...(await runAndKill(dir, 400, compactEvery))];
    expect(acknowledged.length).toBeGreaterThanOrEqual(800);

    const recovered = await reopen(dir);
    const seqs = [...(recovered.snapshot ?? []), ...recovered.records].map((r) => (r.seq as Long).toNumber());
    // In append order, no holes, no duplicates: exactly 1..n.
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    expect(seqs.length).toBeGreaterThanOrEqual(Math.max(...acknowledged));
    if (compactEvery > 0) expect(recovered.snapshot?.length ?? 0).toBeGreaterThan(0);
  });
});
