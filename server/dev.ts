// `npm start`: the whole service in one process for development. Uses DATABASE_URL when set,
// otherwise an embedded PostgreSQL under .data/; migrates, seeds an empty catalog, starts the job
// workers (orders, emails) and serves.
import { join } from 'node:path';
import { loadConfig } from '../core/config.ts';
import { startEmbeddedPostgres } from '../core/embedded-postgres.ts';
import { createLogger } from '../core/logger.ts';
import { migrateToLatest, seedIfEmpty } from '../core/migrate.ts';
import { dataDir } from '../core/paths.ts';
import { openServices } from '../core/services.ts';
import { exitOnUncaughtError, stopOnSignal } from '../core/shutdown.ts';
import { startWorkers } from '../workers/start.ts';
import { createApp } from './app.ts';
import { close, listen } from './listen.ts';

const config = loadConfig();
const log = createLogger(config.LOG_LEVEL);
exitOnUncaughtError(log);

const embedded = config.DATABASE_URL
  ? null
  : await startEmbeddedPostgres({
      dataDir: join(dataDir, 'postgres'),
      port: config.EMBEDDED_PG_PORT,
      database: 'shop',
      log: (message) => log.info(message),
    });
if (embedded) log.info({ port: config.EMBEDDED_PG_PORT }, 'embedded PostgreSQL running (DATABASE_URL is unset)');

const services = await openServices(config, log, config.DATABASE_URL ?? embedded!.url, { runsWorkers: true });
await migrateToLatest(services.db, log);
await seedIfEmpty(services.db, log);
await startWorkers(services);
const server = await listen(createApp(services), config.PORT);
log.info(`shop is running at http://localhost:${config.PORT}/ (API docs at /docs)`);

// embedded-postgres (through async-exit-hook) exits the process with code 143 on SIGTERM/SIGINT
// as soon as its own hook has stopped the database, cutting our graceful stop short (running
// jobs, open requests) and failing `npm start`'s clean exit. The stop below stops the embedded
// database itself, last, so its signal listeners go.
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.removeAllListeners(signal);
stopOnSignal(log, async () => {
  await services.orderEvents.close(); // long-polls answer now rather than hold the server open
  await close(server);
  await services.close();
  await embedded?.stop();
});
