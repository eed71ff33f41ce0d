import type { Logger } from './logger.ts';

// A signal that arrives this soon after the first is the same request delivered twice: Ctrl-C
// signals the whole process group, and `npm start` forwards it to us as well.
const SAME_REQUEST_MS = 1000;

// Runs `stop` once on SIGTERM (Heroku, Kubernetes) or SIGINT (Ctrl-C), then exits. A later signal
// while stopping forces the exit, so a stuck shutdown can always be interrupted.
export function stopOnSignal(log: Logger, stop: () => Promise<void>): void {
  let stoppingSince: number | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stoppingSince !== null) {
      if (Date.now() - stoppingSince < SAME_REQUEST_MS) return;
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stoppingSince = Date.now();
    log.info({ signal }, 'shutting down');
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/**
 * An error nothing caught (a start-up that failed, a rejected top-level await) is logged through
 * `log`, then the process exits 1. Node's own report would print every property of the error:
 * an ioredis AUTH failure, for one, carries the Redis password among its command's arguments,
 * which the logger redacts.
 */
export function exitOnUncaughtError(log: Logger): void {
  process.on('uncaughtException', (error) => {
    log.fatal({ err: error }, 'uncaught error: exiting');
    process.exit(1);
  });
}
