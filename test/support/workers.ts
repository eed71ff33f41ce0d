import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import type { PgBoss } from 'pg-boss';
import { SMTPServer } from 'smtp-server';
import { loadConfig, type Config } from '../../core/config.ts';
import { createLogger } from '../../core/logger.ts';
import { projectRoot } from '../../core/paths.ts';
import { ORDERS_QUEUE } from '../../core/queue.ts';
import { everyInstance } from '../../core/queue-metrics.ts';
import { openServices, type OpenServices } from '../../core/services.ts';
import { startWorkers, WORKER_QUEUES, type WorkerQueue } from '../../workers/start.ts';
import { waitUntil } from '../orders/fixtures.ts';
import { testEnvironment } from './environment.ts';

// Job workers for tests, started exactly as production starts them: in this process through
// workers/start.ts (what workers/main.ts calls), or as `node workers/main.ts` child processes.
// Confirmation emails go to an SMTP sink of their own, so tests neither write .eml files nor
// mail anyone.

export interface InProcessWorkers {
  services: OpenServices;
  stop(): Promise<void>;
}

export async function startWorkersInProcess(overrides: Partial<Record<keyof Config, string>> = {}, queues: readonly WorkerQueue[] = WORKER_QUEUES): Promise<InProcessWorkers> {
  const { databaseUrl } = testEnvironment();
  const sink = await startMailSink();
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_URL: databaseUrl, SMTP_URL: sink.url, ...overrides });
  const services = await openServices(config, createLogger(config.LOG_LEVEL), databaseUrl, { runsWorkers: true });
  await startWorkers(services, queues);
  return {
    services,
    async stop() {
      await services.close();
      await sink.close();
    },
  };
}

export interface WorkerProcess {
  pid: number;
  /** The process has exited (whatever the reason): a crash shows here before any timeout. */
  hasExited(): boolean;
  /** SIGKILL: no shutdown at all, as in a crash or an OOM kill. */
  kill(): Promise<void>;
  /** SIGTERM and wait for the graceful exit; its exit code (0 for a clean shutdown). */
  stop(): Promise<number | null>;
}

/** `node workers/main.ts [queues]` as a child process against the run's database (no queue named: all). */
export async function spawnWorkerProcess(env: Record<string, string> = {}, queues: readonly WorkerQueue[] = []): Promise<WorkerProcess> {
  const sink = await startMailSink();
  const child = spawn('node_modules/.bin/node', ['workers/main.ts', ...queues], {
    cwd: projectRoot,
    env: { ...process.env, NODE_ENV: 'test', DATABASE_URL: testEnvironment().databaseUrl, LOG_LEVEL: 'warn', SMTP_URL: sink.url, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Its warnings and errors are shown, prefixed, so a failing test explains itself.
  const relay = (chunk: Buffer) => process.stderr.write(chunk.toString('utf8').replace(/^(?=.)/gm, `[worker ${child.pid}] `));
  child.stdout.on('data', relay);
  child.stderr.on('data', relay);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  exited.then(() => sink.close());
  const signal = async (name: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(name);
    return await exited;
  };
  return {
    pid: child.pid!,
    hasExited: () => child.exitCode !== null || child.signalCode !== null,
    kill: async () => {
      await signal('SIGKILL');
    },
    stop: () => signal('SIGTERM'),
  };
}

/**
 * Waits until a spawned worker process is registered in pg-boss's instance registry, live, with a
 * worker on `queue`: a spawned process is not yet one that works, and a test about several
 * workers proves nothing if one never got that far. Fails at once if the process exits first.
 */
export async function untilWorking(boss: PgBoss, worker: WorkerProcess, queue: string = ORDERS_QUEUE, timeoutMs = 30_000): Promise<void> {
  await waitUntil(`worker process ${worker.pid} to work ${queue}`, async () => {
    if (worker.hasExited()) throw new Error(`worker process ${worker.pid} exited before it was working ${queue}`);
    return (await everyInstance(boss)).some((instance) => instance.live && instance.pid === worker.pid && instance.workers.some((w) => w.queue === queue));
  }, timeoutMs);
}

/**
 * A worker process's orders_decided_total, by status, read from its METRICS_PORT (0 for a status
 * it has not counted; null while it does not answer yet).
 */
export async function ordersDecidedBy(metricsPort: number): Promise<Record<string, number> | null> {
  const text = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((response) => (response.ok ? response.text() : null), () => null);
  if (text === null) return null;
  const counts: Record<string, number> = {};
  for (const [, status, value] of text.matchAll(/^orders_decided_total\{status="(\w+)"\} (\d+)$/gm)) counts[status!] = Number(value);
  return counts;
}

/** A real SMTP server that accepts every message and keeps none. */
async function startMailSink(): Promise<{ url: string; close(): Promise<void> }> {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      stream.resume();
      stream.on('end', () => callback());
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return { url: `smtp://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
