import type { Instance, PgBoss } from 'pg-boss';
import { Gauge } from 'prom-client';
import { EMAIL_DEAD_LETTER_QUEUE, EMAIL_QUEUE } from './email/queue.ts';
import { ORDERS_QUEUE } from './queue.ts';

// The backlog of each job queue, for /metrics. Orders and emails are worked by different
// processes (Procfile `worker` and `mailer`), so a queue nobody works shows up here as a queued
// count that only grows; anything in the dead-letter queue is an email that was never delivered.
const jobs = new Gauge({
  name: 'job_queue_jobs',
  help: "pg-boss jobs per queue and state, as of pg-boss's last monitor pass in a worker process (every 5 s)",
  labelNames: ['queue', 'state'] as const,
});

// The counts above come from the workers' own monitor passes, so with no worker running they
// stand still instead of growing. Who works each queue is read from pg-boss's instance registry,
// which every process refreshes on its own heartbeat (core/queue.ts): 0 here is the alert.
const workers = new Gauge({
  name: 'job_queue_workers',
  help: "Live pg-boss instances (processes) working each queue, from pg-boss's instance registry",
  labelNames: ['queue'] as const,
});

const QUEUES = [ORDERS_QUEUE, EMAIL_QUEUE, EMAIL_DEAD_LETTER_QUEUE];
const WORKED_QUEUES = [ORDERS_QUEUE, EMAIL_QUEUE];

/** Reads the queues' counts (one query; pg-boss keeps them per queue) and who works them into the gauges. */
export async function refreshQueueMetrics(boss: PgBoss): Promise<void> {
  const [queues, instances] = await Promise.all([boss.getQueues(QUEUES), everyInstance(boss)]);
  for (const queue of queues) {
    jobs.set({ queue: queue.name, state: 'queued' }, queue.queuedCount);
    jobs.set({ queue: queue.name, state: 'active' }, queue.activeCount);
    jobs.set({ queue: queue.name, state: 'failed' }, queue.failedCount);
  }
  const live = instances.filter((instance) => instance.live);
  for (const queue of WORKED_QUEUES) workers.set({ queue }, live.filter((instance) => instance.workers.some((worker) => worker.queue === queue)).length);
}

/**
 * Every row of pg-boss's instance registry, page by page. A page lists the oldest rows first, and
 * the registry keeps stopped and crashed processes' rows for days: on one page of the default
 * size, the live (newest) rows fall off once enough restarts have piled up.
 */
export async function everyInstance(boss: PgBoss, pageSize = 1000): Promise<Instance[]> {
  const rows: Instance[] = [];
  for (let after: string | undefined; ; ) {
    const page = await boss.getInstances({ limit: pageSize, ...(after === undefined ? {} : { after }) });
    rows.push(...page);
    if (page.length < pageSize) return rows;
    after = page.at(-1)!.id;
  }
}
