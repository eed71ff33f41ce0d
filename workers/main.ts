// Worker process (Procfile `worker`): decides orders and sends emails from pg-boss. Any number
// may run; pg-boss gives each store's orders to one of them at a time.
import { loadConfig } from '../core/config.ts';
import { createLogger } from '../core/logger.ts';
import { openServices } from '../core/services.ts';
import { stopOnSignal } from '../core/shutdown.ts';
import { startWorkers } from './start.ts';

const config = loadConfig();
const log = createLogger(config.LOG_LEVEL);
if (!config.DATABASE_URL) {
  log.fatal('DATABASE_URL is not set (use `npm start` for development with an embedded database)');
  process.exit(1);
}
const services = await openServices(config, log, config.DATABASE_URL, { runsWorkers: true });
await startWorkers(services);
log.info('worker process running');
// SIGTERM: stop fetching, let the running turns commit, then close.
stopOnSignal(log, () => services.close());
