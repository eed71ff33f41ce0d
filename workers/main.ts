// Worker process: works pg-boss queues. `node workers/main.ts orders` decides orders (Procfile
// `worker`), `node workers/main.ts email` sends confirmation emails (Procfile `mailer`); with no
// queue named it works both. Any number of each may run; pg-boss gives each store's orders to one
// of them at a time.
import { loadConfig } from '../core/config.ts';
import { createLogger } from '../core/logger.ts';
import { openServices } from '../core/services.ts';
import { exitOnUncaughtError, stopOnSignal } from '../core/shutdown.ts';
import { serveMetrics } from './metrics-server.ts';
import { parseWorkerQueues, startWorkers, type WorkerQueue } from './start.ts';

const config = loadConfig();
const log = createLogger(config.LOG_LEVEL);
exitOnUncaughtError(log);
let queues: WorkerQueue[];
try {
  queues = parseWorkerQueues(process.argv.slice(2));
} catch (error) {
  log.fatal(`usage: node workers/main.ts [orders] [email]: ${(error as Error).message}`);
  process.exit(2);
}
if (!config.DATABASE_URL) {
  log.fatal('DATABASE_URL is not set (use `npm start` for development with an embedded database)');
  process.exit(1);
}
if (config.NODE_ENV === 'production' && queues.includes('email') && !config.SMTP_URL) {
  // Writing confirmations to files would complete each email job with nothing sent.
  log.fatal('SMTP_URL is not set: a mailer in production sends its emails over SMTP');
  process.exit(1);
}
// The metrics port first: a port already taken then stops the process before it claims any job.
const metrics = config.METRICS_PORT === undefined ? null : await serveMetrics(config.METRICS_PORT, log);
const services = await openServices(config, log, config.DATABASE_URL, { runsWorkers: true });
await startWorkers(services, queues);
log.info({ queues }, 'worker process running');
// SIGTERM: stop fetching, let the running turns commit, then close.
stopOnSignal(log, async () => {
  await services.close();
  metrics?.close();
});
