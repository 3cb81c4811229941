import { beforeEach, describe, expect, it } from 'vitest';
import type { OrderDocument } from '../src/orders/order-document.js';
import { useApi } from './support/api.js';
import { json } from './support/app.js';
import { bearer, createToken } from './support/auth.js';

/* `GET /orders/export.csv`: the list's filter, search, sort and scope, as RFC 4180 CSV streamed by the server. */

const api = useApi();

beforeEach(async () => {
  await api.orders().deleteMany({});
});

/** Parses RFC 4180 text (quoted fields, doubled quotes, CRLF rows) into rows of cells. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text.charAt(i);
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (char === '"') quoted = false;
      else cell += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      row.push(cell);
      cell = '';
    } else if (char === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += char;
  }
  expect(row, 'the text ends with a CRLF').toEqual([]);
  return rows;
}

function documents(count: number): OrderDocument[] {
  const base = Date.parse('2026-03-01T00:00:00.000Z');
  return Array.from({ length: count }, (_, index) => ({
    _id: index + 1,
    customer_name: index % 2 === 0 ? `Even customer ${String(index)}` : `Odd customer ${String(index)}`,
    product_name: `Product ${String(index)}`,
    status: 'pending' as const,
    created_at: new Date(base),
    updated_at: new Date(base + index * 1000),
    version: 1,
  }));
}

describe('GET /orders/export.csv', () => {
  it('streams every matching order, past any page size, newest first, with a header row', async () => {
    await api.orders().insertMany(documents(2_500));
    const response = await api.app.inject({ url: '/orders/export.csv' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(response.headers['content-disposition']).toBe('attachment; filename="orders.csv"');
    const rows = parseCsv(response.body);
    expect(rows[0]).toEqual([
      'id',
      'customer_name',
      'product_name',
      'status',
      'created_at',
      'updated_at',
      'version',
      'updated_by',
    ]);
    expect(rows).toHaveLength(2_501);
    expect(rows[1]).toEqual([
      '2500',
      'Odd customer 2499',
      'Product 2499',
      'pending',
      '2026-03-01T00:00:00.000Z',
      new Date(Date.parse('2026-03-01T00:00:00.000Z') + 2_499_000).toISOString(),
      '1',
      '',
    ]);
    expect(rows.at(-1)?.[0]).toBe('1');
  });

  it('applies the search and the sort of the list', async () => {
    await api.orders().insertMany(documents(30));
    const response = await api.app.inject({ url: '/orders/export.csv?q=even&sort=id' });
    const ids = parseCsv(response.body)
      .slice(1)
      .map((row) => row[0]);
    expect(ids).toEqual(Array.from({ length: 15 }, (_, index) => String(29 - index * 2)));
  });

  it('quotes what RFC 4180 quotes and turns spreadsheet formulas into text', async () => {
    const hostile = [
      { id: 1, customer_name: '=HYPERLINK("http://evil.example","click")', product_name: 'a,b "c"' },
      { id: 2, customer_name: '+1 555', product_name: '-2+3' },
      { id: 3, customer_name: '@SUM(A1)', product_name: 'Plain' },
    ];
    for (const body of hostile) expect((await api.post(body)).statusCode).toBe(201);
    const response = await api.app.inject({ url: '/orders/export.csv?sort=id' });
    expect(response.body).toContain('"\'=HYPERLINK(""http://evil.example"",""click"")","a,b ""c"""');
    const rows = parseCsv(response.body).slice(1);
    expect(rows.map((row) => [row[0], row[1], row[2], row[7]])).toEqual([
      ['3', "'@SUM(A1)", 'Plain', 'test-admin'],
      ['2', "'+1 555", "'-2+3", 'test-admin'],
      ['1', '\'=HYPERLINK("http://evil.example","click")', 'a,b "c"', 'test-admin'],
    ]);
  });

  it('lets a viewer export, never outside its scope', async () => {
    await api.orders().insertMany(documents(10));
    const viewer = await createToken(api.app, 'viewer', { name: 'odd-viewer', scope: { customer: 'odd' } });
    const response = await api.app.inject({ url: '/orders/export.csv', headers: bearer(viewer) });
    expect(response.statusCode).toBe(200);
    const rows = parseCsv(response.body).slice(1);
    expect(rows.map((row) => row[0])).toEqual(['10', '8', '6', '4', '2']);
    const searched = await api.app.inject({ url: '/orders/export.csv?q=even', headers: bearer(viewer) });
    expect(parseCsv(searched.body)).toHaveLength(1);
  });

  it('refuses a bad search, sort or unknown parameter', async () => {
    for (const [query, field] of [
      ['q=%2A%2A', 'querystring/q'],
      ['sort=name', 'querystring/sort'],
      ['limit=5', 'querystring'],
    ] as const) {
      const response = await api.app.inject({ url: `/orders/export.csv?${query}` });
      expect(response.statusCode, query).toBe(400);
      expect(String(json(response).field), query).toContain(field);
    }
  });
});
