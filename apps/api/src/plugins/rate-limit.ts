import fp from 'fastify-plugin';
import rateLimit from '@fastify/rate-limit';
import type { FastifyBaseLogger, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, SESSION_COOKIE } from '@orders/contracts';
import type { AppConfig } from '../config.js';
import { errorBody } from '../error-handler.js';
import { HttpError } from '../errors.js';
import { InFlightLimiter } from '../in-flight.js';
import { addressKey, principalKey, rateLimitKey } from '../rate-limit-key.js';

const counted = Symbol('rate-limit.inFlight');
const admitted = Symbol('rate-limit.admitted');
const refused = Symbol('rate-limit.refused');

declare module 'fastify' {
  interface FastifyRequest {
    [counted]?: string;
    /** The request has been counted against its principal's (or address's) limits. */
    [admitted]?: boolean;
    /** The request was answered 429 by the rate limiter (its log line is summed, not written). */
    [refused]?: boolean;
  }
}

/** True for a request the rate limiter answered 429: its per-request log line is left out (see RefusalLog). */
export function refusedByRateLimit(request: FastifyRequest): boolean {
  return request[refused] === true;
}

/** The most refusals held back at once; past it they are answered at once (each holds a socket and a timer). */
const MAX_HELD_REFUSALS = 10_000;
/** The most clients named in one summary line; the rest are counted together. */
const MAX_LOGGED_KEYS = 1_000;

/** Routes under the global limits: not the probes (`rateLimit: false`), not `GET /ws` (its own connect limit). */
function globallyLimited(request: FastifyRequest): boolean {
  return request.routeOptions.config.rateLimit === undefined && !request.is404;
}

/**
 * Refusals are logged once per client per window at warn (the first as it happens, then how many more), never
 * per request at info: a flood must not cost a log line per request, and operators want to see who, not each hit.
 */
export class RefusalLog {
  private readonly counts = new Map<string, number>();
  /** Addresses refused in this window: their requests are logged when they complete, not also as they arrive. */
  private readonly addresses = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private log: FastifyBaseLogger | null = null;

  /** Starts summing refusals into `log`, one summary per window. */
  start(log: FastifyBaseLogger, windowMs: number): void {
    this.log = log;
    this.timer = setInterval(() => this.summarize(), windowMs);
    this.timer.unref();
  }

  /** True when `address` has been refused in this window (its arrivals are not logged). */
  quiet(address: string): boolean {
    return this.addresses.has(address);
  }

  refused(key: string, limit: string, address: string): void {
    if (this.addresses.size < MAX_HELD_REFUSALS) this.addresses.add(address);
    const count = this.counts.get(key);
    if (count === undefined) {
      if (this.counts.size < MAX_LOGGED_KEYS) this.log?.warn({ key, limit }, 'rate limit: refusing a client (429)');
      this.counts.set(key, 0);
    } else {
      this.counts.set(key, count + 1);
    }
  }

  summarize(): void {
    let others = 0;
    let named = 0;
    for (const [key, more] of this.counts) {
      if (more === 0) continue;
      if (named < MAX_LOGGED_KEYS) {
        named += 1;
        this.log?.warn({ key, refused: more }, 'rate limit: refused more requests from a client in the last window');
      } else {
        others += more;
      }
    }
    if (others > 0) this.log?.warn({ refused: others }, 'rate limit: refused more requests from other clients');
    this.counts.clear();
    this.addresses.clear();
  }

  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.summarize();
  }
}

/**
 * Three limits, checked before anything else a request costs (the probes opt out with `config.rateLimit: false`;
 * `GET /ws` counts connection attempts with WS_CONNECT_RATE_MAX instead):
 * - per address, before credentials are read (RATE_LIMIT_ADDRESS_MAX): bogus credentials cost no lookup past it;
 * - per principal once authenticated, per address before (RATE_LIMIT_MAX per RATE_LIMIT_WINDOW_MS), so two users
 *   behind one address have their own budgets and one token used from two machines shares one;
 * - requests in flight per principal or address (RATE_LIMIT_IN_FLIGHT), with up to RATE_LIMIT_QUEUE more waiting
 *   their turn, so one client's burst takes a bounded share of the process while a browser's parallel requests
 *   (at most 6 connections to a host) are all answered.
 * A principal whose credentials were resolved in the last second is counted in the first hook, before the access
 * check; others right after it. Past a limit: 429 RATE_LIMITED with `Retry-After`, held back RATE_LIMIT_DELAY_MS
 * (a client that sends its next request as soon as it has the answer then costs little), logged per client per
 * window; the window limits also send the IETF draft `RateLimit-Limit`/`-Remaining`/`-Reset` headers on every
 * response. See docs/ARCHITECTURE.md, "Abuse limits".
 * @see https://github.com/fastify/fastify-rate-limit
 */
