import { randomUUID } from 'node:crypto';
import { cacheFor } from '../cache.ts';
import type { Services } from '../services.ts';

// Answers derived from the catalog (suggestions, search pages) are cached tagged with the
// catalog version, so one bump after a product change makes all of them stale at once, in every
// process sharing the Redis. A hit is one round trip: the version and the answer are read together.

const VERSION_KEY = 'catalog:version';
// Before the first bump there is no version yet; answers cached then carry this one.
const INITIAL_VERSION = 'initial';

interface Tagged<T> {
  version: string;
  value: T;
}

/** The cached answer for `key` if it was computed at the current version, else `compute()` (then cached). */
export async function cachedForCatalog<T>(services: Services, key: string, ttlSeconds: number, compute: () => Promise<T>): Promise<T> {
  const cache = cacheFor(services);
  const [storedVersion, cached] = await cache.getMany([VERSION_KEY, key]);
  const version = typeof storedVersion === 'string' ? storedVersion : INITIAL_VERSION;
  const answer = cached as Tagged<T> | undefined;
  if (answer?.version === version) return answer.value;
  // The version was read before computing, so an answer computed while a product changes is
  // tagged with the old version and is not served once the change bumps it.
  const value = await compute();
  await cache.set(key, { version, value } satisfies Tagged<T>, ttlSeconds);
  return value;
}

/**
 * Call once a change to products has committed (create, rename, delete, re-seed): every cached
 * answer becomes stale at once. Without Redis it is this process only.
 */
export async function bumpCatalogVersion(services: Pick<Services, 'redis' | 'log'>): Promise<void> {
  // A fresh random version, not a counter, so an old version cannot come back and revive the
  // answers cached under it (a counter would restart if its key were ever lost).
  await cacheFor(services).set(VERSION_KEY, randomUUID());
}
