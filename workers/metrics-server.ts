import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, register } from 'prom-client';
import type { Logger } from '../core/logger.ts';
import { httpServerOptions } from '../server/listen.ts';

// A worker process serves no HTTP, so what only it counts (orders decided, by status; its own
// event loop and heap) would reach nobody. With METRICS_PORT set it answers GET /metrics on that
// port in Prometheus's text format, for a scraper to collect from each worker and mailer.
export async function serveMetrics(port: number, log: Logger): Promise<Server> {
  collectDefaultMetrics();
  const server = createServer(httpServerOptions, (request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404).end();
      return;
    }
    register.metrics().then(
      (text) => response.writeHead(200, { 'Content-Type': register.contentType }).end(text),
      (error: unknown) => {
        log.error({ err: error }, 'metrics could not be collected');
        response.writeHead(500).end();
      },
    );
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, resolve));
  log.info({ port }, 'worker metrics at /metrics');
  return server;
}
