import type { PgBoss } from 'pg-boss';
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

const QUEUES = [ORDERS_QUEUE, EMAIL_QUEUE, EMAIL_DEAD_LETTER_QUEUE];

/** Reads the queues' counts (one query; pg-boss keeps them per queue) into the gauge. */
export async function refreshQueueMetrics(boss: PgBoss): Promise<void> {
  for (const queue of await boss.getQueues(QUEUES)) {
    jobs.set({ queue: queue.name, state: 'queued' }, queue.queuedCount);
    jobs.set({ queue: queue.name, state: 'active' }, queue.activeCount);
    jobs.set({ queue: queue.name, state: 'failed' }, queue.failedCount);
  }
}
