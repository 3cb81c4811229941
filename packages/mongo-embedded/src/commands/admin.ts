import { Int32, Long, ObjectId, type Timestamp } from 'bson';
import { MongoServerError, type Doc } from '../query/index.js';
import { MAX_BSON_OBJECT_SIZE, MAX_MESSAGE_SIZE } from '../wire/protocol.js';
import type { CommandContext } from './context.js';
import { isGenericField } from './ddl.js';
import { isDoc } from './util.js';

/** The MongoDB version the engine presents (wire version 21). */
export const SERVER_VERSION = '7.0.14';
const MAX_WRITE_BATCH_SIZE = 100_000;
const ELECTION_ID = new ObjectId('7fffffff0000000000000001');

/** What a hello reply says about the server and the asking connection. */
export interface HelloFacts {
  /** `host:port` clients must use: `me`, `primary` and the only member of `hosts`. */
  address: string;
  setName: string;
  connectionId: number;
  /** The last write's optime (`lastWrite`). */
  lastWrite: Timestamp;
  /** The command's name: `hello` omits the legacy `ismaster` field. */
  name: string;
  /** The request's `helloOk` field, answered with `helloOk: true`. */
  helloOk: unknown;
}

/** A single-node replica-set primary without topologyVersion (the driver polls it). */
export function helloReply(facts: HelloFacts): Doc {
  const now = new Date();
  const opTime = { ts: facts.lastWrite, t: Long.fromNumber(1) };
  const reply: Doc = {
    isWritablePrimary: true,
    ismaster: true,
    hosts: [facts.address],
    setName: facts.setName,
    setVersion: 1,
    secondary: false,
    primary: facts.address,
    me: facts.address,
    electionId: ELECTION_ID,
    lastWrite: { opTime, lastWriteDate: now, majorityOpTime: opTime, majorityWriteDate: now },
    maxBsonObjectSize: MAX_BSON_OBJECT_SIZE,
    maxMessageSizeBytes: MAX_MESSAGE_SIZE,
    maxWriteBatchSize: MAX_WRITE_BATCH_SIZE,
    localTime: now,
    logicalSessionTimeoutMinutes: 30,
    connectionId: new Int32(facts.connectionId),
    minWireVersion: 0,
    maxWireVersion: 21,
    readOnly: false,
  };
  if (facts.helloOk !== undefined) reply.helloOk = true;
  if (facts.name === 'hello') delete reply.ismaster;
  return reply;
}

/** hello / isMaster / ismaster; remembers the client's metadata (appName, for fail points) on the connection. */
export function hello(ctx: CommandContext): Doc {
  const client = ctx.body.client;
  if (isDoc(client)) {
    ctx.connState.client = client;
    const app = client.application;
    if (isDoc(app) && typeof app.name === 'string') ctx.connState.appName = app.name;
  }
  return helloReply({
    address: ctx.info.address,
    setName: ctx.info.setName,
    connectionId: ctx.conn.connectionId,
    lastWrite: ctx.store.clock.current,
    name: ctx.name,
    helloOk: ctx.body.helloOk,
  });
}

export function buildInfo(): Doc {
  return {
    version: SERVER_VERSION,
    gitVersion: 'embedded',
    versionArray: [new Int32(7), new Int32(0), new Int32(14), new Int32(0)],
    bits: 64,
    debug: false,
    maxBsonObjectSize: MAX_BSON_OBJECT_SIZE,
    storageEngines: ['embedded'],
    modules: [],
    javascriptEngine: 'none',
    openssl: { running: 'disabled' },
  };
}

export function getParameter(ctx: CommandContext): Doc {
  const all: Doc = {
    featureCompatibilityVersion: { version: '7.0' },
    transactionLifetimeLimitSeconds: 60,
    enableTestCommands: true,
    authenticationMechanisms: [],
    ...(ctx.ttl ? { ttlMonitorSleepSecs: new Int32(ctx.ttl.sleepSeconds), ttlMonitorEnabled: ctx.ttl.isEnabled } : {}),
  };
  if (ctx.body.getParameter === '*') return { ...all };
  const out: Doc = {};
  for (const k of Object.keys(ctx.body)) if (k in all) out[k] = all[k];
  if (Object.keys(out).length === 0) throw new MongoServerError(72, 'InvalidOptions', 'no option found to get');
  return out;
}

/**
 * `setParameter`: the runtime-settable parameters are the TTL monitor's. Replies with the old value as `was`, as
 * mongod does; anything else answers InvalidOptions.
 */
