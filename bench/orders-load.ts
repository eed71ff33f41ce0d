import { Agent, request } from 'node:http';

// The load generator: a closed loop of `concurrency` callers over keep-alive connections, each
// timing its own requests. node:http rather than fetch() because on a 2-core machine the client
// shares the CPU with the server, and fetch costs noticeably more per request.

export interface HttpResult {
  status: number;
  body: unknown;
  /** performance.now() when the request was sent. */
  startedAt: number;
  ms: number;
}

export class JsonClient {
  readonly baseUrl: URL;
  readonly agent: Agent;

  constructor(baseUrl: string, concurrency: number) {
    this.baseUrl = new URL(baseUrl);
    // An idle pooled socket is dropped after 2 s, before the server's 5 s keep-alive timeout
    // closes it: a request sent on a socket the server is closing just then fails with "socket
    // hang up" (seen once, after the pause between two phases).
    this.agent = new Agent({ keepAlive: true, maxSockets: concurrency, timeout: 2000 });
  }

  send(method: string, path: string, body?: unknown, token?: string): Promise<HttpResult> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string | number> = {};
    if (payload !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = Buffer.byteLength(payload);
    }
    if (token) headers.Authorization = `Bearer ${token}`;
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const req = request(
        { host: this.baseUrl.hostname, port: this.baseUrl.port, path, method, headers, agent: this.agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = text ? JSON.parse(text) : null;
            } catch {
              // not JSON: keep the text, the caller reports it
            }
            resolve({ status: res.statusCode ?? 0, body: parsed, startedAt: started, ms: performance.now() - started });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Runs task(0..count-1) with at most `concurrency` in flight; returns results in task order. */
export async function closedLoop<T>(count: number, concurrency: number, task: (index: number) => Promise<T>): Promise<{ results: T[]; seconds: number }> {
  const results = new Array<T>(count);
  let next = 0;
  const started = performance.now();
  const runner = async () => {
    for (let index = next++; index < count; index = next++) results[index] = await task(index);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, runner));
  return { results, seconds: (performance.now() - started) / 1000 };
}

/** Nearest-rank percentile (p in 0..100) of unsorted values; NaN for none. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/** A small deterministic PRNG (mulberry32) so every run places the same orders. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
