import { describe, expect, it } from 'vitest';
import {
  CloseCode,
  PROTOCOL_VERSION,
  orderValidator,
  parseClientMessage,
  parseServerMessage,
  serverMessageValidator,
  type Order,
} from './index.js';

const order: Order = {
  id: 200,
  customer_name: 'Bob',
  product_name: 'T-shirt',
  status: 'pending',
  created_at: '2026-11-28T10:00:00.000Z',
  updated_at: '2026-11-28T10:00:00.000Z',
  version: 1,
};

describe('client messages', () => {
  it('accepts a subscribe with a filter and a position', () => {
    const result = parseClientMessage(
      JSON.stringify({
        type: 'subscribe',
        protocol: PROTOCOL_VERSION,
        filter: { status: ['pending'], customer: 'bo' },
        since: '8263',
      }),
    );
    expect(result).toEqual({
      ok: true,
      value: { type: 'subscribe', protocol: 1, filter: { status: ['pending'], customer: 'bo' }, since: '8263' },
    });
  });

  it('rejects text that is not JSON', () => {
    expect(parseClientMessage('{"type":')).toEqual({ ok: false, error: 'frame is not valid JSON' });
  });

  it('rejects unknown message types, unknown fields, prototype keys and bad statuses, naming the path', () => {
    expect(parseClientMessage('{"type":"unsubscribe"}').ok).toBe(false);
    const unknownField = parseClientMessage('{"type":"subscribe","extra":1}');
    expect(unknownField).toMatchObject({ ok: false, error: expect.stringContaining('/extra') as string });
    const proto = parseClientMessage('{"type":"subscribe","__proto__":{"polluted":true}}');
    expect(proto.ok).toBe(false);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const badStatus = parseClientMessage('{"type":"subscribe","filter":{"status":["lost"]}}');
    expect(badStatus).toMatchObject({ ok: false, error: expect.stringContaining('/filter/status/0') as string });
    expect(parseClientMessage('{"type":"subscribe","protocol":2}').ok).toBe(false);
  });

  it('rejects a lone surrogate or a control character in any string, naming the path and the problem', () => {
    expect(parseClientMessage('{"type":"subscribe","filter":{"customer":"bo\\ud800"}}')).toEqual({
      ok: false,
      error: '/filter/customer: invalid text (lone_surrogate)',
    });
    expect(parseClientMessage('{"type":"subscribe","since":"82\\u0000"}')).toEqual({
      ok: false,
      error: '/since: invalid text (control_character)',
    });
    expect(parseClientMessage('{"type":"subscribe","filter":{"customer":"\\ud83d\\ude00"}}').ok).toBe(true);
  });
});

describe('server messages', () => {
  it('accepts every event shape and a batch of them', () => {
    const events = [
      { type: 'order.created', order, position: 'a1' },
      { type: 'order.updated', order: { ...order, version: 2 }, position: 'a2' },
      { type: 'order.left', id: 200, position: 'a3' },
      { type: 'order.deleted', id: 200, position: 'a4' },
    ];
    for (const event of events) expect(serverMessageValidator.check(event)).toBe(true);
    expect(parseServerMessage(JSON.stringify({ type: 'batch', events })).ok).toBe(true);
    expect(parseServerMessage(JSON.stringify({ type: 'ready', protocol: 1, position: null, resumed: false })).ok).toBe(
      true,
    );
    expect(parseServerMessage(JSON.stringify({ type: 'resync', reason: 'history_lost' })).ok).toBe(true);
  });

  it('rejects an event whose order is malformed', () => {
    expect(
      serverMessageValidator.check({ type: 'order.created', order: { ...order, status: 'lost' }, position: 'a' }),
    ).toBe(false);
    expect(serverMessageValidator.check({ type: 'order.created', order: { ...order, id: 0 }, position: 'a' })).toBe(
      false,
    );
    expect(
      serverMessageValidator.check({
        type: 'order.created',
        order: { ...order, updated_at: 'yesterday' },
        position: 'a',
      }),
    ).toBe(false);
    expect(serverMessageValidator.check({ type: 'batch', events: [] })).toBe(false);
  });
});

describe('orders', () => {
  it('requires a positive integer id, known status and non-blank names', () => {
    expect(orderValidator.check(order)).toBe(true);
    expect(orderValidator.check({ ...order, id: 1.5 })).toBe(false);
    expect(orderValidator.check({ ...order, customer_name: '   ' })).toBe(false);
    expect(orderValidator.check({ ...order, version: 0 })).toBe(false);
  });

  it('uses distinct application close codes', () => {
    expect(new Set(Object.values(CloseCode)).size).toBe(Object.values(CloseCode).length);
  });
});
