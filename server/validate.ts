import type { z } from 'zod';
import { badRequest } from '../core/problems.ts';

// Parses request input against a zod schema; a mismatch is a 400 naming each bad field.
export function validate<S extends z.ZodType>(schema: S, input: unknown, what = 'request'): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw badRequest(
    `The ${what} is not valid.`,
    result.error.issues.map((issue) => ({ path: issue.path.join('.') || '(root)', message: issue.message })),
  );
}

/** Said in the OpenAPI description of each operation whose query goes through validateQuery. */
export const UNKNOWN_QUERY_PARAMETERS_REFUSED = 'Unknown query parameters are refused with 400 (a misspelt filter would otherwise be silently ignored).';

/**
 * Parses a query string against `schema`, first refusing with a 400 each parameter the schema does
 * not know: a misspelt filter (`?instock=true`) would otherwise be silently ignored, and the
 * answer (out-of-stock lines among them) would look like the one asked for.
 */
export function validateQuery<S extends z.ZodObject>(schema: S, query: Record<string, unknown>): z.output<S> {
  const unknown = Object.keys(query).filter((name) => !Object.hasOwn(schema.shape, name));
  if (unknown.length > 0) {
    throw badRequest('The query is not valid.', unknown.map((name) => ({ path: name, message: 'Unknown query parameter' })));
  }
  return validate(schema, query, 'query');
}

/** PostgreSQL text cannot hold NUL, so text fields refuse it (a 400) with `.refine(...withoutNul)` instead of failing the query (a 500). */
export const withoutNul = [(text: string) => !text.includes('\0'), 'must not contain NUL characters'] as const;
