import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ORDER_STATUSES,
  decodeUtf8Strict,
  findInvalidText,
  parseClientMessage,
  textProblem,
  type ServerMessage,
} from '@orders/contracts';
import type { App } from '../src/app.js';
import { startDatabase, testConfig, type EmbeddedDatabase } from './support/app.js';
import { credentialsFor, startAppAsAdmin } from './support/auth.js';

/*
 * The project's own hostile suite: generated invalid input against the running API, over REST and the socket.
 * Every case is invalid by construction (one breaking change to a valid request, or bytes that cannot be a valid
 * one), so the assertions hold for all of them: never a 2xx, never a 5xx, stored data untouched, and the process
 * alive with /healthz answering at the end. Seeds are fixed so a failure reproduces; fast-check prints the case.
 */

const SEED = 20_261_205;
const seeds = [
  { id: 1, customer_name: 'Ann', product_name: 'Mug', status: 'pending' },
  { id: 2, customer_name: 'Bob', product_name: 'T-shirt', status: 'shipped' },
  { id: 3, customer_name: 'Zoë', product_name: 'Poster', status: 'delivered' },
] as const;

let database: EmbeddedDatabase;
let app: App;
let port: number;
let before: string;

async function storedState(): Promise<string> {
  const orders = await app.mongo.orders.find({}).sort({ _id: 1 }).toArray();
  const keys = await app.mongo.db.collection('idempotency_keys').find({}).sort({ _id: 1 }).toArray();
  return JSON.stringify({ orders, keys });
}

beforeAll(async () => {
  database = await startDatabase();
  app = await startAppAsAdmin(testConfig(database.uri));
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as AddressInfo).port;
  for (const order of seeds) {
    const response = await app.inject({ method: 'POST', url: '/orders', payload: order });
    expect(response.statusCode).toBe(201);
  }
  before = await storedState();
});
afterAll(async () => {
  // Whatever the suite sent, the process is alive and the data is as the seeds left it.
  const health = await fetch(`http://127.0.0.1:${port}/healthz`);
  expect(health.status).toBe(200);
  expect(await storedState()).toBe(before);
  await app.close();
  await database.close();
});

// ---- generators ---------------------------------------------------------------------------------------------

/** One character no field accepts: a C0/C1 control (tab and newline included), DEL, or a lone surrogate. */
const badChar = fc
  .oneof(
    fc.integer({ min: 0, max: 0x1f }),
    fc.integer({ min: 0x7f, max: 0x9f }),
    fc.integer({ min: 0xd800, max: 0xdfff }),
  )
  .map((code) => String.fromCharCode(code));

/** Text with one refused character somewhere inside. */
const badText = fc
  .tuple(fc.string({ maxLength: 20 }), badChar, fc.string({ maxLength: 20 }))
  .map(([head, bad, tail]) => head + bad + tail);

/** Byte sequences that are not UTF-8: stray continuation, truncated, overlong, surrogate (CESU-8), out of range. */
const invalidUtf8 = fc.constantFrom(
  [0xff],
  [0x80],
  [0xc3],
  [0xe2, 0x82],
  [0xc0, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
);

/** Any JSON value that is not a non-blank string (so never a valid name). */
const notAName = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom('', '   '),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
);

const notAnId = fc.oneof(
  fc.integer({ max: 0 }),
  fc.double({ noInteger: true }),
  fc.integer({ min: 1 }).map(String),
  fc.constant(null),
  fc.constant(Number.MAX_SAFE_INTEGER + 2),
);

const notAStatus = fc.oneof(
  fc.string({ maxLength: 12 }).filter((s) => !(ORDER_STATUSES as readonly string[]).includes(s)),
  fc.integer(),
  fc.constant(null),
  fc.constant(['pending']),
);

const createFields = ['id', 'customer_name', 'product_name', 'status'];
const unknownKey = fc
  .string({ minLength: 1, maxLength: 12 })
  .filter((key) => !createFields.includes(key) && key !== '__proto__');

/** A valid create body for an id no seed uses, so only the one breaking change can make it fail. */
const validCreate = fc.record({
  id: fc.integer({ min: 100, max: 1_000_000 }),
  customer_name: fc.string({ minLength: 1, maxLength: 20 }).map((s) => `c${s.replace(/[^\x20-\x7e]/g, '')}`),
  product_name: fc.constantFrom('Mug', 'Poster', 'T-shirt'),
  status: fc.constantFrom(...ORDER_STATUSES),
});

type Body = string | Buffer;

