import { isatty } from 'node:tty';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseEnv } from 'node:util';

/**
 * The API's configuration, read and validated once at boot. See docs/ARCHITECTURE.md, "Configuration".
 * This is the only module that reads `process.env`; everything else receives an `AppConfig`.
 */
export interface AppConfig {
  /** TCP port for HTTP and WebSocket; 0 picks a free one. */
  port: number;
  host: string;
  mongo: {
    /** Unset: the API starts the embedded engine in-process. */
    uri: string | undefined;
    dbName: string;
    /** How long a read or write waits for a reachable server before failing with 503. */
    serverSelectionTimeoutMs: number;
  };
  /** Absolute directory for the embedded engine's data (and other local state). */
  dataDir: string;
  logLevel: LogLevel;
  /** Origins allowed to call the API cross-origin; same-origin requests are always allowed. */
  corsOrigins: string[];
  bodyLimitBytes: number;
  /** Absolute directory holding the built dashboard (index.html + assets). */
  webDistDir: string;
  ws: {
    /** A socket whose send buffer exceeds this is closed with a resync code. */
    maxBufferedBytes: number;
    /** Events due to one socket within this window go out as one frame. */
    batchWindowMs: number;
    /** How many recent events the hub keeps in memory for replay. */
    hubRingSize: number;
    /** Fan-out frames are encoded once and written straight to each connection (off: through ws.send). */
    directWrites: boolean;
    /** A client frame (or fragmented message) begun but not completed within this is cut with close 1008. */
    frameTimeoutMs: number;
    /** Subscribe frames one socket may send per RATE_LIMIT_WINDOW_MS; past it an error, then close 1008. */
    subscribeMax: number;
    /**
     * Bytes of replayed events one principal may receive per RATE_LIMIT_WINDOW_MS (refilled continuously); past
     * it a subscribe with `since` gets `resync` (`replay_limited`). 0: no limit.
     */
    replayBudgetBytes: number;
    /** The same per address (however many principals share it). 0: no limit. */
    replayAddressBudgetBytes: number;
  };
  history: {
    /**
     * This process records the changes it reads (default). Off: it only serves the history; another process must
     * record, or the history has gaps (any one recording process is enough: each reads every change).
     */
    record: boolean;
    /** Entries older than this many days expire (a TTL index on the commit time); `as_of` reaches back as far. */
    retentionDays: number;
  };
  metrics: {
    /** `GET /metrics` on the API port answers only with `Authorization: Bearer <token>`; unset: not served there. */
    token: string | undefined;
    /** A separate listener on 127.0.0.1 serving `/metrics` without a token; unset: none. 0 picks a free port. */
    port: number | undefined;
  };
  auth: {
    /** Password of the `admin` user created on a first start with no users; unset: generated and written to a file. */
    adminPassword: string | undefined;
    /** A session unused for this long ends. */
    sessionIdleMs: number;
    /** A session ends this long after sign-in, however active. */
    sessionMaxAgeMs: number;
    /** log2 of scrypt's N for new password hashes (17 is OWASP's; lower only to make tests fast). */
    scryptLogN: number;
  };
  /** Time limits on HTTP connections. See docs/ARCHITECTURE.md, "Abuse limits". */
  http: {
    /** The request line and headers must arrive within this (else 408 and the connection closes). */
    headersTimeoutMs: number;
    /** The whole request, body included, must arrive within this (else 408 and the connection closes). */
    requestTimeoutMs: number;
    /** An idle keep-alive connection is closed after this. */
    keepAliveTimeoutMs: number;
  };
  /** Requests per client per window (0 turns a limit off). See docs/ARCHITECTURE.md, "Abuse limits". */
  rateLimit: {
    /** HTTP requests one principal (or, unauthenticated, one address) may make per window; never the probes. */
    max: number;
    /** HTTP requests one address may make per window, counted before credentials are read. */
    addressMax: number;
    /** HTTP requests one principal (or address) may have running at once. */
    inFlight: number;
    /** Requests past `inFlight` that wait for a slot, in arrival order; past them a 429. */
    queue: number;
    /** WebSocket connection attempts (`GET /ws`) one client may make per window. */
    wsConnectMax: number;
    windowMs: number;
    /** A request refused with 429 is answered this long after (at most its Retry-After); 0: at once. */
    delayMs: number;
  };
  /**
   * Proxy hops in front of the API (0: none). Above 0 the client address comes from X-Forwarded-For (that many
   * hops back) and the API is taken to be served over TLS by the proxy, so responses carry HSTS.
   */
  trustProxyHops: number;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** apps/api, whether this file runs from src/ (tsx, vitest) or dist/ (node). */
const API_PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const REPOSITORY_ROOT = resolve(API_PACKAGE_DIR, '..', '..');

/** The Vite dev server, allowed by default so `npm run dev` works without configuration. */
export const VITE_DEV_ORIGIN = 'http://localhost:5173';

/** One variable that failed validation. */
export interface ConfigProblem {
  variable: string;
  value: string;
  problem: string;
  expected: string;
}

/** Thrown by `loadConfig` when any variable is invalid; the message lists every problem. */
export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super(
      [
        `Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):`,
        ...problems.map((p) => `  ${p.variable}=${JSON.stringify(p.value)}: ${p.problem}; expected ${p.expected}`),
        'Fix the environment or the .env file at the repository root (see .env.example).',
      ].join('\n'),
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Env = Readonly<Record<string, string | undefined>>;

export interface LoadConfigOptions {
  /** Defaults to `process.env`. */
  env?: Env;
  /** A `.env` file whose values apply where `env` has none; defaults to `<repo>/.env`. `null` disables it. */
  envFile?: string | null;
  /**
   * Base for relative paths (DATA_DIR, WEB_DIST_DIR); defaults to the repository root, so `./.data` means the
   * same directory whether the API is started from the root (`npm start`) or from its workspace (`npm run dev`).
   */
  baseDir?: string;
}

/**
 * Reads the environment (and the `.env` file, which the environment overrides) into a typed config.
 * Throws `ConfigError` naming every invalid variable at once.
 */
export function loadConfig(options: LoadConfigOptions = {}): AppConfig {
  const fileEnv = readEnvFile(options.envFile === undefined ? resolve(REPOSITORY_ROOT, '.env') : options.envFile);
  const env: Env = { ...fileEnv, ...(options.env ?? process.env) };
  const baseDir = options.baseDir ?? REPOSITORY_ROOT;
  const problems: ConfigProblem[] = [];
  const read = new Reader(env, problems);

  const port = read.integer('PORT', 3000, 0, 65535, 'an integer port from 0 to 65535 (0 picks a free port)');
  const host = read.string('HOST', '0.0.0.0', /^[^\s/]+$/, 'a host name or IP address, e.g. 0.0.0.0 or 127.0.0.1');
  const mongoUri = read.optional(
    'MONGODB_URI',
    (value) => (/^mongodb(\+srv)?:\/\/[^\s]+$/.test(value) ? null : 'not a MongoDB connection string'),
    'mongodb://host:port[/db][?options] or mongodb+srv://…, or unset for the embedded database',
  );
  const dbName = read.string(
    'MONGODB_DB',
    'orders',
    /^[A-Za-z0-9_-]{1,63}$/,
    'a database name of 1-63 letters, digits, _ or -',
  );
  const serverSelectionTimeoutMs = read.integer(
    'MONGODB_TIMEOUT_MS',
    2500,
    100,
    60_000,
    'milliseconds from 100 to 60000',
  );
  const dataDir = read.string('DATA_DIR', './.data', /\S/, 'a directory path');
  const logLevel = read.oneOf('LOG_LEVEL', 'info', LOG_LEVELS);
  const corsOrigins = read.list(
    'CORS_ORIGIN',
    [VITE_DEV_ORIGIN],
    'none',
    (origin) => {
      try {
        const url = new URL(origin);
        return url.origin === origin && (url.protocol === 'http:' || url.protocol === 'https:')
          ? null
          : 'not a bare origin';
      } catch {
        return 'not a URL';
      }
    },
    'a comma-separated list of origins like https://app.example.com (scheme://host[:port], no path), or none',
  );
  const bodyLimitBytes = read.integer(
    'BODY_LIMIT_BYTES',
    16_384,
    256,
    10_485_760,
    'an integer number of bytes from 256 to 10485760',
  );
  const webDistDir = read.string('WEB_DIST_DIR', 'apps/web/dist', /\S/, 'a directory path');
  const maxBufferedBytes = read.integer(
    'WS_MAX_BUFFERED_BYTES',
    4 * 1024 * 1024,
    1024,
    1024 ** 3,
    'an integer number of bytes from 1024 to 1073741824',
  );
  const batchWindowMs = read.integer('WS_BATCH_WINDOW_MS', 5, 0, 1000, 'milliseconds from 0 (no batching) to 1000');
  const hubRingSize = read.integer(
    'HUB_RING_SIZE',
    10_000,
    0,
    10_000_000,
    'an integer number of events from 0 to 10000000',
  );
  const directWrites = read.oneOf('WS_DIRECT_WRITES', '1', ['1', '0']) === '1';
  const retentionDays = read.integer('HISTORY_RETENTION_DAYS', 90, 1, 36_500, 'a whole number of days from 1 to 36500');
  const recordHistory = read.oneOf('HISTORY_RECORD', '1', ['1', '0']) === '1';
  const metricsToken = read.optional(
    'METRICS_TOKEN',
    (value) => (/^[A-Za-z0-9._~+/=-]{16,256}$/.test(value) ? null : 'not a token of 16-256 URL-safe characters'),
    'a secret of 16-256 characters (letters, digits, . _ ~ + / = -), or unset',
  );
  const metricsPortText = read.optional(
    'METRICS_PORT',
    (value) => (/^\d+$/.test(value) && Number(value) <= 65535 ? null : 'not a port'),
    'an integer port from 0 to 65535 (served on 127.0.0.1), or unset',
  );
  const adminPassword = read.secret(
    'ORDERS_ADMIN_PASSWORD',
    (value) => (value.length >= 12 && value.length <= 256 ? null : 'not 12 to 256 characters long'),
    'a password of 12 to 256 characters, or unset to generate one on first start',
  );
  const sessionIdleMinutes = read.integer('SESSION_IDLE_MINUTES', 720, 1, 525_600, 'minutes from 1 to 525600');
  const sessionMaxAgeHours = read.integer('SESSION_MAX_AGE_HOURS', 168, 1, 8_760, 'hours from 1 to 8760');
  const scryptLogN = read.integer('AUTH_SCRYPT_LOG_N', 17, 10, 20, 'an integer from 10 to 20 (17 is recommended)');
  const frameTimeoutMs = read.integer('WS_FRAME_TIMEOUT_MS', 10_000, 100, 600_000, 'milliseconds from 100 to 600000');
  const headersTimeoutMs = read.integer(
    'HTTP_HEADERS_TIMEOUT_MS',
    10_000,
    100,
    600_000,
    'milliseconds from 100 to 600000',
  );
  const requestTimeoutMs = read.integer(
    'HTTP_REQUEST_TIMEOUT_MS',
    30_000,
    100,
    3_600_000,
    'milliseconds from 100 to 3600000, at least HTTP_HEADERS_TIMEOUT_MS',
  );
  if (requestTimeoutMs < headersTimeoutMs) {
    problems.push({
      variable: 'HTTP_REQUEST_TIMEOUT_MS',
      value: String(requestTimeoutMs),
      problem: `shorter than HTTP_HEADERS_TIMEOUT_MS (${headersTimeoutMs})`,
      expected: 'at least HTTP_HEADERS_TIMEOUT_MS: the headers are part of the request',
    });
  }
  const keepAliveTimeoutMs = read.integer(
    'HTTP_KEEP_ALIVE_TIMEOUT_MS',
    5_000,
    100,
    600_000,
    'milliseconds from 100 to 600000',
  );
  // One process serves a few hundred reads/s: a client's budget stays well below that, so one client cannot take
  // the process, and far above what a dashboard (a few requests a minute) or a script at a steady pace needs.
  const rateLimitMax = read.integer(
    'RATE_LIMIT_MAX',
    600,
    0,
    10_000_000,
    'requests per window from 0 (no limit) to 10000000',
  );
  // Many people may share one address (an office behind NAT), so the address guard is looser than a principal's.
  const rateLimitAddressMax = read.integer(
    'RATE_LIMIT_ADDRESS_MAX',
    3_000,
    0,
    10_000_000,
    'requests per window from 0 (no limit) to 10000000',
  );
  // Each request of a client running beside another client's is a request that one waits behind: one at a time is
  // each client's fair share of the event loop, and a burst from one client then costs the others one request's wait.
  // The queue takes the rest of what a browser sends at once (at most 6 connections to one host), so a dashboard's
  // parallel requests wait a moment instead of failing; one client's throughput stays above its window budget.
  const rateLimitInFlight = read.integer(
    'RATE_LIMIT_IN_FLIGHT',
    1,
    0,
    100_000,
    'requests in flight per client from 0 (no limit) to 100000',
  );
  const rateLimitQueue = read.integer(
    'RATE_LIMIT_QUEUE',
    5,
    0,
    100_000,
    'waiting requests per client from 0 to 100000',
  );
  const wsConnectMax = read.integer(
    'WS_CONNECT_RATE_MAX',
    300,
    0,
    10_000_000,
    'connection attempts per window from 0 (no limit) to 10000000',
  );
  const rateLimitWindowMs = read.integer(
    'RATE_LIMIT_WINDOW_MS',
    10_000,
    100,
    3_600_000,
    'milliseconds from 100 to 3600000',
  );
  // A flooding client sends its next request as soon as it has an answer: holding each 429 back caps what it can send
  // on its connections (a second here: one request per connection per second), where an instant 429 only speeds it
  // up. A client that honours Retry-After waits longer than this anyway.
  const rateLimitDelayMs = read.integer(
    'RATE_LIMIT_DELAY_MS',
    1_000,
    0,
    60_000,
    'milliseconds from 0 (answer at once) to 60000',
  );
  const subscribeMax = read.integer(
    'WS_SUBSCRIBE_RATE_MAX',
    20,
    1,
    1_000_000,
    'subscribe frames per socket per window, from 1 to 1000000',
  );
  // A client reconnecting in a loop with an old position must not get the same history each time: past this, reading
  // the list again (a page of GET /orders, about this size) is no dearer than the replay. Over any 10 s a client
  // sending 20 subscribes a second then receives under 10× what it sends; a dashboard back from a short network
  // blip (a few hundred events) still resumes. See docs/ARCHITECTURE.md, "Abuse limits".
  const replayBudgetBytes = read.integer(
    'WS_REPLAY_BUDGET_BYTES',
    49_152,
    0,
    1_073_741_824,
    'bytes per window from 0 (no limit) to 1073741824',
  );
  // Looser per address, like RATE_LIMIT_ADDRESS_MAX: many people may share one address.
  const replayAddressBudgetBytes = read.integer(
    'WS_REPLAY_ADDRESS_BUDGET_BYTES',
    196_608,
    0,
    1_073_741_824,
    'bytes per window from 0 (no limit) to 1073741824',
  );
  const trustProxyHops = read.integer('TRUST_PROXY', 0, 0, 10, 'a number of proxy hops from 0 (none) to 10');

  if (problems.length > 0) throw new ConfigError(problems);

  return {
    port,
    host,
    mongo: { uri: mongoUri, dbName, serverSelectionTimeoutMs },
    dataDir: absolute(baseDir, dataDir),
    logLevel,
    corsOrigins,
    bodyLimitBytes,
    webDistDir: absolute(baseDir, webDistDir),
    history: { record: recordHistory, retentionDays },
    metrics: { token: metricsToken, port: metricsPortText === undefined ? undefined : Number(metricsPortText) },
    ws: {
      maxBufferedBytes,
      batchWindowMs,
      hubRingSize,
      directWrites,
      frameTimeoutMs,
      subscribeMax,
      replayBudgetBytes,
      replayAddressBudgetBytes,
    },
    http: { headersTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs },
    rateLimit: {
      max: rateLimitMax,
      addressMax: rateLimitAddressMax,
      inFlight: rateLimitInFlight,
      queue: rateLimitQueue,
      wsConnectMax,
      windowMs: rateLimitWindowMs,
      delayMs: rateLimitDelayMs,
    },
    trustProxyHops,
    auth: {
      adminPassword,
      sessionIdleMs: sessionIdleMinutes * 60_000,
      sessionMaxAgeMs: sessionMaxAgeHours * 3_600_000,
      scryptLogN,
    },
  };
}

/** True when `process.stdout` is a terminal (pretty logs) — kept here so nothing else inspects the process. */
export function stdoutIsTty(): boolean {
  return isatty(1);
}

function readEnvFile(path: string | null): Record<string, string> {
  if (path === null || !existsSync(path)) return {};
  const parsed = parseEnv(readFileSync(path, 'utf8'));
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed)) if (typeof value === 'string') values[key] = value;
  return values;
}

