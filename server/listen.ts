import { createServer, type Server } from 'node:http';
import type Koa from 'koa';

// A client that trickles its request in holds a socket (and a file descriptor) for as long as it
// likes under Node's defaults (60 s for the headers, 300 s for the whole request, checked every
// 30 s). Nothing this API takes needs long to send: headers within 10 s, the whole request within
// 30 s. These bound receiving the request only, so a long-poll's wait for its answer is not cut.
/** Every HTTP server of ours (the web process's, a worker's /metrics) is created with these. */
export const httpServerOptions = { headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 1_000 };

/** Starts serving; resolves once the port is bound. */
export function listen(app: Koa, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer(httpServerOptions, app.callback());
    server.once('listening', () => resolve(server));
    server.once('error', reject);
    server.listen(port);
  });
}

/** Stops accepting connections and waits for in-flight requests to finish. */
export function close(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeIdleConnections();
  });
}
