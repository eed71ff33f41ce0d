// The HTTP ceiling for benchmarks: Koa and @koa/router answering a constant, with no middleware,
// no database and no logging. Started as its own process, like the app it is compared with.
//   PORT=3999 node bench/bare-server.ts
import Router from '@koa/router';
import Koa from 'koa';
import { listen } from '../server/listen.ts';

const app = new Koa();
const router = new Router();
router.get('/healthz', (ctx) => {
  ctx.body = { status: 'ok' };
});
router.get('/bare', (ctx) => {
  ctx.body = { ok: true };
});
app.use(router.routes());

const server = await listen(app, Number(process.env.PORT ?? 3999));
process.once('SIGTERM', () => server.close());
