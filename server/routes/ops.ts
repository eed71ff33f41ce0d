import Router from '@koa/router';
import type { Services } from '../../core/services.ts';
import { recordLongPollsWaiting } from '../../core/orders/metrics.ts';
import { refreshQueueMetrics } from '../../core/queue-metrics.ts';
import { checkReadiness } from '../../core/readiness.ts';
import { metricsRegistry } from '../middleware/metrics.ts';
import { json, registry, retryAfter, z } from '../openapi.ts';

registry.registerPath({
  method: 'get',
  path: '/healthz',
  summary: 'Liveness: the process is up',
  tags: ['Operations'],
  responses: { 200: { description: 'Alive', ...json(z.object({ status: z.literal('ok') })) } },
});
const Readiness = z.object({
  status: z.enum(['ok', 'degraded']),
  checks: z.record(z.string(), z.enum(['ok', 'down', 'not configured'])),
});
registry.registerPath({
  method: 'get',
  path: '/readyz',
  summary: 'Readiness: database, queue and Redis reachable; degraded dependencies are named',
  tags: ['Operations'],
  responses: {
    200: { description: 'Ready', ...json(Readiness) },
    503: { description: 'A dependency is down (see Retry-After)', headers: retryAfter, ...json(Readiness) },
  },
});
registry.registerPath({
  method: 'get',
  path: '/metrics',
  summary: 'Prometheus metrics: HTTP latency, orders decided, placement batches, long-polls waiting, job queue backlogs',
  tags: ['Operations'],
  responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: z.string() } } } },
});

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

  router.get('/metrics', async (ctx) => {
    // The other metrics are worth serving when the database is not: the backlog is then left out.
    await refreshQueueMetrics(services.boss).catch((error: unknown) => services.log.warn({ err: error }, 'job queue backlog not read for /metrics'));
    recordLongPollsWaiting(services.orderEvents.waiting);
    ctx.type = metricsRegistry.contentType;
    ctx.body = await metricsRegistry.metrics();
  });

  return router;
}
