import type { Knex } from 'knex';
import { fromKnex, type JobWithMetadata, type PgBoss } from 'pg-boss';
import type { Db } from '../db.ts';
import { enqueueConfirmationEmails } from '../email/queue.ts';
import type { Logger } from '../logger.ts';
import type { OrderStatus } from '../models/order.ts';
import { ORDERS_QUEUE } from '../queue.ts';
import { isTransientError } from '../db-errors.ts';
import { planDecisions, stockKey, type DecisionPlan, type LockedOrder } from './decision-plan.ts';
import { parseOrderJob, type OrderJobData } from './jobs.ts';
import { ORDER_EVENTS_CHANNEL } from './order-events.ts';

// Deciding orders: a turn of one or more stores, in one transaction.
//
// A worker fetches the head job of several stores' lanes at once; key_strict_fifo makes each the
// only active job of its store, cluster-wide. The turn also takes the jobs queued behind each
// head in its lane, oldest first, and applies them all in queue order: placements are confirmed
// or rejected, cancellations undo. Orders and stock are locked, the decisions written with their
// ledger rows, confirmation emails queued, every job of the turn completed and the decided order
// ids NOTIFYed - all in that one transaction. It commits and all of it happened, or it does not
// and none of it did (the jobs come back, their orders still PENDING). Either way no order is
// decided twice: a job whose order is no longer PENDING changes nothing.
//
// Stores are independent, so one whose stock rows another transaction holds (a long staff edit)
// is not waited for: its lane is left out of the turn and its head job retried with backoff,
// while the other stores of the turn are decided.

export interface DecideDeps {
  db: Db;
  boss: PgBoss;
  log: Logger;
  /** Most jobs (the heads included) decided in one transaction. */
  batchSize: number;
}

export interface TurnSummary {
  /** Jobs completed by this turn. */
  jobs: number;
  /** Orders changed, by their new status. */
  decided: Partial<Record<OrderStatus, number>>;
  /** A lane's batch was full: more jobs may be waiting. */
  more: boolean;
  /** Head jobs of lanes left out because their stock rows were locked: to be retried. */
  deferred: string[];
}

/** Which attempt at its jobs a turn is: the most any of its heads has been tried, plus this one. */
export function turnAttempt(heads: readonly { retryCount: number }[]): number {
  return Math.max(...heads.map((head) => head.retryCount)) + 1;
}

/** A lock on an order row not granted within this is given up on (55P03), and the turn retried. */
const LOCK_TIMEOUT = '20s';

/**
 * A turn that keeps failing with a non-transient error is retried this many times in all
 * before its failing job is set aside: an error we did not foresee as transient gets a few
 * seconds (pg-boss's retry backoff) to go away before it costs a customer their order.
 */
const ATTEMPTS_BEFORE_SETTING_ASIDE = 3;

/** A store's lane in this turn: its active head job, then the jobs queued behind it, in order. */
interface Lane {
  head: JobWithMetadata<unknown>;
  jobs: JobWithMetadata<unknown>[];
  /** As many jobs as one lane may bring to a turn: more may be waiting. */
  full: boolean;
}

export async function decideTurn(deps: DecideDeps, heads: JobWithMetadata<unknown>[]): Promise<TurnSummary> {
  // The lanes are looked up on pg-boss's pool while the transaction opens on ours: a turn is a
  // chain of round trips, each waiting for a busy CPU, and these two need not wait for each
  // other (in the flash-sale benchmark the lookup and the opening took ~3 ms each of a ~20 ms turn).
  const finding = findLanes(deps, heads);
  // Awaited in both branches below; this only keeps a lookup that fails before then from being
  // reported as an unhandled rejection.
  finding.catch(() => {});
  try {
    return await turnTransaction(deps.db, async (trx) => runTurn(trx, deps, await finding, 'batch'));
  } catch (error) {
    // A failed lookup fails the turn as it is: nothing was decided, pg-boss retries the jobs.
    const lanes = await finding;
    // Nothing was written. A transient error is pg-boss's to retry, and so is any error on the
    // first attempts. After that the error came from one job's data: the same jobs are decided
    // again one at a time, each in a savepoint, to set the failing one aside and decide the rest.
    const attempt = turnAttempt(heads);
    if (isTransientError(error) || attempt < ATTEMPTS_BEFORE_SETTING_ASIDE) throw error;
    deps.log.error({ err: error, lanes: heads.map((head) => head.singletonKey), attempt }, 'deciding a turn keeps failing; deciding its jobs one at a time');
    return await turnTransaction(deps.db, (trx) => runTurn(trx, deps, lanes, 'one-by-one'));
  }
}

