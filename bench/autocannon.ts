import autocannon from 'autocannon';

// One closed-loop HTTP load run with autocannon: `connections` clients, each sending the next
// request as soon as the previous answer arrives, cycling through `paths`.

export interface Measurement {
  requestsPerSecond: number;
  /** Latency percentiles in milliseconds. */
  p50: number;
  p99: number;
  requests: number;
  /** Answers other than 2xx, and connection errors/timeouts: a run with either is not valid. */
  non2xx: number;
  errors: number;
}

export async function measure(baseUrl: string, paths: string[], options: { connections: number; durationSeconds: number }): Promise<Measurement> {
  const result = await autocannon({
    url: baseUrl,
    connections: options.connections,
    duration: options.durationSeconds,
    requests: paths.map((path) => ({ method: 'GET', path })),
  });
  return {
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}
