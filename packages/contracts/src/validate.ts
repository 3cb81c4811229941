import { FormatRegistry } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import type { TSchema, Static } from '@sinclair/typebox';
import { ClientMessageSchema, ServerMessageSchema, type ClientMessage, type ServerMessage } from './protocol.js';
import { OrderSchema, type Order } from './order.js';
import { findInvalidText } from './text.js';
import { searchProblem } from './search.js';

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;
if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set('date-time', (value) => ISO_DATE_TIME.test(value) && !Number.isNaN(Date.parse(value)));
}

/** The result of checking an untrusted value against a schema. */
export type Checked<T> = { ok: true; value: T } | { ok: false; error: string };

/** A compiled checker: fast, and reports the first failing path. */
export interface Validator<T> {
  check(value: unknown): value is T;
  validate(value: unknown): Checked<T>;
}

/**
 * The dashboard runs under a Content-Security-Policy without 'unsafe-eval' (see docs/ARCHITECTURE.md, "Abuse
 * limits"), which forbids the code generation TypeCompiler uses: in a page, checks are interpreted instead (same
 * schema, same answers, slower, and a browser checks only its own socket's frames). Even a try-and-fall-back would
 * report a CSP violation, so the choice is made up front.
 */
const generatedCodeAllowed = typeof (globalThis as { document?: unknown }).document === 'undefined';

/** TypeCompiler's checker, or the interpreted one (Value.Check/Value.Errors) where code generation is forbidden. */
function checkerFor<S extends TSchema>(schema: S): Pick<TypeCheck<S>, 'Check' | 'Errors'> {
  if (generatedCodeAllowed) return TypeCompiler.Compile(schema);
  return {
    Check: (value: unknown): value is Static<S> => Value.Check(schema, value),
    Errors: (value: unknown) => Value.Errors(schema, value),
  };
}

function compile<S extends TSchema>(schema: S): Validator<Static<S>> {
  const checker = checkerFor(schema);
  return {
    check: (value): value is Static<S> => checker.Check(value),
    validate(value) {
      if (checker.Check(value)) return { ok: true, value };
      const first = checker.Errors(value).First();
      const path = first?.path ? first.path : '/';
      return { ok: false, error: `${path}: ${first?.message ?? 'invalid'}` };
    },
  };
}

export const serverMessageValidator: Validator<ServerMessage> = compile(ServerMessageSchema);
export const clientMessageValidator: Validator<ClientMessage> = compile(ClientMessageSchema);
export const orderValidator: Validator<Order> = compile(OrderSchema);

/** Parses a text frame and validates it as a server→client message. */
export function parseServerMessage(text: string): Checked<ServerMessage> {
  return parseWith(serverMessageValidator, text);
}

/**
 * Parses a text frame and validates it as a client→server message. A string with a lone surrogate (`\ud800`
 * escaped) or a control character anywhere in the frame is refused like any other invalid frame.
 */
export function parseClientMessage(text: string): Checked<ClientMessage> {
  const parsed = parseWith(clientMessageValidator, text);
  if (!parsed.ok) return parsed;
  const invalid = findInvalidText(parsed.value);
  if (invalid !== null) {
    return { ok: false, error: `${invalid.path === '' ? '/' : invalid.path}: invalid text (${invalid.problem})` };
  }
  const search = parsed.value.filter?.q;
  const problem = search === undefined ? null : searchProblem(search);
  return problem === null ? parsed : { ok: false, error: `/filter/q: ${problem}` };
}

function parseWith<T>(validator: Validator<T>, text: string): Checked<T> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return { ok: false, error: 'frame is not valid JSON' };
  }
  return validator.validate(data);
}
