import { join, resolve } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import {
  type Doc,
  type EncodedFrame,
  FRAME_HEADER_BYTES,
  JOURNAL_HEADER_BYTES,
  JournalCorruptError,
  SNAPSHOT_FILE,
  SNAPSHOT_HEADER_BYTES,
  SNAPSHOT_TEMP_FILE,
  decodeHeader,
  encodeFrame,
  encodeHeader,
  isJournalTempFileName,
  journalFileName,
  parseJournalFileName,
  scanFrames,
} from './journal-format.js';
import { type JournalFs, errnoCode, nodeJournalFs, readAt, syncDirectory, writeFully } from './journal-fs.js';
import { type DirectoryLock, acquireDirectoryLock } from './journal-lock.js';

export { JournalCorruptError } from './journal-format.js';
export { DataDirectoryLockedError } from './journal-lock.js';
export { type JournalFs, nodeJournalFs } from './journal-fs.js';

/*
 * Durable append-only journal plus snapshot, in one data directory:
 *
 *   engine.lock                 pid of the engine that owns the directory
 *   snapshot.bson               the last compaction's records, and the generation of the journal that follows it
 *   journal-<generation>.log    records appended since; several only when a compaction was interrupted
 *
 * Recovery = snapshot records, then every journal from the snapshot's generation upwards, in order.
 *
 * Compaction, and why a crash at any step recovers a complete state (old or new, never a mix):
 *   1. rotate: create journal G+1 (temp file, header, fsync, rename, fsync dir); appends made before compact() was
 *      called are in journals <= G and already durable; later appends go to G+1.
 *      Crash before the rename: old snapshot + journals <= G. Crash after: old snapshot + journals <= G+1.
 *   2. write snapshot.bson.tmp (placeholder header, records in chunks, real header last), fsync.
 *      Crash: the temp file is ignored and deleted on open; old snapshot + journals <= G+1 as above.
 *   3. rename over snapshot.bson, fsync dir. Crash after: new snapshot (says "G+1 follows") + journal G+1;
 *      journals < G+1 still present are ignored and deleted on open.
 *   4. delete journals < G+1, fsync dir.
 *
 * Torn or corrupt frames: journals are log-structured, so nothing after the first frame that fails validation can
 * be trusted to be in order with what came before. Everything from that frame onwards is dropped — the rest of that
 * file AND every later journal file — counted in `tornBytesDropped`, and removed from disk. A crash can only tear
 * the tail of the newest journal (an older one is fully fsynced before the next is created), so dropping more
 * than a tail means media corruption; the store should log `tornTail` loudly when it is not in the last file.
 * Exception: when everything after the last valid frame is zero bytes, that is preallocated space never written to
 * (see PREALLOCATE_BYTES) — the normal end of the log, not damage; it is kept and reported as 0 torn bytes.
 * Files that are only ever written atomically (headers, the snapshot) are not "torn" when they fail to validate:
 * open() throws `JournalCorruptError` rather than silently starting from less data.
 */

export interface JournalOptions {
  dir: string;
  /**
   * How long the first append after an idle period waits for companions before the write+fsync starts.
   * Default 0: start on the next event-loop turn. Appends made while an fsync is in flight always share the next one.
   */
  groupCommitMs?: number;
  /** File-system layer; tests inject faults and count fsyncs through it. Default: the real file system. */
  fs?: JournalFs;
}

/** Where and why a dropped journal tail started. */
export interface TornTail {
  file: string;
  offset: number;
  reason: string;
}

export interface RecoveredState {
  /** The last compaction's records in the order given to `compact`, or null if the directory was never compacted. */
  snapshot: Doc[] | null;
  /** Records appended after that snapshot, in append order. */
  records: Doc[];
  /**
   * Bytes of torn or corrupt journal tail dropped from disk during open, up to the last non-zero byte (zero-filled
   * preallocated space is not damage). 0 after a clean shutdown.
   */
  tornBytesDropped: number;
  /** Where and why the dropped tail started, or null when nothing was dropped. */
  tornTail: TornTail | null;
}

/**
 * Receives the recovered records one by one as `Journal.openInto` reads them, so that a caller which folds them into
 * its own state never holds more than one read chunk of decoded records. Every snapshot record comes before every
 * journal record. A sink that throws stops the open: the journal closes its files, releases the lock and rethrows.
 */
