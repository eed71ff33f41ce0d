import { createServer, type Server } from 'node:http';
import type Koa from 'koa';

// A client that trickles its request in holds a socket (and a file descriptor) for as long as it
// likes under Node's defaults (60 s for the headers, 300 s for the whole request, checked every
// 30 s). Nothing this API takes needs long to send: headers within 10 s, the whole request within
// 30 s. These bound receiving the request only, so a long-poll's wait for its answer is not cut.
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;

/** Starts serving; resolves once the port is bound. */
export function listen(app: Koa, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer(
      { headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS },
      app.callback(),
    );
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
