import { MongoServerError } from '../query/index.js';

/** The engine error a synchronous query-layer call throws; fails the test if it returned or threw anything else. */
export function serverErrorThrownBy(fn: () => unknown): MongoServerError {
  try {
    fn();
  } catch (e) {
    if (e instanceof MongoServerError) return e;
    throw e;
  }
  throw new Error('expected a MongoServerError');
}
