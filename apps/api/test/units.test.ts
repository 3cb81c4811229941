import { describe, expect, it } from 'vitest';
import { MongoClient, MongoNetworkError, MongoServerError, MongoServerSelectionError } from 'mongodb';
import { mapError } from '../src/error-handler.js';
import { ErrorCode } from '@orders/contracts';
import { HttpError } from '../src/errors.js';
import { etag, parseIfMatch } from '../src/http-headers.js';
import { decodeCursor, encodeCursor } from '../src/orders/cursor.js';
import { hashRequestBody } from '../src/orders/idempotency.js';
import { escapeRegex } from '../src/orders/repository.js';
import { describeHosts } from '../src/db.js';

describe('page cursors', () => {
  it('round-trip the position of the last order of a page', () => {
    const after = { updatedAt: new Date('2026-01-02T03:04:05.678Z'), id: 9_007_199_254_740_991 };
    const cursor = encodeCursor(after);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor)).toEqual(after);
  });

  it('round-trip a page that ended on a stored document with a fractional _id', () => {
    const after = { updatedAt: new Date('2026-01-02T03:04:05.678Z'), id: 5.5 };
    expect(decodeCursor(encodeCursor(after))).toEqual(after);
  });

  it('refuse anything they did not produce', () => {
    for (const bad of [
      '',
      'abc',
      'not base64!',
      Buffer.from('v1:abc:1').toString('base64url'),
      Buffer.from('v1:1:0').toString('base64url'),
      Buffer.from('v2:1:1').toString('base64url'),
      Buffer.from('v1:1:99999999999999999').toString('base64url'),
    ]) {
      expect(decodeCursor(bad), bad).toBeNull();
    }
  });
});

describe('If-Match', () => {
  it('accepts the ETag form, a bare number and a weak validator', () => {
    expect(etag(7)).toBe('"7"');
    expect(parseIfMatch('"7"')).toBe(7);
    expect(parseIfMatch('7')).toBe(7);
    expect(parseIfMatch('W/"7"')).toBe(7);
    expect(parseIfMatch(' "7" ')).toBe(7);
  });

  it('treats * and no header as "any version"', () => {
    expect(parseIfMatch('*')).toBeUndefined();
    expect(parseIfMatch(undefined)).toBeUndefined();
  });

  it('answers 400 naming the header for anything else', () => {
    for (const bad of ['"abc"', '0', '"7', '7"', '"1", "2"', '-1', '']) {
      let thrown: unknown;
      try {
        parseIfMatch(bad);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, bad).toBeInstanceOf(HttpError);
      expect((thrown as HttpError).field).toBe('headers/if-match');
      expect((thrown as HttpError).statusCode).toBe(400);
    }
  });
});

describe('escapeRegex', () => {
  it('makes every metacharacter literal', () => {
    const nasty = '.*+?^${}()|[]\\/';
    const pattern = new RegExp(`^${escapeRegex(nasty)}$`, 'iu');
    expect(pattern.test(nasty)).toBe(true);
    expect(pattern.test('anything else')).toBe(false);
    expect(new RegExp(escapeRegex('a.c')).test('abc')).toBe(false);
  });
});

describe('hashRequestBody', () => {
  it('ignores key order but not values', () => {
    expect(hashRequestBody({ id: 1, customer_name: 'A', product_name: 'B' })).toBe(
      hashRequestBody({ product_name: 'B', id: 1, customer_name: 'A' }),
    );
    expect(hashRequestBody({ id: 1, customer_name: 'A' })).not.toBe(hashRequestBody({ id: 1, customer_name: 'a' }));
    expect(hashRequestBody({ id: 1 })).not.toBe(hashRequestBody({ id: '1' }));
  });
});

describe('mapError', () => {
  it('never echoes the message of an unexpected error', () => {
    const { body } = mapError(
      new Error('connection string mongodb://admin:pw@10.0.0.5 leaked at Foo.bar (/srv/x.js:1)'),
    );
    expect(body).toEqual({
      statusCode: 500,
      error: 'Internal Server Error',
      code: ErrorCode.InternalError,
      message: 'Internal server error',
    });
  });

  it('answers 503 DATABASE_UNAVAILABLE for driver connectivity errors and shutdown codes', async () => {
    // A real selection failure: nothing listens on 127.0.0.1:1.
    const client = new MongoClient('mongodb://127.0.0.1:1/?directConnection=true', { serverSelectionTimeoutMS: 200 });
    const selection: unknown = await client.connect().then(
      () => null,
      (error: unknown) => error,
    );
    await client.close();
    expect(selection).toBeInstanceOf(MongoServerSelectionError);
    for (const error of [
      selection,
      new MongoNetworkError('socket closed'),
      new MongoServerError({ code: 11600, errmsg: 'interrupted at shutdown' }),
    ]) {
      const mapped = mapError(error);
      expect(mapped.body.statusCode).toBe(503);
      expect(mapped.body.code).toBe(ErrorCode.DatabaseUnavailable);
      expect(mapped.body.message).not.toContain('timed out');
    }
  });

  it('gives framework 4xx errors a code derived from their status, and keeps a 5xx status without its message', () => {
    const notAllowed = Object.assign(new Error('Method FOO not allowed'), {
      statusCode: 405,
      code: 'FST_ERR_SOMETHING',
    });
    expect(mapError(notAllowed).body).toMatchObject({
      statusCode: 405,
      code: 'METHOD_NOT_ALLOWED',
      message: 'Method FOO not allowed',
    });
    const unavailable = Object.assign(new Error('upstream pool exhausted at 10.0.0.9'), { statusCode: 503 });
    expect(mapError(unavailable).body).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      code: 'INTERNAL_ERROR',
      message: 'Internal server error',
    });
  });

  it('keeps the code, field and headers of an HttpError', () => {
    const mapped = mapError(
      new HttpError(412, ErrorCode.VersionMismatch, 'moved on', {
        field: 'headers/if-match',
        headers: { etag: '"3"' },
      }),
    );
    expect(mapped).toEqual({
      body: {
        statusCode: 412,
        error: 'Precondition Failed',
        code: 'VERSION_MISMATCH',
        message: 'moved on',
        field: 'headers/if-match',
      },
      headers: { etag: '"3"' },
    });
  });
});

describe('describeHosts', () => {
  it('shows the hosts of a connection string without credentials or options', () => {
    expect(describeHosts('mongodb://u:p@db1:27017,db2:27018/orders?replicaSet=rs0')).toBe('db1:27017,db2:27018');
    expect(describeHosts('mongodb+srv://cluster0.example.net/?retryWrites=true')).toBe('cluster0.example.net');
  });
});