/** A create body made invalid in one way. */
const invalidCreateBody: fc.Arbitrary<Body> = fc.oneof(
  fc
    .tuple(validCreate, fc.constantFrom('customer_name', 'product_name'), badText)
    .map(([order, field, text]) => JSON.stringify({ ...order, [field]: text })),
  fc.tuple(validCreate, invalidUtf8).map(([order, bytes]) => {
    const [head, tail] = JSON.stringify({ ...order, customer_name: '\u0001' }).split('\\u0001') as [string, string];
    return Buffer.concat([Buffer.from(head), Buffer.from(bytes), Buffer.from(tail)]);
  }),
  fc
    .tuple(validCreate, fc.constantFrom('customer_name', 'product_name'), notAName)
    .map(([order, field, value]) => JSON.stringify({ ...order, [field]: value })),
  fc.tuple(validCreate, notAnId).map(([order, id]) => JSON.stringify({ ...order, id })),
  fc.tuple(validCreate, notAStatus).map(([order, status]) => JSON.stringify({ ...order, status })),
  fc
    .tuple(validCreate, unknownKey, fc.jsonValue({ maxDepth: 2 }))
    .map(([order, key, value]) => JSON.stringify({ ...order, [key]: value })),
  fc
    .tuple(validCreate, fc.constantFrom('id', 'customer_name', 'product_name'))
    .map(([order, field]) =>
      JSON.stringify(Object.fromEntries(Object.entries(order).filter(([key]) => key !== field))),
    ),
  fc.tuple(validCreate, fc.constantFrom('__proto__', 'constructor')).map(([order, key]) => {
    const text = JSON.stringify(order);
    return `${text.slice(0, -1)},"${key}":{"prototype":{"polluted":true},"isAdmin":true}}`;
  }),
  // Bytes that end with a comma cannot be JSON.
  fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.concat([Buffer.from('{'), bytes, Buffer.from(',')])),
  fc
    .jsonValue({ maxDepth: 3 })
    .filter((value) => value === null || typeof value !== 'object' || Array.isArray(value))
    .map((value) => JSON.stringify(value)),
);

/** An update body made invalid in one way (an update needs at least one known, valid field). */
const invalidUpdateBody: fc.Arbitrary<Body> = fc.oneof(
  fc
    .tuple(fc.constantFrom('customer_name', 'product_name'), badText)
    .map(([field, text]) => JSON.stringify({ [field]: text })),
  invalidUtf8.map((bytes) =>
    Buffer.concat([Buffer.from('{"customer_name":"A'), Buffer.from(bytes), Buffer.from('"}')]),
  ),
  fc
    .tuple(fc.constantFrom('customer_name', 'product_name'), notAName)
    .map(([field, value]) => JSON.stringify({ [field]: value })),
  notAStatus.map((status) => JSON.stringify({ status })),
  fc
    .tuple(unknownKey, fc.jsonValue({ maxDepth: 2 }))
    .map(([key, value]) => JSON.stringify({ customer_name: 'Ann', [key]: value })),
  fc.constant('{}'),
);

function percentEncode(bytes: Uint8Array): string {
  return [...bytes].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join('');
}

/** A query parameter's value: random bytes, percent-encoded; `invalid` when they are not acceptable text. */
const queryValue = fc
  .oneof(
    fc.uint8Array({ maxLength: 12 }),
    fc.string({ maxLength: 12 }).map((s) => new Uint8Array(Buffer.from(s, 'utf8'))),
    badText.map((s) => new Uint8Array(Buffer.from(s, 'utf8'))),
  )
  .map((bytes) => {
    const text = decodeUtf8Strict(bytes);
    return { encoded: percentEncode(bytes), invalid: text === null || textProblem(text) !== null };
  });

// ---- REST ---------------------------------------------------------------------------------------------------

function expectRefused(statusCode: number, body: Body): void {
  expect(statusCode, `body ${Buffer.from(body).toString('hex').slice(0, 200)}`).toBeGreaterThanOrEqual(400);
  expect(statusCode).toBeLessThan(500);
}

describe('hostile REST input', () => {
  it('refuses every invalid create body with a 4xx and stores nothing (250 cases)', async () => {
    await fc.assert(
      fc.asyncProperty(invalidCreateBody, async (payload) => {
        const response = await app.inject({
          method: 'POST',
          url: '/orders',
          headers: { 'content-type': 'application/json' },
          payload,
        });
        expectRefused(response.statusCode, payload);
      }),
      { numRuns: 250, seed: SEED },
    );
    expect(await storedState()).toBe(before);
  });

  it('refuses every invalid update body with a 4xx, with or without If-Match, and changes nothing (150 cases)', async () => {
    await fc.assert(
      fc.asyncProperty(
        invalidUpdateBody,
        fc.constantFrom(1, 2, 3),
        fc.option(fc.string({ maxLength: 10 }).map((s) => s.replace(/[^\x20-\x7e]/g, ''))),
        async (payload, id, ifMatch) => {
          const response = await app.inject({
            method: 'PUT',
            url: `/orders/${id}`,
            headers: { 'content-type': 'application/json', ...(ifMatch === null ? {} : { 'if-match': ifMatch }) },
            payload,
          });
          expectRefused(response.statusCode, payload);
        },
      ),
      { numRuns: 150, seed: SEED },
    );
    expect(await storedState()).toBe(before);
  });

  it('answers any query string without a 5xx, and 400 INVALID_TEXT whenever a value is not acceptable text (200 cases)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom('customer', 'status', 'limit', 'cursor', 'x'), queryValue), {
          minLength: 1,
          maxLength: 4,
        }),
        async (pairs) => {
          const url = `/orders?${pairs.map(([name, value]) => `${name}=${value.encoded}`).join('&')}`;
          const response = await app.inject({ method: 'GET', url });
          expect(response.statusCode, url).toBeLessThan(500);
          if (pairs.some(([, value]) => value.invalid)) {
            expect(response.statusCode, url).toBe(400);
            expect((JSON.parse(response.body) as { code: string }).code).toBe('INVALID_TEXT');
          }
        },
      ),
      { numRuns: 200, seed: SEED },
    );
  });
});