/** A turn's transaction, in which no lock is waited for longer than LOCK_TIMEOUT. */
function turnTransaction<T>(db: Db, work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  return db.transaction(async (trx) => {
    await trx.raw(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
    return await work(trx);
  });
}

/**
 * The jobs queued behind each head, in the order pg-boss would hand them out (created_on, id).
 * Nobody else can start them: each lane's one active job is ours. Read while the transaction
 * opens, all lanes at once over pg-boss's pool; the transaction completes them, queued or not.
 */
async function findLanes(deps: DecideDeps, heads: JobWithMetadata<unknown>[]): Promise<Lane[]> {
  const perLane = Math.max(1, Math.floor(deps.batchSize / heads.length)) - 1;
  return await Promise.all(
    heads.map(async (head) => {
      const queued = head.singletonKey && perLane > 0 ? await deps.boss.findJobs<unknown>(ORDERS_QUEUE, { key: head.singletonKey, queued: true, limit: perLane }) : [];
      // With no room for queued jobs, whether any wait is unknown: say so, and the worker fetches
      // again at once (an empty fetch is cheap) instead of leaving a backlog to the backstop poll.
      return { head, jobs: [head, ...queued], full: queued.length === perLane };
    }),
  );
}

interface Applied {
  /** Orders whose status changed: their ids are NOTIFYed. */
  changed: Map<number, OrderStatus>;
  /** Orders that end the turn CONFIRMED: each gets a confirmation email. */
  confirmed: number[];
}

async function runTurn(trx: Knex.Transaction, deps: DecideDeps, lanes: Lane[], mode: 'batch' | 'one-by-one'): Promise<TurnSummary> {
  const bossDb = fromKnex(trx);
  const jobsOf = new Map<Lane, OrderJobData[]>();
  for (const lane of lanes) {
    const jobs: OrderJobData[] = [];
    for (const job of lane.jobs) {
      const data = parseOrderJob(job.data);
      if (data) jobs.push(data);
      else deps.log.error({ jobId: job.id, data: job.data }, 'malformed order job: completed without effect');
    }
    jobsOf.set(lane, jobs);
  }

  const locked = await lockTurn(trx, [...jobsOf.values()].flat());
  const [ready, deferred] = partition(lanes, (lane) => !jobsOf.get(lane)!.some((job) => locked.busyStores.has(locked.orders.get(job.orderId)?.storeId ?? 0)));
  const jobs = ready.flatMap((lane) => jobsOf.get(lane)!);
  const applied = mode === 'batch' ? await applyPlan(trx, jobs, locked) : await applyOneByOne(trx, jobs, deps.log);
  for (const lane of deferred) deps.log.info({ lane: lane.head.singletonKey }, "store's stock is locked by another transaction: its turn is retried later");

  // One statement for the whole turn's emails.
  await enqueueConfirmationEmails(deps.boss, applied.confirmed, bossDb);
  // Every job of the ready lanes, active or queued, in one statement. Should our claim on a head
  // have lapsed (a missed heartbeat) and the job been handed out again, completing it is still
  // right: its orders are decided by this transaction, and the other attempt will find nothing to do.
  const done = ready.flatMap((lane) => lane.jobs.map((job) => job.id));
  if (done.length > 0) await deps.boss.complete(ORDERS_QUEUE, done, null, { includeQueued: true, db: bossDb });

  const decided: TurnSummary['decided'] = {};
  for (const status of applied.changed.values()) decided[status] = (decided[status] ?? 0) + 1;
  return { jobs: done.length, decided, more: ready.some((lane) => lane.full), deferred: deferred.map((lane) => lane.head.id) };
}

function partition<T>(items: T[], test: (item: T) => boolean): [T[], T[]] {
  const yes: T[] = [];
  const no: T[] = [];
  for (const item of items) (test(item) ? yes : no).push(item);
  return [yes, no];
}

interface Locked {
  orders: Map<number, LockedOrder>;
  stock: Map<string, number>;
  /** Stores with a stock row another transaction holds. */
  busyStores: Set<number>;
}

/** Locks the jobs' orders and the stock rows their lines name. */
async function lockTurn(trx: Knex.Transaction, jobs: OrderJobData[]): Promise<Locked> {
  const orders = await lockOrders(trx, [...new Set(jobs.map((job) => job.orderId))]);
  await ensureStockRowsForReturns(trx, jobs, orders);
  return { orders, ...(await lockStock(trx, [...orders.values()])) };
}

/** Plans the jobs in order against the locked rows and writes the plan, as one unit. */
async function applyPlan(trx: Knex.Transaction, jobs: OrderJobData[], locked: Locked): Promise<Applied> {
  const plan = planDecisions(jobs, locked.orders, locked.stock);
  await writePlan(trx, plan);
  const changed = new Map([...plan.orders].map(([id, change]) => [id, change.status]));
  const confirmed = [...changed].filter(([, status]) => status === 'CONFIRMED').map(([id]) => id);
  return { changed, confirmed };
}

/**
 * The slow path after a failed turn: each job in its own savepoint. A job that fails again
 * with a non-transient error is poison; its order is rejected with reason 'processing_error'
 * (a cancellation that cannot be applied leaves the order as it is), so the store moves on.
 * The turn's rows are locked already, so the savepoints find none of them busy.
 */
async function applyOneByOne(trx: Knex.Transaction, jobs: OrderJobData[], log: Logger): Promise<Applied> {
  const result: Applied = { changed: new Map(), confirmed: [] };
  for (const job of jobs) {
    try {
      const applied = await trx.transaction(async (savepoint) => applyPlan(savepoint, [job], await lockTurn(savepoint, [job])));
      for (const [id, status] of applied.changed) result.changed.set(id, status);
      result.confirmed = result.confirmed.filter((id) => applied.changed.get(id) !== 'CANCELLED').concat(applied.confirmed);
    } catch (error) {
      if (isTransientError(error)) throw error;
      log.error({ err: error, orderId: job.orderId, action: job.action }, 'order job failed: setting it aside');
      if (job.action === 'place' && (await rejectAsUnprocessable(trx, job.orderId, log))) {
        result.changed.set(job.orderId, 'REJECTED');
      }
    }
  }
  return result;
}

async function rejectAsUnprocessable(trx: Knex.Transaction, orderId: number, log: Logger): Promise<boolean> {
  try {
    const { rows } = await trx.transaction((savepoint) =>
      savepoint.raw<{ rows: { rejected: number }[] }>(
        `WITH rejected AS (
           UPDATE orders SET status = 'REJECTED', rejection = ?::jsonb, decided_at = now()
           WHERE id = ? AND status = 'PENDING'
           RETURNING id
         )
         SELECT count(pg_notify(?, rejected.id::text)) AS rejected FROM rejected`,
        [JSON.stringify({ reason: 'processing_error', items: [] }), orderId, ORDER_EVENTS_CHANNEL],
      ),
    );
    return rows[0]!.rejected > 0;
  } catch (error) {
    if (isTransientError(error)) throw error;
    log.fatal({ err: error, orderId }, 'order could not be decided nor rejected: it stays PENDING');
    return false;
  }
}

/** Locks the orders (in id order, so concurrent turns cannot deadlock) and reads their lines. */
async function lockOrders(trx: Knex.Transaction, orderIds: number[]): Promise<Map<number, LockedOrder>> {
  const orders = new Map<number, LockedOrder>();
  if (orderIds.length === 0) return orders;
  const rows: { id: number; store_id: number; status: LockedOrder['status']; product_id: number | null; quantity_requested: number | null }[] = await trx('orders as o')
    .leftJoin('order_lines as l', 'l.order_id', 'o.id')
    .whereIn('o.id', orderIds)
    .orderBy([{ column: 'o.id' }, { column: 'l.product_id' }])
    .forUpdate('o')
    .select('o.id', 'o.store_id', 'o.status', 'l.product_id', 'l.quantity_requested');
  for (const row of rows) {
    const order = orders.get(row.id) ?? { id: row.id, storeId: row.store_id, status: row.status, lines: [] };
    if (row.product_id !== null && row.quantity_requested !== null) order.lines.push({ productId: row.product_id, quantity: row.quantity_requested });
    orders.set(row.id, order);
  }
  return orders;
}

/**
 * Stock can only go back to a row that exists. A confirmed order's rows existed when it was
 * confirmed; should one have been removed since, it is recreated at 0 before the locks are
 * taken, so the ledger's running totals stay exact. (An order confirmed within this batch took
 * its stock from rows that exist.)
 */
async function ensureStockRowsForReturns(trx: Knex.Transaction, jobs: OrderJobData[], orders: Map<number, LockedOrder>): Promise<void> {
  const stores: number[] = [];
  const products: number[] = [];
  for (const job of jobs) {
    const order = orders.get(job.orderId);
    if (job.action !== 'cancel' || order?.status !== 'CONFIRMED') continue;
    for (const line of order.lines) {
      stores.push(order.storeId);
      products.push(line.productId);
    }
  }
  if (stores.length === 0) return;
  await trx.raw(
    `INSERT INTO inventory (store_id, product_id, quantity)
     SELECT store_id, product_id, 0 FROM unnest(?::int[], ?::int[]) AS k(store_id, product_id)
     ON CONFLICT (store_id, product_id) DO NOTHING`,
    [stores, products],
  );
}

/**
 * Locks the stock rows the orders' lines name, in (store, product) order. A row another
 * transaction holds is skipped, not waited for, and its store reported busy; a row that does not
 * exist is simply absent (the store does not stock the product).
 */
async function lockStock(trx: Knex.Transaction, orders: LockedOrder[]): Promise<Pick<Locked, 'stock' | 'busyStores'>> {
  const pairs = new Map<string, [number, number]>();
  for (const order of orders) {
    for (const line of order.lines) pairs.set(stockKey(order.storeId, line.productId), [order.storeId, line.productId]);
  }
  const stock = new Map<string, number>();
  const busyStores = new Set<number>();
  if (pairs.size === 0) return { stock, busyStores };
  const { rows } = await trx.raw<{ rows: { store_id: number; product_id: number; quantity: number | null; busy: boolean }[] }>(
    `WITH wanted AS (
       SELECT * FROM unnest(?::int[], ?::int[]) AS w(store_id, product_id)
     ), locked AS MATERIALIZED (
       SELECT i.store_id, i.product_id, i.quantity
       FROM inventory i
       WHERE (i.store_id, i.product_id) IN (SELECT store_id, product_id FROM wanted)
       ORDER BY i.store_id, i.product_id
       FOR UPDATE SKIP LOCKED
     )
     SELECT w.store_id, w.product_id, l.quantity,
       l.quantity IS NULL AND EXISTS (SELECT 1 FROM inventory i WHERE i.store_id = w.store_id AND i.product_id = w.product_id) AS busy
     FROM wanted w LEFT JOIN locked l USING (store_id, product_id)`,
    [[...pairs.values()].map(([store]) => store), [...pairs.values()].map(([, product]) => product)],
  );
  for (const row of rows) {
    if (row.busy) busyStores.add(row.store_id);
    else if (row.quantity !== null) stock.set(stockKey(row.store_id, row.product_id), row.quantity);
  }
  return { stock, busyStores };
}

/**
 * Writes a plan in ONE statement, whatever the number of orders: the stock, its ledger rows,
 * the orders, and a NOTIFY per changed order (delivered when, and only if, the transaction
 * commits; it wakes the long-polls waiting for these orders).
 */
async function writePlan(trx: Knex.Transaction, plan: DecisionPlan): Promise<void> {
  if (plan.orders.size === 0) return;
  const deltas = [...plan.stockDeltas.values()].filter((d) => d.delta !== 0);
  const ledger = plan.ledger;
  const changes = [...plan.orders].map(([id, change]) => ({ id, ...change }));
  await trx.raw(
    `WITH stock AS (
       UPDATE inventory AS i SET quantity = i.quantity + d.delta
       FROM unnest(?::int[], ?::int[], ?::int[]) AS d(store_id, product_id, delta)
       WHERE i.store_id = d.store_id AND i.product_id = d.product_id
     ), ledger AS (
       -- WITH ORDINALITY + ORDER BY: ledger ids follow the order the changes happened in.
       INSERT INTO stock_ledger (store_id, product_id, delta, quantity_after, reason, order_id)
       SELECT store_id, product_id, delta, quantity_after, reason, order_id
       FROM unnest(?::int[], ?::int[], ?::int[], ?::int[], ?::text[], ?::int[])
         WITH ORDINALITY AS r(store_id, product_id, delta, quantity_after, reason, order_id, n)
       ORDER BY n
     ), decided AS (
       UPDATE orders AS o SET
         status = c.status,
         rejection = c.rejection,
         decided_at = CASE WHEN c.decided THEN now() ELSE o.decided_at END,
         cancelled_at = CASE WHEN c.cancelled THEN now() ELSE o.cancelled_at END
       FROM jsonb_to_recordset(?::jsonb) AS c(id int, status text, rejection jsonb, decided boolean, cancelled boolean)
       -- The id list lets the planner find the rows by index: it cannot see into the recordset,
       -- and would otherwise hash-join it against a scan of the whole orders table.
       WHERE o.id = c.id AND o.id = ANY(?::int[])
       RETURNING o.id
     )
     SELECT count(pg_notify(?, decided.id::text)) FROM decided`,
    [
      deltas.map((d) => d.storeId),
      deltas.map((d) => d.productId),
      deltas.map((d) => d.delta),
      ledger.map((r) => r.storeId),
      ledger.map((r) => r.productId),
      ledger.map((r) => r.delta),
      ledger.map((r) => r.quantityAfter),
      ledger.map((r) => r.reason),
      ledger.map((r) => r.orderId),
      JSON.stringify(changes),
      changes.map((c) => c.id),
      ORDER_EVENTS_CHANNEL,
    ],
  );
}
