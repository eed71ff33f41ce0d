import { PgBoss } from 'pg-boss';
import { createEmailQueues } from './email/queue.ts';
import type { Logger } from './logger.ts';

// pg-boss: the job queues, in the same PostgreSQL as the data, so a job and the rows it is about
// commit in one transaction.

/** Order decisions (placements and cancellations), one FIFO lane per store. */
export const ORDERS_QUEUE = 'orders';

export interface BossRole {
  /**
   * This process runs job workers. Only then does it supervise the queues (expiry, failing the
   * jobs of dead workers, retention) and hold a LISTEN connection that wakes workers the moment a
   * job is queued. A web process only sends jobs, inside its own transactions.
   */
  runsWorkers: boolean;
  /** The most stores an order turn decides at once (ORDER_TURN_STORES): see `max` below. */
  turnStores: number;
}

const MAX_PARALLEL_LANE_LOOKUPS = 16;

export function createBoss(databaseUrl: string, log: Logger, { runsWorkers, turnStores }: BossRole): PgBoss {
  const boss = new PgBoss({
    connectionString: databaseUrl,
    application_name: 'shop-jobs',
    // Fetches, heartbeats, supervision, and the lookups of an order turn's queued jobs, one per
    // store and all at once (core/orders/decide.ts findLanes): with 8 connections a 25-store turn
    // waited for them in four rounds (spread benchmark, alternating runs: decision p50 81-93 ms
    // with 27, 101-115 ms with 8). Capped so that a bigger turn looks its lanes up in rounds
    // rather than use up the server's max_connections (100 by default) when several workers run;
    // .env.example gives each process's connection budget. The jobs' own work runs on the knex
    // pool. Connections open only when used, and close after 10 s idle.
    max: runsWorkers ? Math.min(turnStores, MAX_PARALLEL_LANE_LOOKUPS) + 2 : 2,
    // pg-boss's own statements (a fetch marking jobs active, a completion, a heartbeat) need not
    // wait for their WAL flush: a crash that loses one only hands a job out again, and every job
    // handler here is safe to repeat. What must be durable (an order and its job, a decision and
    // the completion of its jobs) commits on the knex pool, synchronously, and its flush takes
    // every earlier commit with it.
    options: '-c synchronous_commit=off',
    schedule: false, // no cron jobs
    supervise: runsWorkers,
    useListenNotify: runsWorkers,
    // A worker that dies mid-job is noticed by a supervisor once its job's heartbeat is stale
    // (heartbeatSeconds below) and the next monitor pass runs; pg-boss's 60 s default passes would
    // hold a dead worker's store for a minute or more.
    superviseIntervalSeconds: 5,
    monitorIntervalSeconds: 5,
    // Completed jobs are deleted by maintenance (default: once a day); the orders table is the
    // record, so finished jobs need not pile up.
    maintenanceIntervalSeconds: 300,
    // Each process's row in pg-boss's instance registry, which /metrics reads for the workers of
    // each queue (core/queue-metrics.ts), is refreshed this often: a started worker shows up
    // within 5 s, and a killed one reads as gone after three missed beats (15 s), not 90 s.
    instanceHeartbeatSeconds: 5,
  });
  // pg-boss reports background failures (a lost connection, a failed monitor pass) as events;
  // unhandled, an 'error' event would crash the process. Its errors can carry the whole pg
  // client (connection settings included), so only what explains the failure is logged.
  boss.on('error', (error) => {
    const { message, code, queue, stack } = error as Error & { code?: string; queue?: string };
    // 57P01: the server is shutting down (a restart, or Ctrl-C on `npm start`, which stops the
    // embedded database too). pg-boss reconnects when it comes back; nothing is lost.
    if (code === '57P01') log.warn({ error: { message, code, queue } }, 'pg-boss: database shutting down');
    else log.error({ error: { message, code, queue, stack } }, 'pg-boss error');
  });
  boss.on('warning', (warning) => log.warn({ warning }, 'pg-boss warning'));
  return boss;
}

// The orders queue. Every job carries singletonKey 'store-<id>', and key_strict_fifo gives each
// store one active job across all worker processes, in the order the jobs were queued, while
// other stores run in parallel.
const ordersQueueSettings = {
  // Jobs are inserted in the placing transaction; the NOTIFY fires at its commit.
  notify: true,
  // The smallest pg-boss allows: a killed worker's store is picked up again within about
  // heartbeat + monitor interval + retry delay (~15-25 s), instead of after expireInSeconds.
  heartbeatSeconds: 10,
  // A turn decides a bounded batch in one short transaction; a turn that runs this long is stuck
  // (it also gives up waiting for a row lock after 20 s, see core/orders/decide.ts).
  expireInSeconds: 60,
  // Strict FIFO means a job that fails for good blocks its store forever, so a job is never
  // allowed to fail for good: order-level problems end as a decided order (never a thrown error),
  // and what does throw (database unreachable, a killed worker) is retried indefinitely, with
  // backoff capped at 10 s.
  retryLimit: 1_000_000,
  retryDelay: 1,
  retryBackoff: true,
  retryDelayMax: 10,
  // A queued order must outlive any outage of the workers: pg-boss deletes a job still queued
  // once this passes (a year).
  retentionSeconds: 365 * 24 * 3600,
  deleteAfterSeconds: 3600,
};

/** Creates (or updates the settings of) every queue. Safe to run from every process at start. */
export async function createQueues(boss: PgBoss): Promise<void> {
  // Its own table, so the hot order queue does not share indexes and vacuum with email jobs.
  await boss.createQueue(ORDERS_QUEUE, { policy: 'key_strict_fifo', partition: true, ...ordersQueueSettings });
  // createQueue leaves an existing queue alone; changed settings take effect on deploy.
  await boss.updateQueue(ORDERS_QUEUE, ordersQueueSettings);
  await createEmailQueues(boss);
}
