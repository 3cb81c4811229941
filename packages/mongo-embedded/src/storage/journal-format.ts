import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { BSON } from 'bson';
import { crc32c } from './journal-crc32c.js';
import type { JournalFs } from './journal-fs.js';

/*
 * On-disk format, version 1. All integers little-endian.
 *
 * Journal file `journal-<generation, 12 digits>.log`:
 *   header (28 bytes): magic "MGEJRNL\0" | u32 format version | u32 flags (0) | u64 generation | u32 crc32c(bytes 0..23)
 *   frames:            u32 payload length | u32 crc32c(payload) | payload (one BSON document)
 *
 * Snapshot file `snapshot.bson`:
 *   header (36 bytes): magic "MGESNAP\0" | u32 format version | u32 flags (0) | u64 generation of the journal that
 *                      follows the snapshot | u64 record count | u32 crc32c(bytes 0..31)
 *   frames:            exactly `record count` frames as above, then end of file.
 */

export type Doc = Record<string, unknown>;

export const FORMAT_VERSION = 1;
export const JOURNAL_MAGIC = Buffer.from('MGEJRNL\0', 'latin1');
export const SNAPSHOT_MAGIC = Buffer.from('MGESNAP\0', 'latin1');
export const JOURNAL_HEADER_BYTES = 28;
export const SNAPSHOT_HEADER_BYTES = 36;
export const FRAME_HEADER_BYTES = 8;
/** Smallest BSON document (`{}`) is 5 bytes. */
export const MIN_FRAME_PAYLOAD = 5;
/**
 * Upper bound on one record. Larger than BSON's 16 MiB user-document limit so that a record carrying a maximal
 * document plus its metadata (and pre-image) still fits; anything above this read from disk is garbage.
 */
export const MAX_FRAME_PAYLOAD = 48 * 1024 * 1024;

/** How documents are decoded everywhere in the engine, so that number types round-trip. */
export const DESERIALIZE_OPTIONS = { promoteValues: false, bsonRegExp: true } as const;

/** Raised when a file that is only ever written atomically (a header, a snapshot) does not validate. */
export class JournalCorruptError extends Error {
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(`mongo-embedded storage file ${path} is corrupt: ${detail}`);
    this.name = 'JournalCorruptError';
  }
}

export interface FileHeader {
  generation: number;
  /** Snapshot only. */
  recordCount: number;
}

/** Encodes a journal header (`recordCount` ignored) or a snapshot header. */
export function encodeHeader(kind: 'journal' | 'snapshot', header: FileHeader): Buffer {
  const size = kind === 'journal' ? JOURNAL_HEADER_BYTES : SNAPSHOT_HEADER_BYTES;
  const buf = Buffer.alloc(size);
  (kind === 'journal' ? JOURNAL_MAGIC : SNAPSHOT_MAGIC).copy(buf, 0);
  buf.writeUInt32LE(FORMAT_VERSION, 8);
  buf.writeUInt32LE(0, 12);
  buf.writeBigUInt64LE(BigInt(header.generation), 16);
  if (kind === 'snapshot') buf.writeBigUInt64LE(BigInt(header.recordCount), 24);
  buf.writeUInt32LE(crc32c(buf, 0, size - 4), size - 4);
  return buf;
}

/** Decodes and validates a header; throws `JournalCorruptError` naming `path` when it does not validate. */
export function decodeHeader(kind: 'journal' | 'snapshot', buf: Uint8Array, path: string): FileHeader {
  const size = kind === 'journal' ? JOURNAL_HEADER_BYTES : SNAPSHOT_HEADER_BYTES;
  if (buf.length < size) throw new JournalCorruptError(path, `file shorter than its ${size}-byte header`);
  const b = Buffer.from(buf.buffer, buf.byteOffset, size);
  const magic = kind === 'journal' ? JOURNAL_MAGIC : SNAPSHOT_MAGIC;
  if (!b.subarray(0, 8).equals(magic)) throw new JournalCorruptError(path, 'bad magic (not a mongo-embedded file)');
  if (b.readUInt32LE(size - 4) !== crc32c(b, 0, size - 4))
    throw new JournalCorruptError(path, 'header checksum mismatch');
  const version = b.readUInt32LE(8);
  if (version !== FORMAT_VERSION) {
    throw new JournalCorruptError(
      path,
      `format version ${version} is not supported (this build reads ${FORMAT_VERSION})`,
    );
  }
  const generation = b.readBigUInt64LE(16);
  const recordCount = kind === 'snapshot' ? b.readBigUInt64LE(24) : 0n;
  if (generation > BigInt(Number.MAX_SAFE_INTEGER) || recordCount > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new JournalCorruptError(path, 'header values out of range');
  }
  return { generation: Number(generation), recordCount: Number(recordCount) };
}

/** A serialized record: the 8-byte frame header and the BSON payload, kept apart to avoid a copy per record. */
export interface EncodedFrame {
  header: Buffer;
  payload: Uint8Array;
}

