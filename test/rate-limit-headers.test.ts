import { expect } from 'chai';
import Koa from 'koa';
import type { Redis } from 'ioredis';
import { createLogger } from '../core/logger.ts';
import { connectRedis } from '../core/redis.ts';
import { close, listen } from '../server/listen.ts';
import { problemJson } from '../server/middleware/problem-json.ts';
import { rateLimit } from '../server/middleware/rate-limit.ts';
import { testEnvironment } from './support/environment.ts';

// A refused client is told when to come back (Retry-After, RateLimit-Reset, in seconds): coming
// back exactly then must succeed, with the Redis counters and with the in-memory ones.
describe('rate-limit Retry-After', function () {
  this.timeout(20_000);
  const log = createLogger('silent');
  let redis: Redis | null = null;
  after(() => redis?.disconnect());

  for (const store of ['memory', 'redis'] as const) {
    it(`is never too early (${store} counters)`, async function () {
      if (store === 'redis') {
        const { redisUrl, redisKeyPrefix } = testEnvironment();
        if (!redisUrl) this.skip(); // CI always has REDIS_URL (test/support/environment.ts)
        redis = connectRedis(redisUrl, `${redisKeyPrefix}retry-after:`, log)!;
        await redis.connect();
      }
      const app = new Koa();
      app.use(problemJson(log));
      app.use(rateLimit({ name: `retry-after-${Date.now()}`, max: 1, durationMs: 2500, key: () => 'client', redis: store === 'redis' ? redis : null, log, whenStoreFails: 'refuse' }));
      app.use((ctx) => (ctx.body = 'ok'));
      const server = await listen(app, 0);
      const address = server.address();
      const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`;
      try {
        expect((await fetch(url)).status).to.equal(200);
        const refused = await fetch(url);
        expect(refused.status).to.equal(429);
        const retryAfter = Number(refused.headers.get('Retry-After'));
        expect(refused.headers.get('RateLimit-Reset')).to.equal(String(retryAfter));
        expect(retryAfter).to.be.within(1, 4); // the 2.5 s window, rounded up, at most a second late
        await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
        expect((await fetch(url)).status).to.equal(200);
      } finally {
        await close(server);
      }
    });
  }
});
