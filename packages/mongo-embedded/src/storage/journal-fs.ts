import * as fs from 'node:fs';

/**
 * The file-system operations the journal performs, as one replaceable object. Production uses `nodeJournalFs`;
 * tests wrap it to count fsyncs and to simulate a crash or an I/O error at a precise step.
 * Descriptors are plain numbers (callback API): measurably cheaper per call than `FileHandle` on the append path.
 */
export interface JournalFs {
  open: (path: string, flags: string) => Promise<number>;
  close: (fd: number) => Promise<void>;
  /** Reads up to `length` bytes at `position`; returns how many were read (0 at end of file). */
  read: (fd: number, buffer: Uint8Array, offset: number, length: number, position: number) => Promise<number>;
  /** Writes at `position`; may write fewer bytes than asked (the caller loops). */
  write: (fd: number, buffer: Uint8Array, offset: number, length: number, position: number) => Promise<number>;
  fdatasync: (fd: number) => Promise<void>;
  fsync: (fd: number) => Promise<void>;
  ftruncate: (fd: number, length: number) => Promise<void>;
  fileSize: (fd: number) => Promise<number>;
  rename: (from: string, to: string) => Promise<void>;
  /** Hard link: fails with EEXIST when `newPath` exists, which makes it an atomic create-with-content. */
  link: (existingPath: string, newPath: string) => Promise<void>;
  unlink: (path: string) => Promise<void>;
  readdir: (dir: string) => Promise<string[]>;
  /** Creates the directory and its parents when missing. */
  mkdirp: (dir: string) => Promise<void>;
  readFile: (path: string) => Promise<Buffer>;
}

function done(resolve: () => void, reject: (error: Error) => void) {
  return (error: NodeJS.ErrnoException | null) => (error ? reject(error) : resolve());
}

function valued<T>(resolve: (value: T) => void, reject: (error: Error) => void) {
  return (error: NodeJS.ErrnoException | null, value: T) => (error ? reject(error) : resolve(value));
}

/** The real file system. */
export const nodeJournalFs: JournalFs = {
  open: (path, flags) => new Promise((resolve, reject) => fs.open(path, flags, 0o644, valued(resolve, reject))),
  close: (fd) => new Promise((resolve, reject) => fs.close(fd, done(resolve, reject))),
  read: (fd, buffer, offset, length, position) =>
    new Promise((resolve, reject) => fs.read(fd, buffer, offset, length, position, valued(resolve, reject))),
  write: (fd, buffer, offset, length, position) =>
    new Promise((resolve, reject) => fs.write(fd, buffer, offset, length, position, valued(resolve, reject))),
  fdatasync: (fd) => new Promise((resolve, reject) => fs.fdatasync(fd, done(resolve, reject))),
  fsync: (fd) => new Promise((resolve, reject) => fs.fsync(fd, done(resolve, reject))),
  ftruncate: (fd, length) => new Promise((resolve, reject) => fs.ftruncate(fd, length, done(resolve, reject))),
  fileSize: (fd) =>
    new Promise((resolve, reject) => fs.fstat(fd, (error, stats) => (error ? reject(error) : resolve(stats.size)))),
  rename: (from, to) => new Promise((resolve, reject) => fs.rename(from, to, done(resolve, reject))),
  link: (existingPath, newPath) =>
    new Promise((resolve, reject) => fs.link(existingPath, newPath, done(resolve, reject))),
  unlink: (path) => new Promise((resolve, reject) => fs.unlink(path, done(resolve, reject))),
  readdir: (dir) => new Promise((resolve, reject) => fs.readdir(dir, valued(resolve, reject))),
  mkdirp: (dir) =>
    new Promise((resolve, reject) =>
      fs.mkdir(dir, { recursive: true }, (error) => (error ? reject(error) : resolve())),
    ),
  readFile: (path) => new Promise((resolve, reject) => fs.readFile(path, valued(resolve, reject))),
};

/** The errno code of a Node file-system error, if it is one. */
export function errnoCode(error: unknown): string | undefined {
  if (error instanceof Error && 'code' in error && typeof error.code === 'string') return error.code;
  return undefined;
}

/** Writes all of `buffer` at `position`, looping over short writes. */
export async function writeFully(fs: JournalFs, fd: number, buffer: Uint8Array, position: number): Promise<void> {
  let written = 0;
  while (written < buffer.length) {
    const n = await fs.write(fd, buffer, written, buffer.length - written, position + written);
    if (n <= 0) throw new Error(`write made no progress at offset ${position + written}`);
    written += n;
  }
}

/** Reads up to `length` bytes at `position`; shorter only at end of file. */
export async function readAt(fs: JournalFs, fd: number, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const n = await fs.read(fd, buffer, filled, length - filled, position + filled);
    if (n === 0) break;
    filled += n;
  }
  return buffer.subarray(0, filled);
}

/** fsync of a directory, which is what makes a create, rename or unlink inside it durable. */
export async function syncDirectory(fs: JournalFs, dir: string): Promise<void> {
  const fd = await fs.open(dir, 'r');
  try {
    await fs.fsync(fd);
  } finally {
    await fs.close(fd);
  }
}