export interface RecoverySink {
  /** One record of the last compaction, in the order given to `compact`. */
  snapshotRecord(record: Doc): void;
  /** One record appended after that snapshot, in append order. */
  journalRecord(record: Doc): void;
}

/** What `Journal.openInto` handed to its sink and what it dropped. */
export interface RecoveryReport {
  /** Snapshot records handed to the sink, or null if the directory was never compacted. */
  snapshotRecords: number | null;
  /** Journal records handed to the sink. */
  journalRecords: number;
  /** As in `RecoveredState`. */
  tornBytesDropped: number;
  tornTail: TornTail | null;
}

/** Counters since open. */
export interface JournalStats {
  /** Records made durable by `append`. */
  appends: number;
  /** Write+fdatasync rounds for appends: appends / fsyncs is the group-commit factor. */
  fsyncs: number;
  /** Frame bytes written by `append`. */
  bytesWritten: number;
  compactions: number;
}

/** `append`/`compact` after an I/O error: the journal refuses everything until it is reopened. */
export class JournalFailedError extends Error {
  constructor(dir: string, cause: Error) {
    super(`journal in ${dir} failed and accepts no more writes: ${cause.message}`, { cause });
    this.name = 'JournalFailedError';
  }
}

/** `append`/`compact` after `close()`. */
export class JournalClosedError extends Error {
  constructor(dir: string) {
    super(`journal in ${dir} is closed`);
    this.name = 'JournalClosedError';
  }
}

interface RecordEntry {
  kind: 'record';
  frame: EncodedFrame;
  resolve: () => void;
  reject: (error: Error) => void;
}

interface RotateEntry {
  kind: 'rotate';
  resolve: (generation: number) => void;
  reject: (error: Error) => void;
}

type QueueEntry = RecordEntry | RotateEntry;

/** Bytes per write() call; a batch larger than this is several writes followed by one fdatasync. */
const WRITE_CHUNK_BYTES = 4 * 1024 * 1024;
const SNAPSHOT_CHUNK_BYTES = 1024 * 1024;
/**
 * The journal file is grown by writing zeros this far ahead of the data. Overwriting blocks that already exist lets
 * fdatasync flush data only; appending makes every fdatasync also commit the new file size and block allocation
 * (measured on ext4: ~0.5 ms instead of ~2-4 ms per group commit). Zeros after the last frame read as "never
 * written", not as damage; the file is trimmed back to its data on close.
 */
const PREALLOCATE_BYTES = 4 * 1024 * 1024;
const zeros = Buffer.alloc(1024 * 1024);
/** Snapshot records serialized between two yields to the event loop. */
const SNAPSHOT_RECORDS_PER_YIELD = 1000;

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

const ignore = (): void => undefined;

/**
 * Durable append-only journal of BSON records with snapshot compaction. It knows nothing about the meaning of the
 * records: the store decides what a record is and how to replay it.
 */
export class Journal {
  /** Absolute path of the data directory. */
  readonly dir: string;
  private readonly fs: JournalFs;
  private readonly lock: DirectoryLock;
  private readonly groupCommitMs: number;
  private fd: number;
  private generation: number;
  /** Size of the current journal file = offset of the next frame (only durable bytes are counted). */
  private writeOffset: number;
  /** Size of the current journal file including zero-filled space ahead of `writeOffset`. */
  private allocatedEnd: number;
  /** Live journal files older than the current one (left by an interrupted or running compaction): generation → bytes. */
  private readonly olderJournals: Map<number, number>;
  private snapshotFileBytes: number;
  private readonly queue: QueueEntry[] = [];
  private flushing = false;
  private flushScheduled = false;
  private idleWaiters: (() => void)[] = [];
  private failure: Error | null = null;
  private closing: Promise<void> | null = null;
  private compactionTail: Promise<void> = Promise.resolve();
  private readonly counters: JournalStats = { appends: 0, fsyncs: 0, bytesWritten: 0, compactions: 0 };

  private constructor(
    init: Omit<RecoveryResult, 'report'> & {
      dir: string;
      fs: JournalFs;
      lock: DirectoryLock;
      groupCommitMs: number;
    },
  ) {
    this.dir = init.dir;
    this.fs = init.fs;
    this.lock = init.lock;
    this.groupCommitMs = init.groupCommitMs;
    this.fd = init.fd;
    this.generation = init.generation;
    this.writeOffset = init.writeOffset;
    this.allocatedEnd = init.allocatedEnd;
    this.olderJournals = init.olderJournals;
    this.snapshotFileBytes = init.snapshotBytes;
  }

