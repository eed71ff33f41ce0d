import type { Context, Middleware } from 'koa';
import ratelimit from 'koa-ratelimit';
import type { Redis } from 'ioredis';

interface Options {
  /** Namespaces the counters, e.g. "suggest" or "login-ip". */
  name: string;
  max: number;
  durationMs: number;
  /** The bucket a request counts against; false exempts it. */
  key: (ctx: Context) => string | false | Promise<string | false>;
  /** Shared counters across processes; null keeps them in this process's memory. */
  redis: Redis | null;
}

// koa-ratelimit with our conventions: IETF RateLimit-* header names, and a thrown 429 that the
// problem+json middleware renders (it carries Retry-After).
export function rateLimit(options: Options): Middleware {
  const storage = options.redis ? { driver: 'redis' as const, db: options.redis } : { driver: 'memory' as const, db: new Map() };
  const limiter = ratelimit({
    ...storage,
    duration: options.durationMs,
    max: options.max,
    // koa-ratelimit's id callback is synchronous, so an async key is resolved first, below.
    id: (ctx) => ctx.state.rateLimitKey as string,
    headers: { remaining: 'RateLimit-Remaining', reset: 'RateLimit-Reset', total: 'RateLimit-Limit' },
    throw: true,
    errorMessage: 'Too many requests; retry after the number of seconds in Retry-After.',
  });
  return async (ctx, next) => {
    const key = await options.key(ctx);
    if (key === false) return next();
    ctx.state.rateLimitKey = `${options.name}:${key}`;
    return limiter(ctx, next);
  };
}
