import { describe, expect, it } from 'vitest';
import { InFlightLimiter, type Turn } from '../src/in-flight.js';

/** The turn `enter` gave, failing the test when it ran or was refused at once instead. */
function queued(result: ReturnType<InFlightLimiter['enter']>): Turn {
  if (typeof result === 'string') throw new Error(`expected to wait, got ${result}`);
  return result;
}

describe('requests in flight per client', () => {
  it('runs the limit at once, queues the next ones in arrival order, refuses past both, per client', async () => {
    const limiter = new InFlightLimiter(2, 2);
    expect([limiter.enter('alice'), limiter.enter('alice')]).toEqual(['run', 'run']);
    const third = queued(limiter.enter('alice'));
    const fourth = queued(limiter.enter('alice'));
    expect(limiter.enter('alice')).toBe('full');
    expect(limiter.enter('bob')).toBe('run');

    const order: string[] = [];
    void third.granted.then((granted) => order.push(`third ${String(granted)}`));
    void fourth.granted.then((granted) => order.push(`fourth ${String(granted)}`));
    limiter.leave('alice');
    await Promise.resolve();
    expect(order).toEqual(['third true']);
    // The slot was handed over, not freed: the queue has room for one more, and no one runs past the limit.
    expect(queued(limiter.enter('alice'))).toBeDefined();
    limiter.leave('alice');
    await Promise.resolve();
    expect(order).toEqual(['third true', 'fourth true']);
  });

  it('drops a request that gave up waiting, so the slot goes to the next one', async () => {
    const limiter = new InFlightLimiter(1, 2);
    expect(limiter.enter('alice')).toBe('run');
    const gone = queued(limiter.enter('alice'));
    const next = queued(limiter.enter('alice'));
    gone.cancel();
    expect(await gone.granted).toBe(false);
    limiter.leave('alice');
    expect(await next.granted).toBe(true);
    limiter.leave('alice');
    expect(limiter.enter('alice')).toBe('run');
  });

  it('tells every waiting request it will not run on shutdown', async () => {
    const limiter = new InFlightLimiter(1, 3);
    expect(limiter.enter('alice')).toBe('run');
    const waiting = [queued(limiter.enter('alice')), queued(limiter.enter('alice'))];
    limiter.close();
    expect(await Promise.all(waiting.map((turn) => turn.granted))).toEqual([false, false]);
  });
});
