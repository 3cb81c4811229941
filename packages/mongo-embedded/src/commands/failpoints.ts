import { MongoServerError, type Doc } from '../query/index.js';
import { isDoc, toBool, toNumber } from './util.js';

/** Error codes for which mongod labels a failed retryable write `RetryableWriteError`. */
export const RETRYABLE_WRITE_CODES = new Set([6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 134]);

interface FailPoint {
  data: Doc;
  /** Remaining activations for `{ times: n }`; null = unlimited. */
  remaining: number | null;
  /** Matching invocations still to let through for `{ skip: n }`. */
  skip: number;
}

/** What a triggered failCommand asks the dispatcher to do. */
export interface FailAction {
  blockMs: number;
  closeConnection: boolean;
  error: MongoServerError | null;
  errorLabels: string[] | null;
  writeConcernError: Doc | null;
}

const SUPPORTED = new Set(['failCommand', 'failGetMoreAfterCursorCheckout']);

/** Test fault injection, as mongod's `configureFailPoint` (enabled by `enableTestCommands`). */
export class FailPoints {
  private readonly points = new Map<string, FailPoint>();

  /** Handles `{ configureFailPoint, mode, data }`; returns the reply payload. */
  configure(body: Doc): Doc {
    const name = body.configureFailPoint;
    if (typeof name !== 'string' || !SUPPORTED.has(name)) {
      throw new MongoServerError(2, 'BadValue', `Cannot find failpoint: ${String(name)}`);
    }
    const mode = body.mode;
    const data = isDoc(body.data) ? body.data : {};
    const previous = this.points.has(name) ? 1 : 0;
    if (mode === 'off') {
      this.points.delete(name);
    } else if (mode === 'alwaysOn') {
      this.points.set(name, { data, remaining: null, skip: 0 });
    } else if (isDoc(mode) && mode.times !== undefined) {
      const times = toNumber(mode.times);
      if (times === undefined || times < 0)
        throw new MongoServerError(2, 'BadValue', "'times' must be a non-negative number");
      if (times === 0) this.points.delete(name);
      else this.points.set(name, { data, remaining: Math.trunc(times), skip: 0 });
    } else if (isDoc(mode) && mode.skip !== undefined) {
      const skip = toNumber(mode.skip);
      if (skip === undefined || skip < 0)
        throw new MongoServerError(2, 'BadValue', "'skip' must be a non-negative number");
      this.points.set(name, { data, remaining: null, skip: Math.trunc(skip) });
    } else {
      throw new MongoServerError(2, 'BadValue', `unknown failpoint mode: ${JSON.stringify(mode)}`);
    }
    return { count: previous };
  }

  clear(): void {
    this.points.clear();
  }

  /** Consults `failCommand` for a command; returns the action to take, or null. */
  failCommand(commandName: string, appName: string | undefined, isRetryableWrite: boolean): FailAction | null {
    const fp = this.points.get('failCommand');
    if (!fp) return null;
    const commands = fp.data.failCommands;
    if (!Array.isArray(commands) || !commands.includes(commandName)) return null;
    if (typeof fp.data.appName === 'string' && fp.data.appName !== appName) return null;
    if (!this.consume('failCommand', fp)) return null;
    const data = fp.data;
    const code = toNumber(data.errorCode);
    const labels = Array.isArray(data.errorLabels)
      ? data.errorLabels.filter((l): l is string => typeof l === 'string')
      : null;
    let errorLabels = labels;
    if (code !== undefined && !labels && isRetryableWrite && RETRYABLE_WRITE_CODES.has(code))
      errorLabels = ['RetryableWriteError'];
    return {
      blockMs: toBool(data.blockConnection) ? Math.max(0, toNumber(data.blockTimeMS) ?? 0) : 0,
      closeConnection: toBool(data.closeConnection),
      error:
        code !== undefined
          ? new MongoServerError(code, codeNameFor(code), `Failing command via 'failCommand' failpoint`)
          : null,
      errorLabels,
      writeConcernError: isDoc(data.writeConcernError) ? data.writeConcernError : null,
    };
  }

  /** Consults `failGetMoreAfterCursorCheckout`; returns the error a getMore must fail with, or null. */
  failGetMore(): MongoServerError | null {
    const fp = this.points.get('failGetMoreAfterCursorCheckout');
    if (!fp || !this.consume('failGetMoreAfterCursorCheckout', fp)) return null;
    const code = toNumber(fp.data.errorCode) ?? 11601;
    return new MongoServerError(
      code,
      codeNameFor(code),
      "Failing getMore via 'failGetMoreAfterCursorCheckout' failpoint",
    );
  }

  private consume(name: string, fp: FailPoint): boolean {
    if (fp.skip > 0) {
      fp.skip--;
      return false;
    }
    if (fp.remaining !== null) {
      fp.remaining--;
      if (fp.remaining <= 0) this.points.delete(name);
    }
    return true;
  }
}

const CODE_NAMES: Record<number, string> = {
  1: 'InternalError',
  2: 'BadValue',
  6: 'HostUnreachable',
  7: 'HostNotFound',
  11: 'UserNotFound',
  13: 'Unauthorized',
  20: 'IllegalOperation',
  43: 'CursorNotFound',
  50: 'MaxTimeMSExpired',
  89: 'NetworkTimeout',
  91: 'ShutdownInProgress',
  112: 'WriteConflict',
  134: 'ReadConcernMajorityNotAvailableYet',
  189: 'PrimarySteppedDown',
  237: 'CursorKilled',
  262: 'ExceededTimeLimit',
  280: 'ChangeStreamFatalError',
  286: 'ChangeStreamHistoryLost',
  9001: 'SocketException',
  10107: 'NotWritablePrimary',
  11000: 'DuplicateKey',
  11600: 'InterruptedAtShutdown',
  11601: 'Interrupted',
  11602: 'InterruptedDueToReplStateChange',
  13435: 'NotPrimaryNoSecondaryOk',
  13436: 'NotPrimaryOrSecondary',
};

/** The codeName mongod reports for a code (`Location<code>` for numeric-only assertions). */
export function codeNameFor(code: number): string {
  return CODE_NAMES[code] ?? `Location${code}`;
}
