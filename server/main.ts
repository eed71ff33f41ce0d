// Production web process (Procfile `web`): serves HTTP against DATABASE_URL. Migrations run in
// the `release` phase, not here, so many web processes can start at once.
import { loadConfig } from '../core/config.ts';
import { createLogger } from '../core/logger.ts';
import { openServices } from '../core/services.ts';
import { exitOnUncaughtError, stopOnSignal } from '../core/shutdown.ts';
import { createApp } from './app.ts';
import { close, listen } from './listen.ts';

const config = loadConfig();
const log = createLogger(config.LOG_LEVEL);
exitOnUncaughtError(log);
if (!config.DATABASE_URL) {
  log.fatal('DATABASE_URL is not set (use `npm start` for development with an embedded database)');
  process.exit(1);
}
const services = await openServices(config, log, config.DATABASE_URL);
const server = await listen(createApp(services), config.PORT);
log.info({ port: config.PORT }, 'web process listening');
stopOnSignal(log, async () => {
  await services.orderEvents.close(); // long-polls answer now rather than hold the server open
  await close(server);
  await services.close();
});
