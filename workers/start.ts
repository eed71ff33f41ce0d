import type { Services } from '../core/services.ts';
import { startEmailWorker } from './email.ts';
import { startOrderWorker } from './orders.ts';

/**
 * The queues a worker process can work. Production runs them in separate processes (Procfile
 * `worker` and `mailer`) so that sending emails, which is bulk work, never takes the event loop
 * from the order decisions a buyer is waiting for; development runs both in one.
 */
export const WORKER_QUEUES = ['orders', 'email'] as const;
export type WorkerQueue = (typeof WORKER_QUEUES)[number];

/** The queues named on a worker's command line; none named means all of them. */
export function parseWorkerQueues(args: readonly string[]): WorkerQueue[] {
  const unknown = args.filter((arg) => !(WORKER_QUEUES as readonly string[]).includes(arg));
  if (unknown.length > 0) throw new Error(`unknown queue ${unknown.join(', ')}: name any of ${WORKER_QUEUES.join(', ')}, or none for all`);
  return args.length === 0 ? [...WORKER_QUEUES] : [...new Set(args as WorkerQueue[])];
}

/**
 * Registers the job handlers of `queues` on the services' pg-boss (open them with
 * `runsWorkers: true`). Used by the worker process, by `npm start` and by the tests. Stopping
 * is services.close().
 */
export async function startWorkers(services: Services, queues: readonly WorkerQueue[] = WORKER_QUEUES): Promise<void> {
  if (queues.includes('orders')) await startOrderWorker(services.boss, services);
  if (queues.includes('email')) await startEmailWorker(services.boss, services);
}
