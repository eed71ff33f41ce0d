import type { Services } from '../core/services.ts';
import { startEmailWorker } from './email.ts';
import { startOrderWorker } from './orders.ts';

/**
 * Registers every job handler on the services' pg-boss (open them with `runsWorkers: true`).
 * Used by the worker process, by `npm start` and by the tests. Stopping is services.close().
 */
export async function startWorkers(services: Services): Promise<void> {
  await startOrderWorker(services.boss, services);
  await startEmailWorker(services.boss, services);
}
