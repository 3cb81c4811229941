import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify';
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import { Value } from '@sinclair/typebox/value';

/**
 * Validates requests with TypeBox's compiled checker instead of Fastify's default Ajv setup, because Ajv there
 * strips unknown properties (`removeAdditional`) and coerces body types (`"id": "200"` would become 200).
 * Here the body is checked exactly as sent: unknown fields, `$`-prefixed keys and wrong types are refused.
 * Querystring, params and headers arrive as strings, so they are converted to the schema's types first and
 * get their defaults. Each failure names the property path that failed (`/status`, `/limit`, `/id`).
 */
export const typeBoxValidatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const checker = TypeCompiler.Compile(schema);
  const convert = httpPart !== 'body';
  return (input: unknown) => {
    const value = convert ? Value.Default(schema, strictConvert(schema, input)) : input;
    if (checker.Check(value)) return { value };
    const first = checker.Errors(value).First();
    const error: FastifySchemaValidationError = {
      keyword: first === undefined ? 'type' : ValueErrorType[first.type],
      instancePath: first?.path ?? '',
      schemaPath: '',
      params: {},
      message: first === undefined ? 'is invalid' : describe(first),
    };
    return { error: [error] };
  };
};

/**
 * `Value.Convert`, except that a string only becomes a number if it is that number's exact spelling:
 * TypeBox would turn "1.5" into the integer 1, so `/orders/1.5` would silently address order 1.
 */
function strictConvert(schema: TSchema, input: unknown): unknown {
  // Convert works in place on objects, so keep the raw strings first.
  const original: Record<string, unknown> = input !== null && typeof input === 'object' ? { ...input } : {};
  const converted: unknown = Value.Convert(schema, input);
  if (converted === null || typeof converted !== 'object') return converted;
  const result = converted as Record<string, unknown>;
  for (const key of Object.keys(result)) {
    const before = original[key];
    if (typeof before === 'string' && typeof result[key] === 'number' && String(result[key]) !== before)
      result[key] = before;
  }
  return result;
}

function describe(error: ValueError): string {
  switch (error.type) {
    case ValueErrorType.ObjectAdditionalProperties:
      return 'is not an accepted field';
    case ValueErrorType.ObjectRequiredProperty:
      return 'is required';
    case ValueErrorType.Union: {
      const literals = literalChoices(error.schema);
      return literals === null ? 'does not match any accepted form' : `must be one of ${literals.join(', ')}`;
    }
    case ValueErrorType.StringPattern:
      return 'must contain a non-blank character';
    default:
      return lowerFirst(error.message);
  }
}

/** The literal values a union accepts (the status enum, also inside `status | status[]`); null if none. */
function literalChoices(schema: TSchema): string[] | null {
  const choices = new Set<string>();
  const visit = (node: unknown, depth: number): void => {
    if (depth > 3 || node === null || typeof node !== 'object') return;
    const { const: constant, anyOf, items } = node as { const?: unknown; anyOf?: unknown; items?: unknown };
    if (typeof constant === 'string') choices.add(constant);
    if (Array.isArray(anyOf)) for (const member of anyOf) visit(member, depth + 1);
    visit(items, depth + 1);
  };
  visit(schema, 0);
  return choices.size > 0 ? [...choices] : null;
}

function lowerFirst(text: string): string {
  return text.length === 0 ? text : text[0]!.toLowerCase() + text.slice(1);
}
