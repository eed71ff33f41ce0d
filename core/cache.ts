import type { Redis } from 'ioredis';
import type { Logger } from './logger.ts';
import type { Services } from './services.ts';

// A small JSON cache: Redis when configured (shared by every process; ioredis adds the key
// prefix), else a bounded in-process LRU map (right for one development process only).
// A cache must never fail a request: a Redis error is logged and treated as a miss.

export interface JsonCache {
  /** The cached values, `undefined` for each miss. Never throws. */
  getMany(keys: readonly string[]): Promise<unknown[]>;
  /** Stores `value` for `ttlSeconds`, or until evicted when no TTL is given. Never throws. */
  set(key: string, value: unknown, ttlSeconds?: number): Promise<void>;
}

type CacheServices = Pick<Services, 'redis' | 'log'>;
const caches = new WeakMap<CacheServices, JsonCache>();

/** The cache for this set of services: one per process, so the memory fallback is shared too. */
export function cacheFor(services: CacheServices): JsonCache {
  let cache = caches.get(services);
  if (!cache) {
    cache = services.redis ? redisCache(services.redis, services.log) : memoryCache(MEMORY_MAX_ENTRIES);
    caches.set(services, cache);
  }
  return cache;
}

const MEMORY_MAX_ENTRIES = 10_000;

function redisCache(redis: Redis, log: Logger): JsonCache {
  return {
    async getMany(keys) {
      try {
        return (await redis.mget(...keys)).map((text) => (text === null ? undefined : JSON.parse(text)));
      } catch (error) {
        log.warn({ err: error }, 'cache read failed; treating it as a miss');
        return keys.map(() => undefined);
      }
    },
    async set(key, value, ttlSeconds) {
      const text = JSON.stringify(value);
      try {
        await (ttlSeconds === undefined ? redis.set(key, text) : redis.set(key, text, 'EX', ttlSeconds));
      } catch (error) {
        log.warn({ err: error }, 'cache write failed');
      }
    },
  };
}

function memoryCache(maxEntries: number): JsonCache {
  // A Map iterates in insertion order, so re-inserting on every read keeps the least recently
  // used entry first, which is the one evicted when the map is full.
  const entries = new Map<string, { value: unknown; expiresAt: number }>();
  const get = (key: string) => {
    const entry = entries.get(key);
    if (!entry) return undefined;
    entries.delete(key);
    if (entry.expiresAt <= Date.now()) return undefined;
    entries.set(key, entry);
    return entry.value;
  };
  return {
    async getMany(keys) {
      return keys.map(get);
    },
    async set(key, value, ttlSeconds) {
      entries.delete(key);
      // A JSON round trip, so callers get a copy exactly as Redis would hand it back.
      entries.set(key, { value: JSON.parse(JSON.stringify(value)), expiresAt: ttlSeconds === undefined ? Infinity : Date.now() + ttlSeconds * 1000 });
      if (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
    },
  };
}
