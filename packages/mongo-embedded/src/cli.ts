#!/usr/bin/env node
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startEmbeddedServer, type EmbeddedServer } from './index.js';

const USAGE = `Usage: mongo-embedded [options]

Serves a MongoDB-wire-compatible single-node replica set (name rs0) from a data directory.

Options:
  --port <n>        port to listen on (default 27017; 0 picks a free port)
  --dbpath <dir>    data directory, created if missing (default ./.data/db)
  --bind_ip <addr>  address to listen on (default 127.0.0.1)
  --replSet <name>  replica-set name reported to drivers (default rs0)
  --oplogSize <MB>  change history kept for resuming change streams, in MB of BSON (default 32; the newest
                    100,000 records at most); resuming from before it answers 286
  --setParameter ttlMonitorSleepSecs=<n>
                    seconds between TTL expiry passes (default 60), as mongod's
  --help            show this help
`;

interface CliOptions {
  port: number;
  dbPath: string;
  host: string;
  replSetName: string;
  changeHistoryMaxBytes?: number;
  ttlMonitorSleepSecs?: number;
}

class UsageError extends Error {}

function parse(argv: string[]): CliOptions | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: 'string' },
        dbpath: { type: 'string' },
        bind_ip: { type: 'string' },
        replSet: { type: 'string' },
        oplogSize: { type: 'string' },
        setParameter: { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return 'help';
  const port = values.port === undefined ? 27017 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`invalid --port: ${values.port}`);
  const host = values.bind_ip ?? '127.0.0.1';
  if (host.length === 0 || host.includes(',')) throw new UsageError(`--bind_ip takes a single address, got '${host}'`);
  const oplogMB = values.oplogSize === undefined ? undefined : Number(values.oplogSize);
  if (oplogMB !== undefined && !(Number.isFinite(oplogMB) && oplogMB > 0))
    throw new UsageError(`invalid --oplogSize: ${values.oplogSize}`);
  let ttlMonitorSleepSecs: number | undefined;
  if (values.setParameter !== undefined) {
    const m = /^ttlMonitorSleepSecs=(\d+)$/.exec(values.setParameter);
    ttlMonitorSleepSecs = m ? Number(m[1]) : 0;
    if (ttlMonitorSleepSecs < 1) throw new UsageError(`unsupported --setParameter: ${values.setParameter}`);
  }
  return {
    port,
    host,
    ...(ttlMonitorSleepSecs !== undefined ? { ttlMonitorSleepSecs } : {}),
    dbPath: resolve(values.dbpath ?? './.data/db'),
    replSetName: values.replSet ?? 'rs0',
    ...(oplogMB !== undefined ? { changeHistoryMaxBytes: Math.round(oplogMB * 1024 * 1024) } : {}),
  };
}

async function main(): Promise<number> {
  let options: CliOptions | 'help';
  try {
    options = parse(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`mongo-embedded: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  mkdirSync(options.dbPath, { recursive: true });
  const log = (level: string) => (msg: string) => process.stderr.write(`${new Date().toISOString()} ${level} ${msg}\n`);
  let server: EmbeddedServer;
  try {
    server = await startEmbeddedServer({
      port: options.port,
      host: options.host,
      dbPath: options.dbPath,
      replSetName: options.replSetName,
      ...(options.changeHistoryMaxBytes !== undefined ? { changeHistoryMaxBytes: options.changeHistoryMaxBytes } : {}),
      ...(options.ttlMonitorSleepSecs !== undefined ? { ttlMonitorSleepSecs: options.ttlMonitorSleepSecs } : {}),
      logger: { info: log('I'), warn: log('W'), error: log('E') },
    });
  } catch (err) {
    process.stderr.write(`mongo-embedded: cannot start: ${(err as Error).message}\n`);
    return 1;
  }
  process.stdout.write(`${server.uri}\n`);
  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`received ${signal}, shutting down\n`);
      server.close().then(
        () => resolveExit(0),
        (err: unknown) => {
          process.stderr.write(`mongo-embedded: error during shutdown: ${(err as Error).message}\n`);
          resolveExit(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`mongo-embedded: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
