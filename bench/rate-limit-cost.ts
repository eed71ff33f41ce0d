// What one rate-limit check of koa-ratelimit's Redis store costs Redis, next to a plain GET:
// the share of a cached suggestion's cost that no change in this app can remove while the
// limiter asks Redis on every request (BENCHMARKS.md, suggestions).
//   REDIS_URL=redis://127.0.0.1:6379 node bench/rate-limit-cost.ts
// Redis must run on this machine: its CPU time is read from /proc (redis-server processes).
import { createRequire } from 'node:module';
import { Redis } from 'ioredis';
import { localServerCpuSeconds } from './orders-stack.ts';

const url = process.env.REDIS_URL;
if (!url) throw new Error('Set REDIS_URL to a Redis server on this machine, e.g. redis://127.0.0.1:6379');
// The limiter koa-ratelimit's `driver: 'redis'` creates for each request (async-ratelimiter).
const RedisLimiter = createRequire(import.meta.url)('koa-ratelimit/limiter/redis.js') as new (options: object) => { get(options?: object): Promise<unknown> };

const CALLS = 200_000;
const IN_FLIGHT = 32;
const prefix = `bench:rate-limit-cost:${process.pid}:`;
const redis = new Redis(url, { enableAutoPipelining: true, keyPrefix: prefix });
const redisCpuSeconds = () => localServerCpuSeconds('redis-server');

async function measure(name: string, call: (i: number) => Promise<unknown>): Promise<void> {
  const cpuBefore = redisCpuSeconds();
  const started = performance.now();
  for (let i = 0; i < CALLS; i += IN_FLIGHT) await Promise.all(Array.from({ length: IN_FLIGHT }, (_, k) => call(i + k)));
  const perCall = (seconds: number) => ((seconds * 1e6) / CALLS).toFixed(2);
  console.log(`| ${name} | ${perCall(redisCpuSeconds() - cpuBefore)} | ${perCall((performance.now() - started) / 1000)} |`);
}

try {
  console.log(`${CALLS} calls, ${IN_FLIGHT} in flight, ioredis auto-pipelining\n`);
  console.log('| Call | Redis CPU µs per call | wall µs per call |\n|---|---:|---:|');
  const limiter = (max: number) => new RedisLimiter({ db: redis, max, duration: 60_000, namespace: 'limit' });
  const lifted = limiter(1_000_000_000);
  await measure('rate-limit check, one key, limit lifted (the benchmark)', () => lifted.get({ id: 'one' }));
  await measure('rate-limit check, 20,000 keys, limit lifted', (i) => lifted.get({ id: `ip-${i % 20_000}` }));
  const perMinute = limiter(20);
  await measure('rate-limit check, 20,000 keys, 20 per minute (the default)', (i) => perMinute.get({ id: `user-${i % 20_000}` }));
  await measure('GET of one key (what a cache read costs)', () => redis.get('cached'));
} finally {
  // The keys this run made. ioredis prefixes the keys of DEL, not the pattern of KEYS.
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys.map((key) => key.slice(prefix.length)));
  redis.disconnect();
}
