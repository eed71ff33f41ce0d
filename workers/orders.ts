import type { PgBoss } from 'pg-boss';
import { decideStoreTurn } from '../core/orders/decide.ts';
import { recordDecisions } from '../core/orders/metrics.ts';
import { ORDERS_QUEUE } from '../core/queue.ts';
import type { Services } from '../core/services.ts';

// Job handler for the orders queue: each job is a store's turn (see core/orders/decide.ts).
export async function startOrderWorker(boss: PgBoss, services: Services): Promise<void> {
  const deps = { db: services.db, boss, log: services.log, batchSize: services.config.ORDER_BATCH_SIZE };
  await boss.work(
    ORDERS_QUEUE,
    {
      includeMetadata: true, // the job's singletonKey names the store's lane
      // Each local worker takes one store at a time; this many stores are decided in parallel.
      localConcurrency: services.config.ORDER_WORKER_CONCURRENCY,
      // A new job wakes the workers through LISTEN/NOTIFY. A store's next job becomes available
      // when the previous one completes, which notifies nobody: see the wake-up below, and a
      // short poll is the backstop.
      notifyPollingIntervalSeconds: 1,
      pollingIntervalSeconds: 0.5,
    },
    async ([job]) => {
      if (!job) return;
      const summary = await decideStoreTurn(deps, job).catch((error: unknown) => {
        // Nothing was written; pg-boss retries the job with backoff, holding the store's line.
        services.log.warn({ err: error, lane: job.singletonKey, attempt: job.retryCount + 1 }, 'store turn failed; it will be retried');
        throw error;
      });
      recordDecisions(summary.decided);
      // The store's lane still has a backlog, and no NOTIFY says so: fetch again at once instead
      // of after the backstop poll. (Jobs queued during this turn did notify: a busy worker
      // remembers that and fetches again as soon as it is done.)
      if (summary.more) for (const worker of boss.getWipData()) if (worker.name === ORDERS_QUEUE) boss.notifyWorker(worker.id);
      services.log.debug({ lane: job.singletonKey, ...summary }, 'store turn decided');
    },
  );
}
