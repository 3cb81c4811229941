import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { afterEach } from 'vitest';
import { startEmbeddedServer, type EmbeddedServer, type EmbeddedServerOptions } from '../index.js';

/** An engine on a data directory plus a driver client connected to it. */
export interface DiskEngine {
  server: EmbeddedServer;
  client: MongoClient;
}

/** What `useDataDirs` hands a test file: temporary data directories and engines opened on them. */
export interface DataDirs {
  /** A new empty directory, removed after the test. */
  readonly tempDir: () => string;
  /** Starts an engine on `dbPath` (recovering what is there) and connects a client; both close after the test. */
  readonly open: (dbPath: string, options?: EmbeddedServerOptions) => Promise<DiskEngine>;
}

/**
 * For tests that restart the engine on the same directory: every directory, engine and client they open is closed
 * and removed after each test, even one the test already closed to simulate a restart.
 */
export function useDataDirs(): DataDirs {
  const dirs: string[] = [];
  const servers: EmbeddedServer[] = [];
  const clients: MongoClient[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(servers.splice(0).map((s) => s.close()));
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  return {
    tempDir: () => {
      const d = mkdtempSync(join(tmpdir(), 'mongo-embedded-'));
      dirs.push(d);
      return d;
    },
    open: async (dbPath, options = {}) => {
      const server = await startEmbeddedServer({ port: 0, ...options, dbPath });
      servers.push(server);
      const client = new MongoClient(server.uri, { serverSelectionTimeoutMS: 5000 });
      clients.push(client);
      await client.connect();
      return { server, client };
    },
  };
}

/** Every file of a data directory but the lock, with a digest of its bytes: compare two to see whether it changed. */
export function directoryDigest(dir: string): Map<string, string> {
  return new Map(
    readdirSync(dir)
      .filter((name) => name !== 'engine.lock')
      .sort()
      .map((name) => [
        name,
        createHash('sha256')
          .update(readFileSync(join(dir, name)))
          .digest('hex'),
      ]),
  );
}

/** Flips one byte of a file, as media damage would, and returns its bytes from before so a test can put them back. */
export function flipByte(path: string, at: number): Buffer {
  const saved = readFileSync(path);
  const broken = Buffer.from(saved);
  broken[at] = (broken[at] ?? 0) ^ 0xff;
  writeFileSync(path, broken);
  return saved;
}
