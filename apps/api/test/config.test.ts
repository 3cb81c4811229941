import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, REPOSITORY_ROOT, VITE_DEV_ORIGIN, loadConfig, redactUri } from '../src/config.js';

const tempDirs: string[] = [];
afterEach(async () => {
  await Promise.all(tempDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function envFile(contents: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'orders-config-'));
  tempDirs.push(dir);
  const path = join(dir, '.env');
  await writeFile(path, contents);
  return path;
}

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies the documented defaults to an empty environment', () => {
    const config = loadConfig({ env: {}, envFile: null, baseDir: '/srv/app' });
    expect(config).toEqual({
      port: 3000,
      host: '0.0.0.0',
      mongo: { uri: undefined, dbName: 'orders', serverSelectionTimeoutMs: 2500 },
      dataDir: '/srv/app/.data',
      logLevel: 'info',
      corsOrigins: [VITE_DEV_ORIGIN],
      bodyLimitBytes: 16384,
      webDistDir: '/srv/app/apps/web/dist',
      history: { record: true, retentionDays: 90 },
      metrics: { token: undefined, port: undefined },
      ws: {
        maxBufferedBytes: 4 * 1024 * 1024,
        batchWindowMs: 5,
        hubRingSize: 10000,
        directWrites: true,
        frameTimeoutMs: 10_000,
        subscribeMax: 20,
        replayBudgetBytes: 49_152,
        replayAddressBudgetBytes: 196_608,
      },
      http: { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5_000 },
      rateLimit: {
        max: 600,
        addressMax: 3000,
        inFlight: 1,
        queue: 5,
        wsConnectMax: 300,
        windowMs: 10_000,
        delayMs: 1_000,
      },
      trustProxyHops: 0,
      auth: { adminPassword: undefined, sessionIdleMs: 720 * 60_000, sessionMaxAgeMs: 168 * 3_600_000, scryptLogN: 17 },
    });
  });

  it('resolves relative paths against the repository root by default', () => {
    const config = loadConfig({ env: {}, envFile: null });
    expect(config.dataDir).toBe(join(REPOSITORY_ROOT, '.data'));
    expect(config.webDistDir).toBe(join(REPOSITORY_ROOT, 'apps', 'web', 'dist'));
  });

  it('reads every variable when valid', () => {
    const config = loadConfig({
      envFile: null,
      baseDir: '/base',
      env: {
        PORT: '0',
        HOST: '127.0.0.1',
        MONGODB_URI: 'mongodb://db.internal:27017/?replicaSet=rs0',
        MONGODB_DB: 'orders_test',
        MONGODB_TIMEOUT_MS: '1000',
        DATA_DIR: '/var/lib/orders',
        LOG_LEVEL: 'WARN',
        CORS_ORIGIN: 'https://a.example, http://localhost:8080',
        BODY_LIMIT_BYTES: '1024',
        WEB_DIST_DIR: 'web',
        WS_MAX_BUFFERED_BYTES: '65536',
        WS_BATCH_WINDOW_MS: '0',
        HUB_RING_SIZE: '50',
        WS_DIRECT_WRITES: '0',
        HISTORY_RETENTION_DAYS: '30',
        HISTORY_RECORD: '0',
        METRICS_TOKEN: 'a-long-enough-metrics-token',
        METRICS_PORT: '9464',
        ORDERS_ADMIN_PASSWORD: ' a password with spaces ',
        SESSION_IDLE_MINUTES: '30',
        SESSION_MAX_AGE_HOURS: '24',
        AUTH_SCRYPT_LOG_N: '15',
        WS_FRAME_TIMEOUT_MS: '2000',
        WS_SUBSCRIBE_RATE_MAX: '5',
        WS_REPLAY_BUDGET_BYTES: '0',
        WS_REPLAY_ADDRESS_BUDGET_BYTES: '1000000',
        HTTP_HEADERS_TIMEOUT_MS: '3000',
        HTTP_REQUEST_TIMEOUT_MS: '4000',
        HTTP_KEEP_ALIVE_TIMEOUT_MS: '1000',
        RATE_LIMIT_MAX: '0',
        RATE_LIMIT_ADDRESS_MAX: '50',
        RATE_LIMIT_IN_FLIGHT: '2',
        RATE_LIMIT_QUEUE: '0',
        WS_CONNECT_RATE_MAX: '20',
        RATE_LIMIT_WINDOW_MS: '60000',
        RATE_LIMIT_DELAY_MS: '0',
        TRUST_PROXY: '1',
      },
    });
    expect(config).toEqual({
      port: 0,
      host: '127.0.0.1',
      mongo: {
        uri: 'mongodb://db.internal:27017/?replicaSet=rs0',
        dbName: 'orders_test',
        serverSelectionTimeoutMs: 1000,
      },
      dataDir: '/var/lib/orders',
      logLevel: 'warn',
      corsOrigins: ['https://a.example', 'http://localhost:8080'],
      bodyLimitBytes: 1024,
      webDistDir: '/base/web',
      history: { record: false, retentionDays: 30 },
      metrics: { token: 'a-long-enough-metrics-token', port: 9464 },
      ws: {
        maxBufferedBytes: 65536,
        batchWindowMs: 0,
        hubRingSize: 50,
        directWrites: false,
        frameTimeoutMs: 2000,
        subscribeMax: 5,
        replayBudgetBytes: 0,
        replayAddressBudgetBytes: 1_000_000,
      },
      http: { headersTimeoutMs: 3000, requestTimeoutMs: 4000, keepAliveTimeoutMs: 1000 },
      rateLimit: { max: 0, addressMax: 50, inFlight: 2, queue: 0, wsConnectMax: 20, windowMs: 60_000, delayMs: 0 },
      trustProxyHops: 1,
      // A password is taken as written: spaces are part of it.
      auth: {
        adminPassword: ' a password with spaces ',
        sessionIdleMs: 30 * 60_000,
        sessionMaxAgeMs: 24 * 3_600_000,
        scryptLogN: 15,
      },
    });
  });

  it('treats empty values as unset and CORS_ORIGIN=none as no cross-origin access', () => {
    const config = loadConfig({ envFile: null, env: { PORT: '', MONGODB_URI: '  ', CORS_ORIGIN: 'none' } });
    expect(config.port).toBe(3000);
    expect(config.mongo.uri).toBeUndefined();
    expect(config.corsOrigins).toEqual([]);
    expect(config.ws.directWrites).toBe(true);
  });

  it('refuses a bad history retention, metrics token or metrics port, naming the accepted form', () => {
    const error = configError(() =>
      loadConfig({
        envFile: null,
        env: { HISTORY_RETENTION_DAYS: '0', METRICS_TOKEN: 'short', METRICS_PORT: '70000' },
      }),
    );
    expect(error.problems.map((p) => p.variable)).toEqual(['HISTORY_RETENTION_DAYS', 'METRICS_TOKEN', 'METRICS_PORT']);
    expect(error.message).toContain('HISTORY_RETENTION_DAYS="0": out of range; expected a whole number of days');
    expect(error.message).toContain('METRICS_TOKEN="short": not a token of 16-256 URL-safe characters');
    expect(error.message).toContain('METRICS_PORT="70000": not a port; expected an integer port from 0 to 65535');
    expect(
      configError(() => loadConfig({ envFile: null, env: { HISTORY_RETENTION_DAYS: 'ninety' } })).message,
    ).toContain('HISTORY_RETENTION_DAYS="ninety": not a whole number');
  });

  it('lists every bad variable at once, with what was wrong and the accepted form', () => {
    const error = configError(() =>
      loadConfig({
        envFile: null,
        env: {
          PORT: 'eighty',
          MONGODB_URI: 'postgres://user:secret@db:5432',
          LOG_LEVEL: 'loud',
          CORS_ORIGIN: 'https://ok.example,https://bad.example/path',
          BODY_LIMIT_BYTES: '-5',
          WS_BATCH_WINDOW_MS: '5000',
          WS_DIRECT_WRITES: 'yes',
        },
      }),
    );
    expect(error.problems.map((p) => p.variable)).toEqual([
      'PORT',
      'MONGODB_URI',
      'LOG_LEVEL',
      'CORS_ORIGIN',
      'BODY_LIMIT_BYTES',
      'WS_BATCH_WINDOW_MS',
      'WS_DIRECT_WRITES',
    ]);
    expect(error.message).toContain('WS_DIRECT_WRITES="yes": not an accepted value; expected one of 1, 0');
    expect(error.message).toContain('PORT="eighty": not a whole number; expected an integer port from 0 to 65535');
    expect(error.message).toContain(
      'LOG_LEVEL="loud": not an accepted value; expected one of fatal, error, warn, info',
    );
    expect(error.message).toContain('"https://bad.example/path" is not a bare origin');
    expect(error.message).toContain('WS_BATCH_WINDOW_MS="5000": out of range; expected milliseconds from 0');
    expect(error.message).toContain('.env.example');
    // A connection string may carry a password: the error must not.
    expect(error.message).not.toContain('secret');
  });

  it('refuses a whole-request timeout shorter than the headers timeout, and a proxy hop count out of range', () => {
    const error = configError(() =>
      loadConfig({
        envFile: null,
        env: { HTTP_HEADERS_TIMEOUT_MS: '20000', HTTP_REQUEST_TIMEOUT_MS: '10000', TRUST_PROXY: 'yes' },
      }),
    );
    expect(error.problems.map((p) => p.variable)).toEqual(['HTTP_REQUEST_TIMEOUT_MS', 'TRUST_PROXY']);
    expect(error.message).toContain('HTTP_REQUEST_TIMEOUT_MS="10000": shorter than HTTP_HEADERS_TIMEOUT_MS (20000)');
  });

  it('refuses abuse limits out of range or not numbers, naming each variable', () => {
    const error = configError(() =>
      loadConfig({
        envFile: null,
        env: {
          RATE_LIMIT_QUEUE: '-1',
          RATE_LIMIT_DELAY_MS: '60001',
          WS_REPLAY_BUDGET_BYTES: 'lots',
          WS_REPLAY_ADDRESS_BUDGET_BYTES: '2000000000',
        },
      }),
    );
    expect(error.problems.map((p) => p.variable)).toEqual([
      'RATE_LIMIT_QUEUE',
      'RATE_LIMIT_DELAY_MS',
      'WS_REPLAY_BUDGET_BYTES',
      'WS_REPLAY_ADDRESS_BUDGET_BYTES',
    ]);
    expect(error.message).toContain('RATE_LIMIT_DELAY_MS="60001": out of range; expected milliseconds from 0');
    expect(error.message).toContain('WS_REPLAY_BUDGET_BYTES="lots": not a whole number; expected bytes per window');
  });

  it('rejects a port out of range', () => {
    const error = configError(() => loadConfig({ envFile: null, env: { PORT: '70000' } }));
    expect(error.problems).toEqual([
      {
        variable: 'PORT',
        value: '70000',
        problem: 'out of range',
        expected: 'an integer port from 0 to 65535 (0 picks a free port)',
      },
    ]);
  });

  it('reads a .env file, and the environment wins over it', async () => {
    const path = await envFile('PORT=4000\nMONGODB_DB=from_file\n# a comment\nLOG_LEVEL="debug"\n');
    const config = loadConfig({ envFile: path, env: { PORT: '5000' } });
    expect(config.port).toBe(5000);
    expect(config.mongo.dbName).toBe('from_file');
    expect(config.logLevel).toBe('debug');
  });

  it('reports bad values that come from the .env file', async () => {
    const path = await envFile('HUB_RING_SIZE=lots\n');
    const error = configError(() => loadConfig({ envFile: path, env: {} }));
    expect(error.problems.map((p) => p.variable)).toEqual(['HUB_RING_SIZE']);
  });

  it('works without a .env file', () => {
    expect(loadConfig({ envFile: join(tmpdir(), 'does-not-exist', '.env'), env: {} }).port).toBe(3000);
  });
});