  /**
   * Locks `dir` (created if missing), recovers snapshot + journals, drops a torn tail from disk, and returns a
   * journal ready to append after the last good record together with every recovered record. Throws
   * `DataDirectoryLockedError` when another live engine holds the directory, `JournalCorruptError` when a snapshot or
   * header does not validate or a journal generation is missing. A caller that replays the records into its own state
   * should use `openInto`, which does not hold them all at once.
   */
  static async open(opts: JournalOptions): Promise<{ journal: Journal; recovered: RecoveredState }> {
    const snapshot: Doc[] = [];
    const records: Doc[] = [];
    const { journal, report } = await Journal.openInto(opts, {
      snapshotRecord: (record) => snapshot.push(record),
      journalRecord: (record) => records.push(record),
    });
    const { tornBytesDropped, tornTail } = report;
    return {
      journal,
      recovered: { snapshot: report.snapshotRecords === null ? null : snapshot, records, tornBytesDropped, tornTail },
    };
  }

  /**
   * `open`, handing each recovered record to `sink` as soon as it is decoded instead of collecting them. Everything
   * that makes the directory unusable as a whole (a bad snapshot header, a missing generation) is refused before the
   * first record reaches the sink; a damaged snapshot body or a bad header of a later journal can only be found after
   * some records were handed over, so a caller must treat a rejection as "discard what the sink built". A rejected
   * open changes nothing on disk that a later successful open would not also change (temp files, torn tails,
   * superseded journals), and releases the lock.
   */
  static async openInto(
    opts: JournalOptions,
    sink: RecoverySink,
  ): Promise<{ journal: Journal; report: RecoveryReport }> {
    const fs = opts.fs ?? nodeJournalFs;
    const dir = resolve(opts.dir);
    await fs.mkdirp(dir);
    const lock = await acquireDirectoryLock(fs, dir);
    try {
      const state = await recover(fs, dir, sink);
      const journal = new Journal({
        dir,
        fs,
        lock,
        groupCommitMs: Math.max(0, opts.groupCommitMs ?? 0),
        fd: state.fd,
        generation: state.generation,
        writeOffset: state.writeOffset,
        allocatedEnd: state.allocatedEnd,
        olderJournals: state.olderJournals,
        snapshotBytes: state.snapshotBytes,
      });
      return { journal, report: state.report };
    } catch (error) {
      await lock.release().catch(ignore);
      throw error;
    }
  }

