import type Router from '@koa/router';
import Koa from 'koa';
import { koaBody } from 'koa-body';
import { badRequest } from '../core/problems.ts';
import type { Services } from '../core/services.ts';
import { recordHttpMetrics } from './middleware/metrics.ts';
import { problemJson } from './middleware/problem-json.ts';
import { setPublicUrl } from './pagination.ts';
import { JSON_TYPES, requireJsonBody } from './middleware/require-json.ts';
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
  // Behind the proxy we trust, ctx.ip is the address that proxy saw: the last X-Forwarded-For
  // entry, which it appends. Entries before it are whatever the client sent, and reading the
  // first of them (Koa's default) would let every request pick its own rate-limit bucket.
  const app = new Koa({ proxy: services.config.TRUST_PROXY, maxIpsCount: 1 });
  if (services.config.PUBLIC_URL) setPublicUrl(app, services.config.PUBLIC_URL);
  // What fails outside the middleware (a client that breaks off or garbles its request) goes to
  // the structured log; without a listener Koa prints it to stderr as plain text.
  app.on('error', (error: Error) => services.log.warn({ err: error }, 'HTTP request ended without an answer'));
  app.use(recordHttpMetrics);
  app.use(problemJson(services.log));
  // Suggestions come first: they are the hottest route (a request per keystroke) and take no
  // body, so they skip the body checks and the other routers' matching.
  useRouter(app, suggestRoutes(services));
  app.use(requireJsonBody);
  app.use(koaBody({ json: true, jsonStrict: true, jsonTypes: JSON_TYPES, jsonLimit: services.config.BODY_LIMIT, urlencoded: false, text: false, multipart: false, onError: refuseUnreadableBody }));
  for (const router of [opsRoutes(services), docsRoutes(), authRoutes(services), searchRoutes(services), storesRoutes(services), ordersRoutes(services)]) {
    useRouter(app, router);
  }
  return app;
}

function useRouter(app: Koa, router: Router): void {
  app.use(router.routes());
  // Not thrown: the thrown 405 would lack the Allow header; problem-json renders the status.
  app.use(router.allowedMethods());
}

/**
 * Body errors from co-body carry their status (400, 413, 415). A body that fails to decompress
 * (Content-Encoding: gzip with bytes that are not gzip) comes from zlib without one, and would be
 * a 500; it is the client's bytes, so it is a 400.
 */
function refuseUnreadableBody(error: Error): never {
  if (typeof (error as { status?: unknown }).status === 'number') throw error;
  throw badRequest('The request body could not be decoded as its Content-Encoding says.');
}
