import Router from '@koa/router';
import type { Services } from '../../core/services.ts';
import { checkReadiness } from '../../core/readiness.ts';

export function opsRoutes(services: Services): Router {
  const router = new Router();

  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });

  router.get('/readyz', async (ctx) => {
    const report = await checkReadiness(services);
    ctx.status = report.status === 'ok' ? 200 : 503;
    if (report.status !== 'ok') ctx.set('Retry-After', '5');
    ctx.body = report;
  });

  return router;
}
