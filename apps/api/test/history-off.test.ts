import { describe, expect, it } from 'vitest';
import { useApi } from './support/api.js';

const api = useApi({ listen: true, env: { HISTORY_RECORD: '0' } });

describe('HISTORY_RECORD=0 and no metrics configured', () => {
  it('fans changes out without recording them, and serves no /metrics', async () => {
    const client = await api.subscribe();
    expect((await api.post({ id: 801, customer_name: 'Vi', product_name: 'Jar' })).statusCode).toBe(201);
    await client.waitForEvents(1);
    const history = await api.app.inject({ method: 'GET', url: '/orders/801/history' });
    expect(JSON.parse(history.body)).toEqual({ entries: [], next_cursor: null });
    expect(api.app.realtime.historyPending()).toBe(0);
    expect((await api.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(404);
  });
});
