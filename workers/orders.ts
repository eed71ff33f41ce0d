import type { JobResult, PgBoss } from 'pg-boss';
import { decideTurn, turnAttempt } from '../core/orders/decide.ts';
import { recordDecisions } from '../core/orders/metrics.ts';
import { ORDERS_QUEUE } from '../core/queue.ts';
import type { Services } from '../core/services.ts';

// Job handler for the orders queue: each fetch brings the head jobs of up to ORDER_TURN_STORES
// stores' lanes (key_strict_fifo hands out one per store), decided together in one turn (see
// core/orders/decide.ts).
export async function startOrderWorker(boss: PgBoss, services: Services): Promise<void> {
  const deps = { db: services.db, boss, log: services.log, batchSize: services.config.ORDER_BATCH_SIZE };
  await boss.work(
    ORDERS_QUEUE,
    {
      includeMetadata: true, // the jobs' singletonKey names the stores' lanes
      // The heads count against ORDER_BATCH_SIZE too: a turn never holds more jobs than that.
      batchSize: Math.min(services.config.ORDER_TURN_STORES, services.config.ORDER_BATCH_SIZE),
      // Each result on its own: a store left out of the turn (its stock locked elsewhere) is
      // retried with backoff, while the turn's other stores are done.
      perJobResults: true,
      // Turns run in parallel, each on stores no other turn holds.
      localConcurrency: services.config.ORDER_WORKER_CONCURRENCY,
      // A new job wakes the workers through LISTEN/NOTIFY. A store's next job becomes available
      // when the previous one completes, which notifies nobody: see the wake-up below, and a
      // short poll is the backstop.
      notifyPollingIntervalSeconds: 1,
      pollingIntervalSeconds: 0.5,
    },
    async (heads): Promise<JobResult[]> => {
      if (heads.length === 0) return [];
      const summary = await decideTurn(deps, heads).catch((error: unknown) => {
        // Nothing was written; pg-boss retries the jobs with backoff, holding their stores' lines.
        services.log.warn({ err: error, lanes: heads.map((head) => head.singletonKey), attempt: turnAttempt(heads) }, 'turn failed; it will be retried');
        throw error;
      });
      recordDecisions(summary.decided);
      // A lane still has a backlog, and no NOTIFY says so: fetch again at once instead of after
      // the backstop poll. (Jobs queued during this turn did notify: a busy worker remembers
      // that and fetches again as soon as it is done.)
      if (summary.more) for (const worker of boss.getWipData()) if (worker.name === ORDERS_QUEUE) boss.notifyWorker(worker.id);
      services.log.debug({ lanes: heads.length, ...summary }, 'turn decided');
      const deferred = new Set(summary.deferred);
      return heads.map((head) =>
        deferred.has(head.id) ? { id: head.id, status: 'failed', output: { message: "the store's stock rows were locked by another transaction" } } : { id: head.id, status: 'completed' },
      );
    },
  );
}
