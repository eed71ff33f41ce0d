import type { Knex } from 'knex';
import type { JobWithMetadata, PgBoss } from 'pg-boss';
import { ORDERS_QUEUE } from '../../core/queue.ts';

// Holding a worker inside its turn: a test takes a lock in a transaction of its own and waits
// until a worker's transaction is queued behind exactly that lock, with the store's job active.
// Checking "some session waits on some lock" would also match a session of another test or of
// pg-boss, and say nothing about which store's turn is held.

/** The backend pid of the transaction `trx`, to recognise who waits for its locks. */
export async function backendPid(trx: Knex.Transaction): Promise<number> {
  const { rows } = await trx.raw<{ rows: { pid: number }[] }>('SELECT pg_backend_pid() AS pid');
  return rows[0]!.pid;
}

/** Sessions of the app's knex pools (application_name 'shop') waiting for a lock held by `pid`. */
export async function sessionsWaitingFor(db: Knex, pid: number): Promise<number> {
  const { rows } = await db.raw<{ rows: { waiting: number }[] }>(
    "SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'shop' AND ? = ANY(pg_blocking_pids(pid))",
    [pid],
  );
  return rows[0]!.waiting;
}

/** The active job of a store's lane (key_strict_fifo allows at most one), if any. */
export async function activeJobOf(boss: PgBoss, lane: string): Promise<JobWithMetadata<unknown> | undefined> {
  const jobs = await boss.findJobs<unknown>(ORDERS_QUEUE, { key: lane, limit: 100_000 });
  return jobs.find((job) => job.state === 'active');
}
