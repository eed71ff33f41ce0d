import { z } from 'zod';

/** An optional setting for which an empty value (as `${NAME:-}` in docker-compose.yml gives) is unset. */
function emptyIsUnset<T extends z.ZodType>(schema: T) {
  return z.preprocess((value) => (value === '' ? undefined : value), schema.optional());
}

// Every setting the service reads from the environment, parsed once at start-up so a typo
// fails loudly here instead of deep inside a request. `.env.example` documents each one.
const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  // Worker and mailer processes serve GET /metrics on this port when it is set (they serve no
  // other HTTP); unset: they serve none. The web process's /metrics is on PORT.
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // Unset: `npm start` runs an embedded PostgreSQL under .data/ (development only).
  DATABASE_URL: z.string().optional(),
  DATABASE_POOL_MAX: z.coerce.number().int().positive().default(10),
  // Port for the embedded PostgreSQL; 5432 is usually a system server's.
  EMBEDDED_PG_PORT: z.coerce.number().int().positive().default(54329),
  // Unset: the suggestion and search-result caches and rate-limit counters live in process memory (one process only).
  REDIS_URL: z.string().optional(),
  // Prefix for every Redis key, so several deployments (or test runs) can share one Redis.
  REDIS_KEY_PREFIX: z.string().default('shop:'),
  // Required in production; in development a random secret is generated and kept in .data/.
  JWT_SECRET: z.string().min(32).optional(),
  ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().positive().default(15 * 60),
  REFRESH_TOKEN_TTL_SECONDS: z.coerce.number().int().positive().default(30 * 24 * 3600),
  // How long a product-search page may be served from the cache (it is also dropped when the
  // catalog version changes); pages that show stock live at most 5 s. 0 turns the cache off.
  SEARCH_CACHE_SECONDS: z.coerce.number().int().min(0).default(60),
  // With Redis, how long a process serves its own copy of the catalog version and of the answers
  // it read without asking Redis again. A catalog change reaches every process at once through
  // Redis pub/sub; this bounds how stale an answer can be when that announcement is lost.
  CATALOG_NEAR_COPY_MS: z.coerce.number().int().min(0).default(1000),
  SUGGEST_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().default(20),
  LOGIN_RATE_LIMIT_PER_15_MINUTES: z.coerce.number().int().positive().default(10),
  // Each registration hashes a password (argon2id, tens of ms of CPU) and creates an account.
  REGISTER_RATE_LIMIT_PER_HOUR: z.coerce.number().int().positive().default(20),
  // Unset (or empty): confirmation emails are
  // written to .data/mail/ instead of sent, which a mailer refuses in production
  // (workers/main.ts). Checked here so that a malformed URL (a password with an unescaped / or #)
  // is reported without its value: nodemailer's own error would carry the whole URL into the log.
  SMTP_URL: emptyIsUnset(z.url({ protocol: /^smtps?$/, error: 'must be an smtp:// or smtps:// URL, with the user and password percent-encoded' })),
  MAIL_FROM: z.string().default('Shop <orders@shop.local>'),
  // Largest JSON body a client may send; larger bodies get 413. In bytes, kb or mb: the parser
  // behind koa-body reads `1m` as 1 byte and a typo as no limit at all.
  BODY_LIMIT: z.string().regex(/^[1-9]\d*(b|kb|mb)?$/i, 'a size such as 100kb or 1mb').default('100kb'),
  // Proxy headers (X-Forwarded-For) are trusted only behind one known proxy, else clients could
  // pick their own rate-limit bucket; the client address is the entry that proxy appended.
  TRUST_PROXY: z.stringbool().default(false),
  // The service's public address (e.g. https://shop.example.com): page links (next/previous) are
  // built on it. Unset, they are built on the request's Host (X-Forwarded-Host/-Proto behind
  // TRUST_PROXY), which the client writes: a cache shared by clients could hand one client's
  // links to the others.
  // An origin only: the links keep the request's path, so a path prefix here would be dropped.
  PUBLIC_URL: emptyIsUnset(
    z.url({ protocol: /^https?$/ }).refine((url) => /^https?:\/\/[^/?#]+\/?$/.test(url), 'must be an origin (scheme, host and port), with no path, query or fragment'),
  ),
  // Turns one worker process runs at the same time (each holds a database connection while it
  // decides), and the most stores one turn decides together (core/orders/decide.ts).
  ORDER_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
  ORDER_TURN_STORES: z.coerce.number().int().min(1).max(100).default(25),
  // Order placements a web process commits at once; orders arriving meanwhile wait and are
  // placed together in the next transaction (core/orders/placement-batcher.ts).
  ORDER_PLACEMENT_TRANSACTIONS: z.coerce.number().int().min(1).max(64).default(2),
  // Most orders decided in one turn (one transaction), shared among its stores' lanes.
  ORDER_BATCH_SIZE: z.coerce.number().int().min(1).max(1000).default(200),
  // Products loaded by the catalog seed (db/seeds/01_catalog.ts); 1000000 for the search benchmark.
  SEED_PRODUCTS: z.coerce.number().int().positive().default(1200),
});

export type Config = z.infer<typeof envSchema>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid environment: ${problems.join('; ')}`);
  }
  if (parsed.data.NODE_ENV === 'production' && !parsed.data.JWT_SECRET) {
    throw new Error('JWT_SECRET must be set (32+ characters) when NODE_ENV=production');
  }
  return parsed.data;
}
