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
