import Koa from 'koa';
import { koaBody } from 'koa-body';
import type { Services } from '../core/services.ts';
import { recordHttpMetrics } from './middleware/metrics.ts';
import { problemJson } from './middleware/problem-json.ts';
import { requireJsonBody } from './middleware/require-json.ts';
import { docsRoutes } from './routes/docs.ts';
import { authRoutes } from './routes/auth.ts';
import { opsRoutes } from './routes/ops.ts';
import { ordersRoutes } from './routes/orders.ts';
import { searchRoutes } from './routes/search.ts';
import { suggestRoutes } from './routes/suggest.ts';
import { storesRoutes } from './routes/stores.ts';

// Builds the HTTP application around already-open services. No listen() here: tests mount it
// on an ephemeral port, server/main.ts on $PORT.
export function createApp(services: Services): Koa {
  const app = new Koa({ proxy: services.config.TRUST_PROXY });
  app.use(recordHttpMetrics);
  app.use(problemJson(services.log));
  app.use(requireJsonBody);
  app.use(koaBody({ json: true, jsonStrict: true, jsonLimit: services.config.BODY_LIMIT, urlencoded: false, text: false, multipart: false }));
  for (const router of [opsRoutes(services), docsRoutes(), authRoutes(services), suggestRoutes(services), searchRoutes(services), storesRoutes(services), ordersRoutes(services)]) {
    app.use(router.routes());
    app.use(router.allowedMethods({ throw: true }));
  }
  return app;
}
