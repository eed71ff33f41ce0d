import Router from '@koa/router';
import type { Context } from 'koa';
import { SUGGESTION_LIMIT, suggestTitles, type Suggestion as SuggestionRecord } from '../../core/catalog/suggest.ts';
import type { Services } from '../../core/services.ts';
import { optionalUser } from '../middleware/auth.ts';
import { clientNetwork, rateLimit } from '../middleware/rate-limit.ts';
import { bearerAuth, json, problemResponses, rateLimitHeaders, registry, z } from '../openapi.ts';
import { UNKNOWN_QUERY_PARAMETERS_REFUSED, validateQuery, withoutNul } from '../validate.ts';

const SuggestQuery = z.object({
  q: z
    .string()
    .trim()
    .min(1)
    .max(64)
    .refine(...withoutNul)
    .openapi({ description: 'What has been typed so far (1–64 characters after trimming)', example: 'app' }),
});
const Suggestion = z.object({ id: z.number().int(), title: z.string() }).openapi('Suggestion');
const SuggestResponse = z.object({ q: z.string(), suggestions: z.array(Suggestion).max(SUGGESTION_LIMIT) });

registry.registerPath({
  method: 'get',
  path: '/api/search/suggest/',
  summary: 'Autocomplete product titles',
  description:
    'At most 10 products whose title, or a word in it, starts with `q` (case-insensitive; with several words in `q`, ' +
    'consecutive title words start with them): whole-title matches first (alphabetical), then word matches (by id). ' +
    'Punctuation in `q` is matched literally: against the start of the title, and within a word of `q` against the ' +
    'start of a title word (`c++` finds "C++ Primer", not "Cable"). Cached until the ' +
    'catalog changes. Rate limited per user when a valid Bearer token is sent, else per ' +
    'client IP; every answer carries RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset while the counters (Redis) ' +
    `can be reached; when they cannot, suggestions are served uncounted, without them. ${UNKNOWN_QUERY_PARAMETERS_REFUSED}`,
  tags: ['Search'],
  security: [{}, { [bearerAuth.name]: [] }],
  request: { query: SuggestQuery },
  responses: {
    200: { description: 'Suggestions, best first', headers: rateLimitHeaders, ...json(SuggestResponse) },
    ...problemResponses(400, 429, 503),
  },
});

export function suggestRoutes(services: Services): Router {
  const router = new Router();
  const limit = rateLimit({
    name: 'suggest',
    max: services.config.SUGGEST_RATE_LIMIT_PER_MINUTE,
    durationMs: 60_000,
    // A signed-in user gets their own bucket wherever they connect from; an invalid token is
    // treated as no token, so it cannot be used to escape the IP's bucket.
    key: (ctx: Context) => {
      const user = optionalUser(ctx, services.jwtSecret);
      return user ? `user:${user.userId}` : `ip:${clientNetwork(ctx.ip)}`;
    },
    redis: services.redis,
    log: services.log,
    // Autocomplete is a convenience: if Redis fails, serve it uncounted rather than fail it.
    whenStoreFails: 'allow',
  });

  router.get('/api/search/suggest/', limit, async (ctx) => {
    const { q } = validateQuery(SuggestQuery, ctx.query);
    ctx.type = 'json';
    ctx.body = `{"q":${JSON.stringify(q)},"suggestions":${suggestionsJson(await suggestTitles(services, q))}}`;
  });

  return router;
}

// A cache hit hands out the same array for as long as the near cache keeps it (a second), to
// request after request, so its JSON is made once and kept with it rather than made for every
// request: 48-49% of the bare route's rate against 41-45% (BENCHMARKS.md, suggestions).
const serialized = new WeakMap<readonly SuggestionRecord[], string>();

function suggestionsJson(suggestions: readonly SuggestionRecord[]): string {
  let json = serialized.get(suggestions);
  if (json === undefined) serialized.set(suggestions, (json = JSON.stringify(suggestions)));
  return json;
}
