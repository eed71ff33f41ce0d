import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { cacheFor, type JsonCache } from '../cache.ts';
import type { Logger } from '../logger.ts';
import type { Services } from '../services.ts';

// Answers derived from the catalog (suggestions, search pages) are cached tagged with the
// catalog version, so one bump after a product change makes all of them stale at once, in every
// process sharing the Redis.
//
// With Redis, each process also keeps a near copy of the version and of the answers it read, so
// a repeated answer costs no Redis round trip (that round trip was most of a cached suggestion's
// CPU). A bump is announced on a pub/sub channel and every process drops its copy of the version
// when it hears it; a copy is also never older than CATALOG_NEAR_COPY_MS, which bounds how long a lost
// announcement (while the subscriber reconnects) or an expired Redis entry can go unnoticed.

const VERSION_KEY = 'catalog:version';
// Before the first bump there is no version yet; answers cached then carry this one.
const INITIAL_VERSION = 'initial';
// Channel names are not keys, so ioredis does not prefix them; catalogs under another key prefix
// have a channel of their own.
const BUMP_CHANNEL = 'catalog:version-bumped';
const NEAR_MAX_ANSWERS = 1000;

interface Tagged<T> {
  version: string;
  value: T;
}

/** What this process knows without a round trip: the catalog version and answers read recently. */
interface NearCache {
  /** The current catalog version, or null when it cannot be read (then nothing is cached). */
  version(): Promise<string | null>;
  get(key: string, version: string): unknown;
  set(key: string, answer: Tagged<unknown>): void;
  /** A bump was made or announced: the version must be read again. */
  dropVersion(): void;
}

/**
 * The cached answer for `key` if it was computed at the current version, else `compute()` (then
 * cached). Callers must treat the answer as read-only: one object serves many requests.
 */
export async function cachedForCatalog<T>(services: Services, key: string, ttlSeconds: number, compute: () => Promise<T>): Promise<T> {
  const cache = cacheFor(services);
  const near = nearCacheFor(services, cache);
  const version = await near.version();
  if (version === null) return compute();
  const nearAnswer = near.get(key, version);
  if (nearAnswer !== undefined) return nearAnswer as T;
  const [cached] = await cache.getMany([key]);
  const answer = cached as Tagged<T> | undefined;
  if (answer?.version === version) {
    near.set(key, answer);
    return answer.value;
  }
  // The version was read before computing, so an answer computed while a product changes is
  // tagged with the old version and is not served once the change bumps it.
  const value = await compute();
  await cache.set(key, { version, value } satisfies Tagged<T>, ttlSeconds);
  return value;
}

/**
 * Call once a change to products has committed (create, rename, delete, re-seed): every cached
 * answer becomes stale at once, in this process now and in the others when they hear of it
 * (at most CATALOG_NEAR_COPY_MS later). Without Redis it is this process only.
 */
export async function bumpCatalogVersion(services: Pick<Services, 'redis' | 'log'>): Promise<void> {
  // A fresh random version, not a counter, so an old version cannot come back and revive the
  // answers cached under it (a counter would restart if its key were ever lost).
  await cacheFor(services).set(VERSION_KEY, randomUUID());
  if (!services.redis) return;
  nearCaches.get(services.redis)?.dropVersion();
  try {
    await services.redis.publish(bumpChannel(services.redis), '');
  } catch (error) {
    services.log.warn({ err: error }, 'catalog version bump not announced; other processes notice it within a second');
  }
}

const nearCaches = new WeakMap<Redis, NearCache>();
const memoryNearCaches = new WeakMap<JsonCache, NearCache>();

function nearCacheFor(services: Pick<Services, 'redis' | 'log' | 'config'>, cache: JsonCache): NearCache {
  const { redis } = services;
  if (!redis) {
    let near = memoryNearCaches.get(cache);
    if (!near) memoryNearCaches.set(cache, (near = memoryVersionOnly(cache)));
    return near;
  }
  let near = nearCaches.get(redis);
  if (!near) nearCaches.set(redis, (near = redisNearCache(redis, services.log, services.config.CATALOG_NEAR_COPY_MS)));
  return near;
}

const bumpChannel = (redis: Redis) => `${redis.options.keyPrefix ?? ''}${BUMP_CHANNEL}`;

/** Without Redis the cache itself is in this process: no copies, the version is read from it. */
function memoryVersionOnly(cache: JsonCache): NearCache {
  return {
    async version() {
      const [stored] = await cache.getMany([VERSION_KEY]);
      return typeof stored === 'string' ? stored : INITIAL_VERSION;
    },
    get: () => undefined,
    set() {},
    dropVersion() {},
  };
}

/** `nearCopyMs`: the longest a copy of the version or of an answer is served without asking Redis. */
function redisNearCache(redis: Redis, log: Logger, nearCopyMs: number): NearCache {
  let copy: { version: string; readAt: number } | null = null;
  // Concurrent requests share one read of the version.
  let reading: Promise<string | null> | null = null;
  // Bumped on every drop, so a read that was in flight during a bump does not store its answer.
  let generation = 0;
  // Oldest first: an entry lives a second at most, so evicting the oldest is as good as LRU.
  const answers = new Map<string, { answer: Tagged<unknown>; readAt: number }>();

  const dropVersion = () => {
    copy = null;
    reading = null;
    generation += 1;
  };
  // Its own connection: a subscribed connection can run no other command.
  const subscriber = redis.duplicate({ lazyConnect: false, enableOfflineQueue: true, enableAutoPipelining: false, maxRetriesPerRequest: null });
  subscriber.on('error', (error) => log.warn({ err: error }, 'catalog version subscriber error'));
  // A message, or a (re)connection after which messages may have been missed.
  for (const event of ['message', 'ready', 'close']) subscriber.on(event, dropVersion);
  subscriber.subscribe(bumpChannel(redis)).catch((error) => log.warn({ err: error }, 'catalog version subscribe failed'));
  redis.once('end', () => subscriber.disconnect());

  const readVersion = async (): Promise<string | null> => {
    const started = generation;
    try {
      const stored = await redis.get(VERSION_KEY);
      const parsed: unknown = stored === null ? null : JSON.parse(stored);
      const version = typeof parsed === 'string' ? parsed : INITIAL_VERSION;
      // Only while announcements can reach us is a copy worth keeping.
      if (generation === started && subscriber.status === 'ready') copy = { version, readAt: Date.now() };
      return version;
    } catch (error) {
      log.warn({ err: error }, 'catalog version read failed; answering without the cache');
      return null;
    } finally {
      if (generation === started) reading = null;
    }
  };

  return {
    version() {
      if (copy && Date.now() - copy.readAt < nearCopyMs) return Promise.resolve(copy.version);
      return (reading ??= readVersion());
    },
    get(key, version) {
      const entry = answers.get(key);
      if (!entry || entry.answer.version !== version || Date.now() - entry.readAt >= nearCopyMs) return undefined;
      return entry.answer.value;
    },
    set(key, answer) {
      answers.delete(key);
      answers.set(key, { answer, readAt: Date.now() });
      if (answers.size > NEAR_MAX_ANSWERS) answers.delete(answers.keys().next().value!);
    },
    dropVersion,
  };
}