describe('redactUri', () => {
  it('hides credentials but keeps the hosts', () => {
    expect(redactUri('mongodb://admin:hunter2@db1:27017,db2:27017/orders')).toBe(
      'mongodb://***@db1:27017,db2:27017/orders',
    );
    expect(redactUri('mongodb://db1:27017')).toBe('mongodb://db1:27017');
  });
});

describe('auth variables', () => {
  it('refuses a short ORDERS_ADMIN_PASSWORD without echoing it, and out-of-range lifetimes and costs', () => {
    let error: unknown;
    try {
      loadConfig({
        envFile: null,
        env: {
          ORDERS_ADMIN_PASSWORD: 'hunter2',
          SESSION_IDLE_MINUTES: '0',
          SESSION_MAX_AGE_HOURS: 'forever',
          AUTH_SCRYPT_LOG_N: '9',
        },
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect((error as ConfigError).problems.map((p) => p.variable)).toEqual([
      'ORDERS_ADMIN_PASSWORD',
      'SESSION_IDLE_MINUTES',
      'SESSION_MAX_AGE_HOURS',
      'AUTH_SCRYPT_LOG_N',
    ]);
    expect(message).not.toContain('hunter2');
    expect(message).toContain('ORDERS_ADMIN_PASSWORD="***"');
  });
});
