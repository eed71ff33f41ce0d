import type { Server } from 'node:http';
import type { DestinationStream } from 'pino';
import { loadConfig, type Config } from '../../core/config.ts';
import { createLogger } from '../../core/logger.ts';
import { openServices, type OpenServices } from '../../core/services.ts';
import { createApp } from '../../server/app.ts';
import { close, listen } from '../../server/listen.ts';
import { testEnvironment } from './environment.ts';

export interface TestApp {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  services: OpenServices;
  /** fetch() relative to the app; JSON bodies are encoded for you. */
  request(path: string, init?: { method?: string; body?: unknown; token?: string; headers?: Record<string, string> }): Promise<Response>;
  close(): Promise<void>;
}

/**
 * Starts the real app on an ephemeral port against the run's database (or `overrides.DATABASE_URL`)
 * and Redis, if any. `logTo` receives the app's log (at LOG_LEVEL, silent unless overridden).
 */
export async function startTestApp(overrides: Partial<Record<keyof Config, string>> = {}, logTo?: DestinationStream): Promise<TestApp> {
  const environment = testEnvironment();
  const databaseUrl = overrides.DATABASE_URL ?? environment.databaseUrl;
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: databaseUrl,
    JWT_SECRET: 'test-secret-that-is-at-least-32-characters-long',
    // Every test logs in from 127.0.0.1 and, with Redis, the counters are shared by the whole run,
    // so the production default (10) would refuse logins part-way through the suite. Tests of the
    // limit itself pass a low value and their own client IPs (TRUST_PROXY + X-Forwarded-For).
    LOGIN_RATE_LIMIT_PER_15_MINUTES: '10000',
    REGISTER_RATE_LIMIT_PER_HOUR: '100000',
    ...(environment.redisUrl ? { REDIS_URL: environment.redisUrl, REDIS_KEY_PREFIX: environment.redisKeyPrefix } : {}),
    ...overrides,
  });
  const services = await openServices(config, createLogger(config.LOG_LEVEL, logTo), databaseUrl);
  const server: Server = await listen(createApp(services), 0);
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    url,
    services,
    request(path, init = {}) {
      const headers: Record<string, string> = { ...init.headers };
      if (init.token) headers.Authorization = `Bearer ${init.token}`;
      if (init.body !== undefined) headers['Content-Type'] ??= 'application/json';
      return fetch(url + path, {
        method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
        headers,
        body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
      });
    },
    async close() {
      await close(server);
      await services.close();
    },
  };
}
