import { extendZodWithOpenApi, OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';

// The OpenAPI 3.1 document is generated from the same zod schemas the routes validate with, so
// the spec cannot drift from the code. Route modules register their paths at import time.
// Import `z` from here so the .openapi() extension is in place before any schema is built.
extendZodWithOpenApi(z);
export { z };

export const registry = new OpenAPIRegistry();

export const bearerAuth = registry.registerComponent('securitySchemes', 'bearerAuth', {
  type: 'http',
  scheme: 'bearer',
  bearerFormat: 'JWT',
});

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi('Problem');

const problemText: Record<number, string> = {
  400: 'Invalid input; `errors` names each bad field',
  401: 'Missing, invalid or expired token',
  403: 'Authenticated but not allowed',
  404: 'Unknown id',
  409: 'Conflict with the current state',
  413: 'Body too large',
  415: 'Body is not JSON',
  429: 'Rate limited; see Retry-After',
  503: 'A dependency is down; see Retry-After',
};

const header = (description: string, type: 'integer' | 'string' = 'integer') => ({ description, schema: { type } });
export const retryAfter = { 'Retry-After': header('Seconds to wait before trying again') };

/** The IETF RateLimit headers a rate-limited endpoint answers with (server/middleware/rate-limit.ts). */
export const rateLimitHeaders = {
  'RateLimit-Limit': header('Requests allowed per window'),
  'RateLimit-Remaining': header('Requests left in the current window'),
  'RateLimit-Reset': header('Seconds until the window ends'),
};

const problemHeaders: Partial<Record<keyof typeof problemText, Record<string, ReturnType<typeof header>>>> = {
  401: { 'WWW-Authenticate': header('`Bearer`', 'string') },
  429: { ...retryAfter, ...rateLimitHeaders },
  503: retryAfter,
};

/** OpenAPI `responses` entries for the problem+json errors an operation can return, with their headers. */
export function problemResponses(...statuses: (keyof typeof problemText)[]) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: problemText[status] ?? 'Error',
        ...(problemHeaders[status] ? { headers: problemHeaders[status] } : {}),
        content: { 'application/problem+json': { schema: ProblemSchema } },
      },
    ]),
  );
}

/**
 * A whole number written in plain decimal digits, as a query parameter. Number() alone would also
 * take "0x10", "1e1", " 5" or "1.0", and echo them back as other numbers in the page links.
 * At most 15 digits, so `max` is at most 999,999,999,999,999.
 */
const wholeNumber = (min: number, max: number, fallback: number, description: string) =>
  z
    .string()
    .regex(/^\d{1,15}$/, 'must be a whole number, in decimal digits')
    .transform(Number)
    .pipe(z.number().min(min).max(max))
    .default(fallback)
    .openapi({ type: 'integer', minimum: min, maximum: max, default: fallback, description });

/** Query parameters shared by every paginated list. */
export const PageQuery = z.object({
  page: wholeNumber(1, 999_999_999_999_999, 1, 'Page number, from 1'),
  page_size: wholeNumber(1, 100, 20, 'Items per page, at most 100'),
});

/** A JSON body of `schema`, as a response (or request) declares it. */
export const json = <T extends z.ZodType>(schema: T) => ({ content: { 'application/json': { schema } } });

/** The DRF-style page envelope around a list of `item`. */
export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({
    count: z.number().int(),
    next: z.string().nullable(),
    previous: z.string().nullable(),
    results: z.array(item),
  });
}

/** Money is a decimal string with two places, never a float. */
export const Money = z.string().regex(/^\d+\.\d{2}$/).openapi({ example: '49999.00' });

export function openApiDocument() {
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Shop API',
      version: '1.0.0',
      description: 'Multi-store shop backend: catalog search, suggestions, inventory and orders. Errors are RFC 9457 problem+json.',
    },
  });
}