const rateLimitPlugin: FastifyPluginAsync<{ config: AppConfig; refusals: RefusalLog }> = async (
  fastify,
  { config, refusals },
) => {
  const { max, addressMax, inFlight, queue, windowMs, delayMs } = config.rateLimit;
  await fastify.register(rateLimit, {
    // The global limits run in this plugin's own hooks below; @fastify/rate-limit's hook serves `GET /ws`.
    global: false,
    max,
    timeWindow: windowMs,
    hook: 'preParsing',
    keyGenerator: rateLimitKey,
    enableDraftSpec: true,
    errorResponseBuilder: (_request, context) =>
      new HttpError(429, ErrorCode.RateLimited, `Too many requests; retry in ${context.after}`),
  });
  refusals.start(fastify.log.child({ component: 'rate-limit' }), windowMs);
  const held = new Set<() => void>();
  const addressLimit =
    addressMax > 0
      ? fastify.createRateLimit({ max: addressMax, timeWindow: windowMs, keyGenerator: addressKey })
      : null;
  const limitKeys = new WeakMap<FastifyRequest, string>();
  const principalLimit =
    max > 0
      ? fastify.createRateLimit({
          max,
          timeWindow: windowMs,
          keyGenerator: (request) => limitKeys.get(request) ?? rateLimitKey(request),
        })
      : null;
  const slots = inFlight > 0 ? new InFlightLimiter(inFlight, queue) : null;

  /** Answers 429 after RATE_LIMIT_DELAY_MS (at once when too many are held); the request goes no further. */
  function refuse(
    request: FastifyRequest,
    reply: FastifyReply,
    key: string,
    limit: string,
    seconds: number,
    headers: Record<string, string> = {},
  ): void {
    request[refused] = true;
    refusals.refused(key, limit, addressKey(request));
    const send = () => {
      if (reply.sent || reply.raw.destroyed) return;
      void reply
        .code(429)
        .headers({ ...headers, 'retry-after': String(seconds) })
        .send(errorBody(429, ErrorCode.RateLimited, `Too many requests; retry in ${String(seconds)} seconds`));
    };
    const delay = Math.min(delayMs, seconds * 1000);
    if (delay <= 0 || held.size >= MAX_HELD_REFUSALS) {
      send();
      return;
    }
    const answer = () => {
      held.delete(answer);
      clearTimeout(timer);
      reply.raw.off('close', answer);
      send();
    };
    const timer = setTimeout(answer, delay);
    held.add(answer);
    // A client that gives up waiting (the response closes before it was sent) is forgotten at once.
    reply.raw.once('close', answer);
  }

  /** True when the request's connection has closed: its 'close' events have fired already. */
  function connectionGone(request: FastifyRequest, reply: FastifyReply): boolean {
    return reply.raw.destroyed || request.raw.socket.destroyed;
  }

  /** Gives back the request's in-flight slot, once. */
  function release(request: FastifyRequest): void {
    const key = request[counted];
    if (key === undefined || slots === null) return;
    request[counted] = undefined;
    slots.leave(key);
  }

  /** Counts the request against `key`'s window and in-flight limits; false when it was refused (answered). */
  async function admit(request: FastifyRequest, reply: FastifyReply, key: string): Promise<boolean> {
    request[admitted] = true;
    if (principalLimit !== null) {
      limitKeys.set(request, key);
      const result = await principalLimit(request);
      if (!result.isAllowed) {
        const headers = {
          'ratelimit-limit': String(result.max),
          'ratelimit-remaining': String(result.remaining),
          'ratelimit-reset': String(result.ttlInSeconds),
        };
        if (result.isExceeded) {
          refuse(request, reply, key, 'window', Math.max(1, result.ttlInSeconds), headers);
          return false;
        }
        void reply.headers(headers);
      }
    }
    if (slots !== null) {
      // A client that went away while the checks above awaited must not take a slot: no 'close' is left to come
      // that would give it back (nothing is answered; there is no one to answer).
      if (connectionGone(request, reply)) return false;
      const turn = slots.enter(key);
      if (turn === 'full') {
        refuse(request, reply, key, 'in_flight', 1);
        return false;
      }
      if (turn !== 'run') {
        // An object, not a boolean: the close handler sets it while this awaits, which narrowing cannot see.
        const client = { gone: false };
        const leave = () => {
          client.gone = true;
          turn.cancel();
        };
        // A client that gives up while its request waits leaves the queue.
        reply.raw.once('close', leave);
        const granted = await turn.granted;
        reply.raw.off('close', leave);
        if (!granted) {
          if (!client.gone) refuse(request, reply, key, 'in_flight', 1);
          return false;
        }
      }
      request[counted] = key;
      // The slot is given back when the response is done or the connection goes, whichever comes first: a GET
      // whose client goes away mid-answer (a dashboard cancelling a read) ends with neither `onResponse` (no
      // 'finish') nor `onRequestAbort` (its request was complete), and a slot kept would stall the client for good.
      if (connectionGone(request, reply)) {
        release(request);
        return false;
      }
      reply.raw.once('close', () => {
        release(request);
      });
    }
    return true;
  }

  /**
   * The request's bucket when it is known before the access check: its principal's when the credentials were
   * resolved in the last second, its address's when it carries none; null otherwise (counted after the check).
   */
  function earlyKey(request: FastifyRequest): string | null {
    const authorization = request.headers.authorization;
    const session = request.cookies[SESSION_COOKIE];
    if (authorization === undefined && (session === undefined || session === '')) return addressKey(request);
    const principal = fastify.auth.service.peek(authorization, session);
    return principal === null ? null : principalKey(principal);
  }

  const limitsRequests = principalLimit !== null || slots !== null;
  // Callback style: a refused request is answered later and must not go on to the next hook meanwhile.
  fastify.addHook('onRequest', (request, reply, done) => {
    const ws = request.routeOptions.url === '/ws';
    if (!globallyLimited(request) && !ws) {
      done();
      return;
    }
    const check = async (): Promise<boolean> => {
      if (addressLimit !== null) {
        const result = await addressLimit(request);
        if (!result.isAllowed && result.isExceeded) {
          refuse(request, reply, addressKey(request), 'address', Math.max(1, result.ttlInSeconds));
          return false;
        }
      }
      if (ws || !limitsRequests) return true;
      const key = earlyKey(request);
      return key === null || (await admit(request, reply, key));
    };
    check().then(
      (passed) => {
        if (passed) done();
      },
      (err: unknown) => {
        done(err as Error);
      },
    );
  });

  if (limitsRequests) {
    // After the access check has resolved the principal, before the body is read.
    fastify.addHook('preParsing', (request, reply, payload, done) => {
      if (request[admitted] === true || !globallyLimited(request)) {
        done(null, payload);
        return;
      }
      admit(request, reply, rateLimitKey(request)).then(
        (passed) => {
          if (passed) done(null, payload);
        },
        (err: unknown) => {
          done(err as Error);
        },
      );
    });
  }

  if (slots !== null) {
    fastify.addHook('onResponse', (request, _reply, done) => {
      release(request);
      done();
    });
    fastify.addHook('onRequestAbort', (request, done) => {
      release(request);
      done();
    });
  }

  fastify.addHook('onClose', (_instance, done) => {
    slots?.close();
    for (const answer of [...held]) answer();
    refusals.close();
    done();
  });
};

/** The route-level setting for `GET /ws`: connection attempts per client per window, or none. */
export function wsConnectRateLimit(config: AppConfig): { max: number; timeWindow: number } | false {
  return config.rateLimit.wsConnectMax > 0
    ? { max: config.rateLimit.wsConnectMax, timeWindow: config.rateLimit.windowMs }
    : false;
}

export default fp(rateLimitPlugin, { name: 'rate-limit' });
