import type { Context, Middleware } from 'koa';
import ipaddr from 'ipaddr.js';
import ratelimit from 'koa-ratelimit';
import type { Redis } from 'ioredis';
import type { Logger } from '../../core/logger.ts';
import { unavailable } from '../../core/problems.ts';

interface Options {
  /** Namespaces the counters, e.g. "suggest" or "login-ip". */
  name: string;
  max: number;
  durationMs: number;
  /** The bucket a request counts against; false exempts it. */
  key: (ctx: Context) => string | false | Promise<string | false>;
  /** Shared counters across processes; null keeps them in this process's memory. */
  redis: Redis | null;
  log: Logger;
  /**
   * What to do when the counter store (Redis) fails: 'allow' serves the request uncounted
   * (availability first, e.g. autocomplete); 'refuse' answers 503 with Retry-After (e.g. login,
   * where an unlimited window would invite password guessing).
   */
  whenStoreFails: 'allow' | 'refuse';
}

const RESET = 'RateLimit-Reset';
const REMAINING = 'RateLimit-Remaining';
const LIMIT = 'RateLimit-Limit';

/**
 * The Map koa-ratelimit's memory store counts in (no Redis). The store keeps a counter for every
 * client it ever saw, so each window the counters whose window is over are dropped: the limiter
 * would start them afresh anyway (`reset` is when the window ends, in seconds).
 */
export function memoryCounters(durationMs: number): Map<string, { reset?: number }> {
  const counters = new Map<string, { reset?: number }>();
  setInterval(() => {
    const now = Date.now() / 1000;
    for (const [key, counter] of counters) if (counter.reset !== undefined && counter.reset < now) counters.delete(key);
  }, durationMs).unref();
  return counters;
}

/**
 * The bucket of a client address: an IPv4 address is one client, an IPv6 address is its /64
 * network. A home or a server gets a whole /64 from its provider and may use any of its 2^64
 * addresses, so counting each address alone would limit nobody.
 */
export function clientNetwork(ip: string): string {
  const withoutZone = ip.split('%')[0]!; // fe80::1%eth0
  if (!ipaddr.isValid(withoutZone)) return ip;
  // process() reads an IPv4-mapped IPv6 address, in any spelling, as the IPv4 client it is.
  const address = ipaddr.process(withoutZone);
  if (address.kind() === 'ipv4') return address.toString();
  return `${(address as ipaddr.IPv6).parts.slice(0, 4).map((part) => part.toString(16)).join(':')}::/64`;
}

/**
 * Whole seconds from now until the window surely ends, for RateLimit-Reset and Retry-After.
 * koa-ratelimit gives the reset as a Unix time in seconds, which the Redis store has rounded down
 * (the window ends up to a second after it), and its own Retry-After truncates that again: a
 * client that waited exactly as told was refused once more. Rounded up from the end of the
 * reset's second instead: at most a second late, never early.
 */
function secondsUntil(epochSeconds: unknown): number {
  return Math.max(0, Math.ceil(Math.floor(Number(epochSeconds)) + 1 - Date.now() / 1000));
}

// koa-ratelimit with our conventions: IETF RateLimit-* header names, and a thrown 429 that the
// problem+json middleware renders (it carries Retry-After).
export function rateLimit(options: Options): Middleware {
  const storage = options.redis ? { driver: 'redis' as const, db: options.redis } : { driver: 'memory' as const, db: memoryCounters(options.durationMs) };
  const limiter = ratelimit({
    ...storage,
    duration: options.durationMs,
    max: options.max,
    // koa-ratelimit's id callback is synchronous, so an async key is resolved first, below.
    id: (ctx) => ctx.state.rateLimitKey as string,
    headers: { remaining: REMAINING, reset: RESET, total: LIMIT },
    throw: true,
    errorMessage: 'Too many requests; retry after the number of seconds in Retry-After.',
  });
  return async (ctx, next) => {
    const key = await options.key(ctx);
    if (key === false) return next();
    ctx.state.rateLimitKey = `${options.name}:${key}`;
    let counted = false;
    // A request counted by two limiters (login: per IP, then per username) answers with the
    // tighter bucket's headers, which the second limiter would otherwise overwrite.
    const earlier = { remaining: ctx.response.get(REMAINING), limit: ctx.response.get(LIMIT), reset: ctx.response.get(RESET) };
    try {
      await limiter(ctx, () => {
        counted = true;
        ctx.set(RESET, String(secondsUntil(ctx.response.get(RESET))));
        if (earlier.remaining !== '' && Number(earlier.remaining) < Number(ctx.response.get(REMAINING))) {
          ctx.set({ [REMAINING]: earlier.remaining, [LIMIT]: earlier.limit, [RESET]: earlier.reset });
        }
        return next();
      });
    } catch (error) {
      // Errors from downstream, and the limiter's own 429, pass through untouched.
      if (counted) throw error;
      const limited = error as { status?: number; headers?: Record<string, unknown> };
      if (limited.status === 429) {
        if (limited.headers) {
          const seconds = secondsUntil(limited.headers[RESET]);
          limited.headers[RESET] = String(seconds);
          limited.headers['Retry-After'] = String(Math.max(1, seconds));
        }
        throw error;
      }
      options.log.warn({ err: error, limiter: options.name }, 'rate-limit store failed');
      if (options.whenStoreFails === 'refuse') throw unavailable('Rate limiting is unavailable right now.');
      return next();
    }
  };
}
