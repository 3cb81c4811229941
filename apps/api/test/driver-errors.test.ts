import { describe, expect, it } from 'vitest';
import {
  MongoNetworkError,
  MongoNetworkTimeoutError,
  MongoNotConnectedError,
  MongoOperationTimeoutError,
  MongoServerError,
  MongoTopologyClosedError,
} from 'mongodb';
import { ErrorCode, ResyncReason } from '@orders/contracts';
import { errorCode, isDatabaseUnavailable, positionFailure } from '../src/driver-errors.js';
import { mapError } from '../src/error-handler.js';

function serverError(code: number, labels: string[] = []): MongoServerError {
  const error = new MongoServerError({ code, errmsg: `server error ${code}` });
  for (const label of labels) error.addErrorLabel(label);
  return error;
}

const unavailable: [string, unknown][] = [
  ['a network error', new MongoNetworkError('socket closed')],
  ['a network timeout', new MongoNetworkTimeoutError('timed out')],
  // A real MongoServerSelectionError is covered in units.test.ts (its constructor is internal to the driver).
  ['a failed server selection, by name', Object.assign(new Error('no server'), { name: 'MongoServerSelectionError' })],
  ['a client that is not connected', new MongoNotConnectedError('not connected')],
  ['a closed topology', new MongoTopologyClosedError()],
  ['an operation timeout', new MongoOperationTimeoutError('timed out')],
  ['a shutdown answer (11600)', serverError(11600)],
  ['a not-primary answer (10107)', serverError(10107)],
  ['a resumable change-stream error', serverError(6, ['ResumableChangeStreamError'])],
  ['the same class by name only', Object.assign(new Error('gone'), { name: 'MongoNetworkError' })],
  ['a refused connection from a plain error', new Error('connect ECONNREFUSED 127.0.0.1:27017')],
];

const requestErrors: [string, unknown][] = [
  ['a duplicate key', serverError(11000)],
  ['a history-lost answer', serverError(286)],
  ['an internal error', serverError(8000)],
  ['a bug', new TypeError('x is not a function')],
  ['a thrown string', 'ECONNREFUSED'],
  ['nothing', undefined],
];

describe('driver error classification (one module for REST and the feed)', () => {
  it.each(unavailable)('reads %s as "database unavailable": REST answers 503', (_name, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
    expect(mapError(error).body).toMatchObject({ statusCode: 503, code: ErrorCode.DatabaseUnavailable });
    expect(mapError(error).headers).toEqual({ 'retry-after': '1' });
  });

  it.each(requestErrors)('reads %s as an error of the request, not of the connection', (_name, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false);
    expect(mapError(error).body.statusCode).not.toBe(503);
  });

  it('tells the reason a client resyncs from a failure at its position, and nothing for other failures', () => {
    expect(positionFailure(serverError(286))).toBe(ResyncReason.HistoryLost);
    for (const code of [260, 280, 40647, 50811]) {
      expect(positionFailure(serverError(code))).toBe(ResyncReason.UnknownPosition);
    }
    expect(positionFailure(new MongoNetworkError('socket closed'))).toBeNull();
    expect(positionFailure(serverError(11600))).toBeNull();
    expect(positionFailure('286')).toBeNull();
  });

  it('reads numeric server codes only', () => {
    expect(errorCode(serverError(48))).toBe(48);
    expect(errorCode(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBeNull();
    expect(errorCode(null)).toBeNull();
  });
});
