import { Redis } from 'ioredis';
import type { Logger } from './logger.ts';

// Redis is optional: without REDIS_URL the suggestion and search-result caches and the rate-limit
// counters live in process memory, which is right for one development process and wrong for a cluster.
export function connectRedis(url: string | undefined, keyPrefix: string, log: Logger): Redis | null {
  if (!url) {
    log.warn('REDIS_URL is not set: suggestion cache and rate limits are kept in process memory (one process only)');
    return null;
  }
  const redis = new Redis(url, {
    keyPrefix,
    // Fail a command fast when Redis is down instead of queueing it behind reconnects, so a
    // request degrades (cache miss) or answers 503 rather than hanging.
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    lazyConnect: true,
    // Commands issued in the same event-loop turn by concurrent requests (rate-limit counts,
    // cache reads) go out in one write and their replies come back in one read; a socket write
    // per command was the largest share of a cached suggestion's CPU.
    enableAutoPipelining: true,
  });
  redis.on('error', (error) => log.warn({ err: error }, 'redis error'));
  return redis;
}