/** Serializes `record` into a frame; throws on unserializable input or an oversized record. */
export function encodeFrame(record: Doc): EncodedFrame {
  const payload = BSON.serialize(record);
  if (payload.length > MAX_FRAME_PAYLOAD) {
    throw new RangeError(`journal record of ${payload.length} bytes exceeds the ${MAX_FRAME_PAYLOAD}-byte limit`);
  }
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32LE(payload.length, 0);
  header.writeUInt32LE(crc32c(payload), 4);
  return { header, payload };
}

export interface ScanResult {
  /** File offset just past the last valid frame. */
  validEnd: number;
  /** Why scanning stopped before the end of the file, or null when every byte formed valid frames. */
  problem: string | null;
  frames: number;
}

const READ_CHUNK_BYTES = 1024 * 1024;
/** Records decoded between two yields to the event loop, so recovering a big file never starves timers. */
const RECORDS_PER_YIELD = 1000;

/**
 * Reads frames from `start` to `fileSize`, handing each decoded record to `onRecord`, and stops at the first frame
 * that does not validate (short, bad length, bad checksum, bad BSON) or after `maxFrames`.
 */
export async function scanFrames(
  fs: JournalFs,
  fd: number,
  start: number,
  fileSize: number,
  onRecord: (record: Doc) => void,
  maxFrames = Number.POSITIVE_INFINITY,
): Promise<ScanResult> {
  let chunk = Buffer.alloc(0);
  let chunkStart = start;
  let pos = start;
  let frames = 0;

  /** Makes `chunk` cover [pos, pos + n); false when the file ends first. */
  const ensure = async (n: number): Promise<boolean> => {
    if (pos + n > fileSize) return false;
    if (pos >= chunkStart && pos + n <= chunkStart + chunk.length) return true;
    const length = Math.min(Math.max(n, READ_CHUNK_BYTES), fileSize - pos);
    const next = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const read = await fs.read(fd, next, filled, length - filled, pos + filled);
      if (read === 0) break;
      filled += read;
    }
    chunk = next.subarray(0, filled);
    chunkStart = pos;
    return filled >= n;
  };

  while (pos < fileSize && frames < maxFrames) {
    if (!(await ensure(FRAME_HEADER_BYTES))) return { validEnd: pos, problem: 'short frame header', frames };
    const at = pos - chunkStart;
    const length = chunk.readUInt32LE(at);
    const expectedCrc = chunk.readUInt32LE(at + 4);
    if (length < MIN_FRAME_PAYLOAD || length > MAX_FRAME_PAYLOAD) {
      return { validEnd: pos, problem: `bad frame length ${length}`, frames };
    }
    if (!(await ensure(FRAME_HEADER_BYTES + length))) return { validEnd: pos, problem: 'short frame', frames };
    const payloadStart = pos - chunkStart + FRAME_HEADER_BYTES;
    const payloadEnd = payloadStart + length;
    if (crc32c(chunk, payloadStart, payloadEnd) !== expectedCrc) {
      return { validEnd: pos, problem: 'frame checksum mismatch', frames };
    }
    if (chunk.readInt32LE(payloadStart) !== length || chunk[payloadEnd - 1] !== 0) {
      return { validEnd: pos, problem: 'frame payload is not one BSON document', frames };
    }
    let record: Doc;
    try {
      // A copy, because decoded Binary values keep a view on their source buffer and would pin the whole chunk.
      record = BSON.deserialize(Buffer.from(chunk.subarray(payloadStart, payloadEnd)), DESERIALIZE_OPTIONS);
    } catch (error) {
      return {
        validEnd: pos,
        problem: `invalid BSON (${error instanceof Error ? error.message : String(error)})`,
        frames,
      };
    }
    onRecord(record);
    pos += FRAME_HEADER_BYTES + length;
    frames++;
    if (frames % RECORDS_PER_YIELD === 0) await yieldToEventLoop();
  }
  return { validEnd: pos, problem: null, frames };
}

/** Journal file name for a generation; zero-padded so that names sort in generation order. */
export function journalFileName(generation: number): string {
  return `journal-${String(generation).padStart(12, '0')}.log`;
}

const JOURNAL_NAME = /^journal-(\d{12,})\.log$/;
const JOURNAL_TEMP_NAME = /^journal-\d{12,}\.log\.tmp$/;

/** The generation named by a journal file name, or null when `name` is not one. */
export function parseJournalFileName(name: string): number | null {
  const match = JOURNAL_NAME.exec(name);
  return match?.[1] === undefined ? null : Number(match[1]);
}

export function isJournalTempFileName(name: string): boolean {
  return JOURNAL_TEMP_NAME.test(name);
}

export const SNAPSHOT_FILE = 'snapshot.bson';
export const SNAPSHOT_TEMP_FILE = 'snapshot.bson.tmp';
export const LOCK_FILE = 'engine.lock';
