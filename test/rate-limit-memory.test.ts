import { expect } from 'chai';
import Koa from 'koa';
import ratelimit from 'koa-ratelimit';
import { close, listen } from '../server/listen.ts';
import { memoryCounters } from '../server/middleware/rate-limit.ts';

// Without Redis the rate-limit counters live in process memory (server/middleware/rate-limit.ts
// hands koa-ratelimit's memory store this Map), one per client. They must not pile up for as long
// as the process runs: every client address ever seen would stay there.
describe('rate-limit counters in process memory', function () {
  this.timeout(20_000);
  it('are dropped once their window is over, and a client that comes back is counted afresh', async () => {
    // Long enough for the 51 requests below to fall in one window on a busy machine.
    const windowMs = 2000;
    const counters = memoryCounters(windowMs);
    const app = new Koa();
    app.use(ratelimit({ driver: 'memory', db: counters, duration: windowMs, max: 1, id: (ctx) => ctx.get('X-Client') }));
    app.use((ctx) => (ctx.body = 'ok'));
    const server = await listen(app, 0);
    const address = server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`;
    const from = (client: string) => fetch(url, { headers: { 'X-Client': client } }).then((response) => response.status);
    try {
      for (let client = 0; client < 50; client++) expect(await from(`c${client}`)).to.equal(200);
      expect(await from('c0')).to.equal(429);
      expect(counters.size).to.equal(50);
      await new Promise((resolve) => setTimeout(resolve, windowMs * 2.5));
      expect(counters.size).to.equal(0);
      expect(await from('c0')).to.equal(200);
    } finally {
      await close(server);
    }
  });
});
