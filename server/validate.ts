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

/** PostgreSQL text cannot hold NUL, so text fields refuse it (a 400) with `.refine(...withoutNul)` instead of failing the query (a 500). */
export const withoutNul = [(text: string) => !text.includes('\0'), 'must not contain NUL characters'] as const;
