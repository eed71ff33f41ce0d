import { createConnection, createServer, type Server, type Socket } from 'node:net';

// A TCP relay in front of a real server (PostgreSQL here), for tests of what the service does
// when that server goes away:
// - cut(): every relayed connection is closed and new ones are refused, as by a stopped database;
// - mute(): connections stay open but nothing gets through any more, and new ones are accepted
//   but never answered, as when a NAT or load balancer silently drops a connection's state, or a
//   host stops answering;
// - restore(): new connections are relayed again (muted ones stay dead, as half-open ones do);
// - dropAfter(text): the next message from a client that contains `text` reaches the server,
//   and then that connection breaks before the server's answer can come back: a request whose
//   outcome the client cannot know (COMMIT, say).

export interface TcpProxy {
  /** `url` with its host and port replaced by the relay's. */
  urlFor(url: string): string;
  cut(): Promise<void>;
  mute(): void;
  restore(): Promise<void>;
  dropAfter(text: string): void;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket;
  relaying: boolean;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let muted = false;
  let dropMarker: string | null = null;
  let port = 0;
  let server = relay();

  function relay(): Server {
    return createServer((client) => {
      const upstream = createConnection(target.port, target.host);
      const pair: Pair = { client, upstream, relaying: !muted };
      pairs.add(pair);
      client.on('data', (chunk: Buffer) => {
        if (!pair.relaying) return;
        upstream.write(chunk);
        if (dropMarker !== null && chunk.includes(dropMarker)) {
          dropMarker = null;
          pair.relaying = false;
          upstream.end(); // the server reads the message, then the end of the connection
          client.destroy();
        }
      });
      upstream.on('data', (chunk) => pair.relaying && client.write(chunk));
      for (const [socket, other] of [[client, upstream], [upstream, client]] as const) {
        socket.on('error', () => socket.destroy());
        socket.once('close', () => {
          other.destroy();
          pairs.delete(pair);
        });
      }
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
    for (const pair of pairs) pair.client.destroy();
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
    mute() {
      muted = true;
      for (const pair of pairs) pair.relaying = false;
    },
    async restore() {
      muted = false;
      if (server.listening) return;
      server = relay();
      await listen();
    },
    dropAfter(text) {
      dropMarker = text;
    },
    async close() {
      if (server.listening) await cut();
    },
  };
}
