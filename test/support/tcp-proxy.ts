import { createConnection, createServer, type Server, type Socket } from 'node:net';

// A TCP relay in front of a real server (PostgreSQL here), for tests of what the service does
// when that server goes away: cut() closes every relayed connection and refuses new ones, as a
// stopped or unreachable database does; restore() listens on the same port again.

export interface TcpProxy {
  /** `url` with its host and port replaced by the relay's. */
  urlFor(url: string): string;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  let server: Server = relay();
  let port = 0;

  function relay(): Server {
    return createServer((client) => {
      const upstream = createConnection(target.port, target.host);
      track(client);
      track(upstream);
      client.pipe(upstream).pipe(client);
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
    });
  }
  function listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        const address = server.address();
        port = typeof address === 'object' && address ? address.port : port;
        resolve();
      });
    });
  }
  async function cut(): Promise<void> {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  }

  await listen();
  return {
    urlFor(url) {
      const relayed = new URL(url);
      relayed.hostname = '127.0.0.1';
      relayed.port = String(port);
      return relayed.toString();
    },
    cut,
    async restore() {
      server = relay();
      await listen();
    },
    async close() {
      if (server.listening) await cut();
    },
  };
}
