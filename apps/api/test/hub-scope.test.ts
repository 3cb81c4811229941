import { afterEach, describe, expect, it } from 'vitest';
import type { Scope } from '@orders/contracts';
import {
  FakeSocket,
  FedHub,
  created,
  deleted,
  order,
  pos,
  settle,
  silentLog,
  updated,
} from './support/realtime-fakes.js';

const hubs: FedHub[] = [];

function makeHub(): FedHub {
  const hub = new FedHub({ maxBufferedBytes: 1024 * 1024, batchWindowMs: 0, ringSize: 100, log: silentLog });
  hubs.push(hub);
  hub.advance(pos(0));
  return hub;
}

function connect(hub: FedHub, scope: Scope | null, filter?: object): FakeSocket {
  const socket = new FakeSocket();
  hub.connect(socket, scope).message(JSON.stringify({ type: 'subscribe', ...(filter && { filter }) }));
  return socket;
}

afterEach(() => {
  for (const hub of hubs.splice(0)) hub.close();
});

const BOB: Scope = { customer: 'bob' };
const bob = (id: number, status: 'pending' | 'shipped' = 'pending') => order(id, { customer_name: 'Bob', status });
const alice = (id: number) => order(id, { customer_name: 'Alice' });

describe('the hub under scopes', () => {
  it('builds one frame per distinct scope and filter, shared by every socket that has them', async () => {
    const hub = makeHub();
    const unscoped = Array.from({ length: 20 }, () => connect(hub, null));
    const scoped = Array.from({ length: 20 }, () => connect(hub, BOB));
    // Same scope spelled differently (case), same group.
    const alsoScoped = Array.from({ length: 5 }, () => connect(hub, { customer: 'BOB' }));
    const narrowed = Array.from({ length: 5 }, () => connect(hub, BOB, { status: ['pending'] }));
    hub.publish(created(1, bob(1)));
    await settle();
    const frameOf = (socket: FakeSocket) => socket.raw.at(-1);
    const distinct = new Set([...unscoped, ...scoped, ...alsoScoped, ...narrowed].map(frameOf));
    expect(distinct.size).toBe(3);
    expect(new Set(scoped.map(frameOf))).toEqual(new Set(alsoScoped.map(frameOf)));
    for (const socket of [...unscoped, ...scoped, ...narrowed]) {
      expect(socket.events()).toEqual([{ type: 'order.created', order: bob(1), position: pos(1) }]);
    }
  });

  it('tells a scoped socket nothing of an order outside its scope, and a move out as order.left', async () => {
    const hub = makeHub();
    const scoped = connect(hub, BOB);
    const everyone = connect(hub, null);
    hub.publish(created(1, alice(1)));
    hub.publish(
      updated(2, { ...alice(1), version: 2, status: 'shipped' }, { customer_name: 'Alice', status: 'pending' }),
    );
    hub.publish(created(3, bob(3)));
    hub.publish(updated(4, { ...alice(3), version: 2 }, { customer_name: 'Bob', status: 'pending' }));
    hub.publish(deleted(5, 1, { customer_name: 'Alice', status: 'shipped' }));
    hub.publish(deleted(6, 3, { customer_name: 'Alice', status: 'pending' }));
    await settle();
    expect(scoped.events().map((e) => [e.type, 'order' in e ? e.order.id : e.id])).toEqual([
      ['order.created', 3],
      ['order.left', 3],
    ]);
    expect(everyone.events()).toHaveLength(6);
  });

  it('withholds deletes and departures it cannot check against the scope (no pre-image)', async () => {
    const hub = makeHub();
    const scoped = connect(hub, BOB);
    const everyone = connect(hub, null);
    hub.publish(deleted(1, 50));
    hub.publish(updated(2, { ...alice(51), version: 3 }));
    hub.publish(updated(3, { ...bob(52), version: 2 }));
    await settle();
    expect(scoped.events().map((e) => e.type)).toEqual(['order.updated']);
    expect(everyone.events().map((e) => e.type)).toEqual(['order.deleted', 'order.updated', 'order.updated']);
  });

  it('replays from the ring under the scope too', async () => {
    const hub = makeHub();
    hub.publish(created(1, alice(1)));
    hub.publish(created(2, bob(2)));
    hub.publish(deleted(3, 1, { customer_name: 'Alice', status: 'pending' }));
    await settle();
    const socket = new FakeSocket();
    hub.connect(socket, BOB).message(JSON.stringify({ type: 'subscribe', since: pos(0) }));
    await settle();
    expect(socket.events().map((e) => [e.type, 'order' in e ? e.order.id : e.id])).toEqual([['order.created', 2]]);
  });
});
