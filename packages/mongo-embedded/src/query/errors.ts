/** A document as the engine holds it: the output of `BSON.deserialize(..., { promoteValues: false })`. */
export type Doc = Record<string, unknown>;

/** A MongoDB server error: becomes `{ ok: 0, code, codeName, errmsg }` or a writeErrors entry. */
export class MongoServerError extends Error {
  readonly code: number;
  readonly codeName: string;
  readonly extra: Doc | undefined;

  constructor(code: number, codeName: string, message: string, extra?: Doc) {
    super(message);
    this.name = 'MongoServerError';
    this.code = code;
    this.codeName = codeName;
    this.extra = extra;
  }
}

export function badValue(message: string): MongoServerError {
  return new MongoServerError(2, 'BadValue', message);
}

export function failedToParse(message: string): MongoServerError {
  return new MongoServerError(9, 'FailedToParse', message);
}

export function typeMismatch(message: string): MongoServerError {
  return new MongoServerError(14, 'TypeMismatch', message);
}

/** Numeric-only server assertions carry the codeName `Location<code>`. */
export function location(code: number, message: string): MongoServerError {
  return new MongoServerError(code, `Location${code}`, message);
}