function absolute(baseDir: string, path: string): string {
  return isAbsolute(path) ? path : resolve(baseDir, path);
}

/** Reads variables, recording a problem (instead of throwing) so every bad variable is reported at once. */
class Reader {
  constructor(
    private readonly env: Env,
    private readonly problems: ConfigProblem[],
  ) {}

  private raw(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  }

  private fail<T>(variable: string, value: string, problem: string, expected: string, fallback: T): T {
    this.problems.push({ variable, value, problem, expected });
    return fallback;
  }

  integer(name: string, fallback: number, min: number, max: number, expected: string): number {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (!/^\d+$/.test(value)) return this.fail(name, value, 'not a whole number', expected, fallback);
    const parsed = Number(value);
    if (parsed < min || parsed > max) return this.fail(name, value, 'out of range', expected, fallback);
    return parsed;
  }

  string(name: string, fallback: string, pattern: RegExp, expected: string): string {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    return pattern.test(value) ? value : this.fail(name, value, 'invalid value', expected, fallback);
  }

  optional(name: string, check: (value: string) => string | null, expected: string): string | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    const problem = check(value);
    if (problem === null) return value;
    this.fail(name, redactUri(value), problem, expected, null);
    return undefined;
  }

  /** Like `optional`, but a bad value is reported as `***`: a password must never reach a log or a terminal. */
  secret(name: string, check: (value: string) => string | null, expected: string): string | undefined {
    const value = this.env[name];
    if (value === undefined || value === '') return undefined;
    const problem = check(value);
    if (problem === null) return value;
    this.fail(name, '***', problem, expected, null);
    return undefined;
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    const match = allowed.find((candidate) => candidate === value.toLowerCase());
    return match ?? this.fail(name, value, 'not an accepted value', `one of ${allowed.join(', ')}`, fallback);
  }

  list(
    name: string,
    fallback: string[],
    emptyWord: string,
    check: (item: string) => string | null,
    expected: string,
  ): string[] {
    const value = this.raw(name);
    if (value === undefined) return fallback;
    if (value.toLowerCase() === emptyWord) return [];
    const items = value
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
    const bad = items.map((item) => ({ item, problem: check(item) })).filter((entry) => entry.problem !== null);
    if (bad.length > 0) {
      const details = bad.map((entry) => `${JSON.stringify(entry.item)} is ${entry.problem}`).join(', ');
      return this.fail(name, value, details, expected, fallback);
    }
    return items;
  }
}

/** Removes credentials from a connection string so it can be logged or shown in an error. */
export function redactUri(uri: string): string {
  return uri.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, '$1***@');
}