// ---- the socket ---------------------------------------------------------------------------------------------

/** A client frame made invalid in one way; `bytes` frames go out as text frames holding non-UTF-8. */
const invalidFrame: fc.Arbitrary<string | Buffer> = fc.oneof(
  // Text that is not a JSON object: a JSON text cannot start with "x".
  fc.string({ maxLength: 40 }).map((s) => `x${s}`),
  badText.map((customer) => JSON.stringify({ type: 'subscribe', filter: { customer } })),
  badText.map((since) => JSON.stringify({ type: 'subscribe', since })),
  fc
    .string({ maxLength: 12 })
    .filter((type) => type !== 'subscribe')
    .map((type) => JSON.stringify({ type })),
  fc
    .tuple(
      fc.string({ minLength: 1, maxLength: 10 }).filter((k) => !['type', 'protocol', 'filter', 'since'].includes(k)),
      fc.jsonValue({ maxDepth: 2 }),
    )
    .map(([key, value]) => JSON.stringify({ type: 'subscribe', [key]: value })),
  fc
    .oneof(fc.integer(), fc.constant(null), fc.array(fc.string(), { maxLength: 2 }), fc.constant(''))
    .map((since) => JSON.stringify({ type: 'subscribe', since })),
  notAStatus.map((status) => JSON.stringify({ type: 'subscribe', filter: { status: [status] } })),
  fc.integer({ min: 0, max: 3 }).map((protocol) => JSON.stringify({ type: 'subscribe', protocol: protocol + 2 })),
  invalidUtf8.map((bytes) =>
    Buffer.concat([Buffer.from('{"type":"subscribe","since":"'), Buffer.from(bytes), Buffer.from('"}')]),
  ),
);

interface FrameOutcome {
  kind: 'error' | 'closed' | 'accepted';
  detail: string;
}

/** Sends one frame on a fresh socket and reports what the server did: an error frame, a close, or acceptance. */
async function sendFrame(frame: string | Buffer): Promise<FrameOutcome> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: credentialsFor(`http://127.0.0.1:${port}`) });
  try {
    return await new Promise<FrameOutcome>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer to a frame within 10 s')), 10_000);
      const finish = (outcome: FrameOutcome): void => {
        clearTimeout(timer);
        resolve(outcome);
      };
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.once('open', () => socket.send(frame, { binary: false }));
      socket.on('message', (data: Buffer) => {
        const message = JSON.parse(data.toString('utf8')) as ServerMessage;
        if (message.type === 'error') finish({ kind: 'error', detail: message.code });
        else finish({ kind: 'accepted', detail: message.type });
      });
      socket.once('close', (code) => finish({ kind: 'closed', detail: String(code) }));
    });
  } finally {
    socket.terminate();
  }
}

describe('hostile socket input', () => {
  it('answers every invalid client frame with an error or a protocol close, never a subscription (120 cases)', async () => {
    await fc.assert(
      fc.asyncProperty(invalidFrame, async (frame) => {
        const outcome = await sendFrame(frame);
        if (outcome.kind === 'closed') expect(['1002', '1007']).toContain(outcome.detail);
        else expect(outcome).toEqual({ kind: 'error', detail: 'BAD_MESSAGE' });
      }),
      { numRuns: 120, seed: SEED },
    );
    // A valid subscribe still works after all that.
    expect(await sendFrame(JSON.stringify({ type: 'subscribe' }))).toEqual({ kind: 'accepted', detail: 'ready' });
  });

  it('the client-frame parser never throws and accepts only schema-valid, well-formed text (1,000 cases)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          invalidFrame.map((f) => Buffer.from(f).toString('utf8')),
          fc.string({ unit: 'binary' }),
        ),
        (text) => {
          const parsed = parseClientMessage(text);
          if (parsed.ok) {
            expect(parsed.value.type).toBe('subscribe');
            expect(findInvalidText(parsed.value)).toBeNull();
          }
        },
      ),
      { numRuns: 1000, seed: SEED },
    );
  });
});