  /**
   * Resolves once the record is on disk (fsync), batching concurrent appends into one fsync (group commit).
   * Records become durable in call order; a promise resolves only when its record and all earlier ones are durable.
   * The record is serialized synchronously, so later mutation of `record` does not affect what is written.
   * Rejects on unserializable input (journal unaffected) and on an I/O error (journal enters the failed state: this
   * and every later append reject; a rejected record may or may not be found on disk after a restart).
   */
  append(record: Doc): Promise<void> {
    const refusal = this.refusal();
    if (refusal) return Promise.reject(refusal);
    let frame: EncodedFrame;
    try {
      frame = encodeFrame(record);
    } catch (error) {
      return Promise.reject(asError(error));
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ kind: 'record', frame, resolve, reject });
      this.scheduleFlush();
    });
  }

  /**
   * Atomically replaces snapshot + journal with `snapshotRecords`, which must describe the state after every record
   * whose `append` was called before this call and none after: appends made before the call (even if not yet
   * durable) are covered by the snapshot and dropped from disk; appends made after it (including while this runs)
   * go to the new journal and are replayed on top of the snapshot. The records are iterated asynchronously while
   * later appends proceed, so a lazy iterable must read from a consistent view taken at the call (e.g. a copy of
   * the collection maps), not from live state. Written in chunks with yields to the event loop; no size limit
   * other than the disk's. Compactions run one at a time, in call order. A crash at any point recovers either the
   * old or the new state. Rejecting leaves a consistent directory (the old snapshot plus all journals).
   */
  compact(snapshotRecords: Iterable<Doc> | AsyncIterable<Doc>): Promise<void> {
    const refusal = this.refusal();
    if (refusal) return Promise.reject(refusal);
    // The cut point is fixed now, synchronously: the rotation marker sits behind every record appended so far.
    const rotated = new Promise<number>((resolve, reject) => {
      this.queue.push({ kind: 'rotate', resolve, reject });
      this.scheduleFlush();
    });
    rotated.catch(ignore); // observed below, possibly after an earlier compaction finishes
    const run = this.compactionTail.then(() => this.writeSnapshot(rotated, snapshotRecords));
    this.compactionTail = run.then(ignore, ignore);
    return run;
  }

  /** Current size in bytes of the live journal files (everything that replays on top of the snapshot). */
  get journalBytes(): number {
    let total = this.writeOffset;
    for (const bytes of this.olderJournals.values()) total += bytes;
    return total;
  }

  /** Size in bytes of the current snapshot file (0 when there is none), for compaction policy. */
  get snapshotBytes(): number {
    return this.snapshotFileBytes;
  }

  /** Counters since open; `appends / fsyncs` shows group commit at work. */
  get stats(): Readonly<JournalStats> {
    return { ...this.counters };
  }

  /** The I/O error that put the journal in the failed state, or null. */
  get failedWith(): Error | null {
    return this.failure;
  }

  /**
   * Waits for running compactions and pending appends, closes the file and releases the directory lock.
   * Appends after this call reject. Idempotent. Also completes (releasing what it can) when the journal has failed.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private refusal(): Error | null {
    if (this.failure) return new JournalFailedError(this.dir, this.failure);
    if (this.closing) return new JournalClosedError(this.dir);
    return null;
  }

  private async shutdown(): Promise<void> {
    await this.compactionTail;
    await this.whenIdle();
    let firstError: unknown = null;
    try {
      if (this.failure === null && this.allocatedEnd > this.writeOffset) {
        // Trim the preallocated zeros so a cleanly closed file ends with its last frame.
        await this.fs.ftruncate(this.fd, this.writeOffset);
        await this.fs.fdatasync(this.fd);
      }
    } catch (error) {
      firstError = error;
    }
    try {
      await this.fs.close(this.fd);
    } catch (error) {
      firstError ??= error;
    }
    try {
      await this.lock.release();
    } catch (error) {
      firstError ??= error;
    }
    if (firstError !== null) throw asError(firstError);
  }

  private whenIdle(): Promise<void> {
    if (!this.flushing && !this.flushScheduled && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private scheduleFlush(): void {
    if (this.flushing || this.flushScheduled) return;
    this.flushScheduled = true;
    const run = (): void => void this.flushLoop();
    // setImmediate rather than a microtask: it also gathers appends arriving from other sockets in this I/O phase.
    if (this.groupCommitMs > 0) setTimeout(run, this.groupCommitMs);
    else setImmediate(run);
  }

  /**
   * The single writer. Takes everything queued up to the next rotation marker, writes it, fdatasyncs once, resolves
   * those appends in order, and repeats while appends keep arriving during the fsync (group commit).
   */
  private async flushLoop(): Promise<void> {
    this.flushScheduled = false;
    this.flushing = true;
    try {
      while (this.queue.length > 0 && this.failure === null) {
        const head = this.queue[0] as QueueEntry;
        if (head.kind === 'rotate') {
          this.queue.shift();
          try {
            head.resolve(await this.rotate());
          } catch (error) {
            head.reject(asError(error));
            this.fail(asError(error), []);
          }
          continue;
        }
        let count = 1;
        while (count < this.queue.length && this.queue[count]?.kind === 'record') count++;
        const batch = this.queue.splice(0, count) as RecordEntry[];
        try {
          await this.writeBatch(batch);
        } catch (error) {
          this.fail(asError(error), batch);
          break;
        }
        for (const entry of batch) entry.resolve();
      }
    } finally {
      this.flushing = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  private async writeBatch(batch: RecordEntry[]): Promise<void> {
    let batchBytes = 0;
    for (const { frame } of batch) batchBytes += FRAME_HEADER_BYTES + frame.payload.length;
    if (this.writeOffset + batchBytes > this.allocatedEnd)
      await this.preallocate(this.writeOffset + batchBytes + PREALLOCATE_BYTES);
    let position = this.writeOffset;
    let index = 0;
    while (index < batch.length) {
      const parts: Uint8Array[] = [];
      let bytes = 0;
      while (index < batch.length && bytes < WRITE_CHUNK_BYTES) {
        const { frame } = batch[index] as RecordEntry;
        parts.push(frame.header, frame.payload);
        bytes += FRAME_HEADER_BYTES + frame.payload.length;
        index++;
      }
      await writeFully(this.fs, this.fd, Buffer.concat(parts, bytes), position);
      position += bytes;
    }
    await this.fs.fdatasync(this.fd);
    this.counters.fsyncs++;
    this.counters.appends += batch.length;
    this.counters.bytesWritten += position - this.writeOffset;
    this.writeOffset = position;
  }

  /** Grows the current file with zeros up to `end`; made durable by the fdatasync of the batch that needed it. */
  private async preallocate(end: number): Promise<void> {
    let position = this.allocatedEnd;
    while (position < end) {
      const length = Math.min(zeros.length, end - position);
      await writeFully(this.fs, this.fd, zeros.subarray(0, length), position);
      position += length;
    }
    this.allocatedEnd = end;
  }

  /** Rejects `batch` and everything queued; from now on the journal refuses work. Never reports success. */
  private fail(error: Error, batch: QueueEntry[]): void {
    this.failure ??= error;
    const failed = new JournalFailedError(this.dir, error);
    for (const entry of [...batch, ...this.queue.splice(0)]) entry.reject(failed);
  }

  /** Switches appends to a new journal generation; everything before is already durable in the old one. */
  private async rotate(): Promise<number> {
    const generation = this.generation + 1;
    const fd = await createJournalFile(this.fs, this.dir, generation);
    const previousFd = this.fd;
    const previousEnd = this.writeOffset;
    this.olderJournals.set(this.generation, previousEnd);
    this.fd = fd;
    this.generation = generation;
    this.writeOffset = JOURNAL_HEADER_BYTES;
    this.allocatedEnd = JOURNAL_HEADER_BYTES;
    // Its data is fsynced already. Trimming the zeros is tidiness (recovery reads them as unwritten space either
    // way), so neither a failed trim nor a failed close can lose anything.
    await this.fs.ftruncate(previousFd, previousEnd).catch(ignore);
    await this.fs.close(previousFd).catch(ignore);
    return generation;
  }

  private async writeSnapshot(rotated: Promise<number>, records: Iterable<Doc> | AsyncIterable<Doc>): Promise<void> {
    const nextGeneration = await rotated;
    const fs = this.fs;
    const tempPath = join(this.dir, SNAPSHOT_TEMP_FILE);
    const fd = await fs.open(tempPath, 'w');
    let open = true;
    let size = SNAPSHOT_HEADER_BYTES;
    try {
      let count = 0;
      let parts: Uint8Array[] = [];
      let partBytes = 0;
      const flush = async (): Promise<void> => {
        if (partBytes === 0) return;
        const chunk = Buffer.concat(parts, partBytes);
        parts = [];
        partBytes = 0;
        await writeFully(fs, fd, chunk, size);
        size += chunk.length;
      };
      for await (const record of records) {
        const frame = encodeFrame(record);
        parts.push(frame.header, frame.payload);
        partBytes += FRAME_HEADER_BYTES + frame.payload.length;
        count++;
        if (partBytes >= SNAPSHOT_CHUNK_BYTES) await flush();
        else if (count % SNAPSHOT_RECORDS_PER_YIELD === 0) await yieldToEventLoop();
      }
      await flush();
      // The header goes last: a snapshot file whose header validates was written completely.
      await writeFully(fs, fd, encodeHeader('snapshot', { generation: nextGeneration, recordCount: count }), 0);
      await fs.fsync(fd);
      open = false;
      await fs.close(fd);
      await fs.rename(tempPath, join(this.dir, SNAPSHOT_FILE));
    } catch (error) {
      if (open) await fs.close(fd).catch(ignore);
      await fs.unlink(tempPath).catch(ignore);
      throw error;
    }
    this.snapshotFileBytes = size;
    await syncDirectory(fs, this.dir);
    const obsolete = [...this.olderJournals.keys()]
      .filter((generation) => generation < nextGeneration)
      .sort((a, b) => a - b);
    for (const generation of obsolete) {
      try {
        await fs.unlink(join(this.dir, journalFileName(generation)));
      } catch (error) {
        if (errnoCode(error) !== 'ENOENT') throw error;
      }
      this.olderJournals.delete(generation);
    }
    await syncDirectory(fs, this.dir);
    this.counters.compactions++;
  }
}

/** Creates journal `generation` atomically (complete header or no file) and returns it open for writing. */
async function createJournalFile(fs: JournalFs, dir: string, generation: number): Promise<number> {
  const path = join(dir, journalFileName(generation));
  const tempPath = `${path}.tmp`;
  const fd = await fs.open(tempPath, 'w');
  try {
    await writeFully(fs, fd, encodeHeader('journal', { generation, recordCount: 0 }), 0);
    await fs.fsync(fd);
    await fs.rename(tempPath, path);
    await syncDirectory(fs, dir);
    return fd;
  } catch (error) {
    await fs.close(fd).catch(ignore);
    await fs.unlink(tempPath).catch(ignore);
    throw error;
  }
}

interface RecoveryResult {
  report: RecoveryReport;
  fd: number;
  generation: number;
  writeOffset: number;
  allocatedEnd: number;
  olderJournals: Map<number, number>;
  snapshotBytes: number;
}

/** Offset of the last non-zero byte in [start, end), or -1 when the range holds only zeros. */
async function lastNonZeroByte(fs: JournalFs, fd: number, start: number, end: number): Promise<number> {
  let last = -1;
  for (let position = start; position < end; position += zeros.length) {
    const chunk = await readAt(fs, fd, position, Math.min(zeros.length, end - position));
    for (let i = chunk.length - 1; i >= 0; i--) {
      if (chunk[i] !== 0) {
        last = position + i;
        break;
      }
    }
  }
  return last;
}

/** The snapshot file, open, with its validated header; its records are read by `streamSnapshot`. */
interface OpenSnapshot {
  path: string;
  fd: number;
  size: number;
  recordCount: number;
  nextGeneration: number;
}

/** Opens the snapshot and validates its header, so that a bad one is refused before any record is handed over. */
async function openSnapshot(fs: JournalFs, path: string): Promise<OpenSnapshot> {
  const fd = await fs.open(path, 'r');
  try {
    const size = await fs.fileSize(fd);
    const header = decodeHeader('snapshot', await readAt(fs, fd, 0, SNAPSHOT_HEADER_BYTES), path);
    return { path, fd, size, recordCount: header.recordCount, nextGeneration: header.generation };
  } catch (error) {
    await fs.close(fd).catch(ignore);
    throw error;
  }
}

/**
 * Hands the snapshot's records to `onRecord` as they are read, then checks that the file held exactly the records its
 * header promised. Closes the file either way.
 */
async function streamSnapshot(fs: JournalFs, snapshot: OpenSnapshot, onRecord: (record: Doc) => void): Promise<void> {
  const { path, fd, size, recordCount } = snapshot;
  try {
    const scan = await scanFrames(fs, fd, SNAPSHOT_HEADER_BYTES, size, onRecord, recordCount);
    if (scan.problem !== null) throw new JournalCorruptError(path, `${scan.problem} at offset ${scan.validEnd}`);
    if (scan.frames !== recordCount) {
      throw new JournalCorruptError(path, `holds ${scan.frames} of its ${recordCount} records`);
    }
    if (scan.validEnd !== size)
      throw new JournalCorruptError(path, `${size - scan.validEnd} stray bytes after the last record`);
  } finally {
    await fs.close(fd);
  }
}

/** Throws unless the live journals are exactly `firstGeneration`, `firstGeneration + 1`, … (and exist after a snapshot). */
function checkGenerations(dir: string, live: number[], firstGeneration: number, hasSnapshot: boolean): void {
  live.forEach((generation, index) => {
    if (generation !== firstGeneration + index) {
      throw new JournalCorruptError(
        join(dir, journalFileName(firstGeneration + index)),
        'journal file is missing (later generations exist); records would be lost',
      );
    }
  });
  if (live.length === 0 && hasSnapshot) {
    throw new JournalCorruptError(
      join(dir, journalFileName(firstGeneration)),
      'journal file that follows the snapshot is missing',
    );
  }
}

/**
 * Reads the directory into `sink` and leaves the newest journal open for appending. The order is chosen so that
 * every check on the directory as a whole (snapshot header, missing generations) runs before the first record is
 * handed over, and nothing is deleted before the snapshot that makes it obsolete has been read in full.
 */
async function recover(fs: JournalFs, dir: string, sink: RecoverySink): Promise<RecoveryResult> {
  const names = await fs.readdir(dir);
  let directoryChanged = false;
  for (const name of names) {
    if (name === SNAPSHOT_TEMP_FILE || isJournalTempFileName(name)) {
      await fs.unlink(join(dir, name));
      directoryChanged = true;
    }
  }

  const snapshot = names.includes(SNAPSHOT_FILE) ? await openSnapshot(fs, join(dir, SNAPSHOT_FILE)) : null;
  const firstGeneration = snapshot?.nextGeneration ?? 1;
  const generations = names
    .map(parseJournalFileName)
    .filter((generation): generation is number => generation !== null)
    .sort((a, b) => a - b);
  const live = generations.filter((generation) => generation >= firstGeneration);
  let snapshotRecords: number | null = null;
  if (snapshot !== null) {
    try {
      checkGenerations(dir, live, firstGeneration, true);
    } catch (error) {
      await fs.close(snapshot.fd).catch(ignore);
      throw error;
    }
    await streamSnapshot(fs, snapshot, (record) => sink.snapshotRecord(record));
    snapshotRecords = snapshot.recordCount;
  } else {
    checkGenerations(dir, live, firstGeneration, false);
  }
  for (const generation of generations) {
    if (generation >= firstGeneration) continue;
    // Superseded by the snapshot: a compaction crashed between its rename and its cleanup.
    await fs.unlink(join(dir, journalFileName(generation)));
    directoryChanged = true;
  }

  let journalRecords = 0;
  const onJournalRecord = (record: Doc): void => {
    sink.journalRecord(record);
    journalRecords++;
  };
  let tornBytesDropped = 0;
  let tornTail: TornTail | null = null;
  const olderJournals = new Map<number, number>();
  let current: { fd: number; generation: number; size: number; allocated: number } | null = null;
  try {
    for (let index = 0; index < live.length; index++) {
      const generation = live[index] as number;
      const path = join(dir, journalFileName(generation));
      if (tornTail !== null) {
        const fd = await fs.open(path, 'r');
        tornBytesDropped += await fs.fileSize(fd).finally(() => fs.close(fd));
        await fs.unlink(path);
        directoryChanged = true;
        continue;
      }
      const fd = await fs.open(path, 'r+');
      try {
        const size = await fs.fileSize(fd);
        const header = decodeHeader('journal', await readAt(fs, fd, 0, JOURNAL_HEADER_BYTES), path);
        if (header.generation !== generation) {
          throw new JournalCorruptError(path, `header says generation ${header.generation}`);
        }
        const scan = await scanFrames(fs, fd, JOURNAL_HEADER_BYTES, size, onJournalRecord);
        let allocated = size;
        if (scan.problem !== null) {
          const lastData = await lastNonZeroByte(fs, fd, scan.validEnd, size);
          // Only zeros after the last frame: preallocated space never written to, the normal end of the log.
          if (lastData >= 0) {
            tornBytesDropped += lastData + 1 - scan.validEnd;
            tornTail = { file: path, offset: scan.validEnd, reason: scan.problem };
            await fs.ftruncate(fd, scan.validEnd);
            await fs.fsync(fd);
            allocated = scan.validEnd;
          }
        }
        if (index === live.length - 1 || tornTail !== null) {
          current = { fd, generation, size: scan.validEnd, allocated };
        } else {
          olderJournals.set(generation, scan.validEnd);
          await fs.close(fd);
        }
      } catch (error) {
        await fs.close(fd).catch(ignore);
        throw error;
      }
    }
    if (current === null) {
      const fd = await createJournalFile(fs, dir, firstGeneration);
      current = { fd, generation: firstGeneration, size: JOURNAL_HEADER_BYTES, allocated: JOURNAL_HEADER_BYTES };
    } else if (directoryChanged) {
      await syncDirectory(fs, dir);
    }
  } catch (error) {
    if (current !== null) await fs.close(current.fd).catch(ignore);
    throw error;
  }

  return {
    report: { snapshotRecords, journalRecords, tornBytesDropped, tornTail },
    fd: current.fd,
    generation: current.generation,
    writeOffset: current.size,
    allocatedEnd: current.allocated,
    olderJournals,
    snapshotBytes: snapshot?.size ?? 0,
  };
}