export function setParameter(ctx: CommandContext): Doc {
  if (ctx.db !== 'admin')
    throw new MongoServerError(13, 'Unauthorized', 'setParameter may only be run against the admin database.');
  const names = Object.keys(ctx.body).filter((k) => k !== 'setParameter' && !isGenericField(k));
  if (names.length === 0)
    throw new MongoServerError(72, 'InvalidOptions', 'no option found to set, use help:true to see options ');
  const ttl = ctx.ttl;
  const updates: (() => void)[] = [];
  let was: unknown;
  for (const name of names) {
    const v = ctx.body[name];
    if (name === 'ttlMonitorSleepSecs' && ttl) {
      const n = Number(v?.valueOf());
      if (typeof v === 'boolean' || typeof v === 'string' || !Number.isInteger(n) || n < 1) {
        throw new MongoServerError(
          2,
          'BadValue',
          `Invalid value for parameter ttlMonitorSleepSecs: ${String(v)} is not a positive integer`,
        );
      }
      was = new Int32(ttl.sleepSeconds);
      updates.push(() => ttl.setSleepSeconds(n));
    } else if (name === 'ttlMonitorEnabled' && ttl) {
      if (typeof v !== 'boolean') {
        throw new MongoServerError(
          2,
          'BadValue',
          `Invalid value for parameter ttlMonitorEnabled: ${String(v)} is not a boolean`,
        );
      }
      was = ttl.isEnabled;
      updates.push(() => ttl.setEnabled(v));
    } else {
      throw new MongoServerError(
        72,
        'InvalidOptions',
        `attempted to set unrecognized parameter [${name}], use help:true to see options `,
      );
    }
  }
  for (const apply of updates) apply();
  return { was };
}

export function getCmdLineOpts(ctx: CommandContext): Doc {
  const argv = ['mongo-embedded', '--port', String(ctx.info.port), '--bind_ip', ctx.info.host];
  if (ctx.info.dbPath) argv.push('--dbpath', ctx.info.dbPath);
  return {
    argv,
    parsed: {
      net: { port: ctx.info.port, bindIp: ctx.info.host },
      replication: { replSetName: ctx.info.setName },
      storage: ctx.info.dbPath ? { dbPath: ctx.info.dbPath } : { inMemory: true },
    },
  };
}

export function serverStatus(ctx: CommandContext): Doc {
  const now = new Date();
  return {
    host: ctx.info.address,
    version: SERVER_VERSION,
    process: 'mongod',
    pid: Long.fromNumber(process.pid),
    uptime: (now.getTime() - ctx.info.startedAt.getTime()) / 1000,
    uptimeMillis: Long.fromNumber(now.getTime() - ctx.info.startedAt.getTime()),
    localTime: now,
    connections: { current: 0, available: 1_000_000 },
    opcounters: ctx.opcounters.toDoc(),
    transactions: ctx.transactions.stats(),
    opcountersRepl: {
      insert: Long.ZERO,
      query: Long.ZERO,
      update: Long.ZERO,
      delete: Long.ZERO,
      getmore: Long.ZERO,
      command: Long.ZERO,
    },
    repl: { setName: ctx.info.setName, isWritablePrimary: true, primary: ctx.info.address, me: ctx.info.address },
    metrics: {
      cursor: { open: { total: Long.fromNumber(ctx.cursors.size) } },
      ttl: {
        deletedDocuments: Long.fromNumber(ctx.ttl?.stats.deletedDocuments ?? 0),
        passes: Long.fromNumber(ctx.ttl?.stats.passes ?? 0),
      },
    },
  };
}

export function replSetGetStatus(ctx: CommandContext): Doc {
  const now = new Date();
  return {
    set: ctx.info.setName,
    date: now,
    myState: 1,
    term: Long.fromNumber(1),
    members: [
      {
        _id: 0,
        name: ctx.info.address,
        health: 1,
        state: 1,
        stateStr: 'PRIMARY',
        self: true,
        optime: { ts: ctx.store.clock.current, t: Long.fromNumber(1) },
      },
    ],
  };
}

export function hostInfo(): Doc {
  return { system: { currentTime: new Date(), hostname: '127.0.0.1' }, os: { type: process.platform }, extra: {} };
}

export function whatsmyuri(): Doc {
  return { you: '127.0.0.1:0' };
}

export function connectionStatus(): Doc {
  return { authInfo: { authenticatedUsers: [], authenticatedUserRoles: [] } };
}

export function getLog(): Doc {
  return { totalLinesWritten: 0, log: [] };
}

export function ok(): Doc {
  return {};
}
