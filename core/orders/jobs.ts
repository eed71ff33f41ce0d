import { randomBytes } from 'node:crypto';
import { fromKnex, type PgBoss } from 'pg-boss';
import type { Knex } from 'knex';
import { ORDERS_QUEUE } from '../queue.ts';

// The jobs of the orders queue. Placing and cancelling share one queue and one key per store, so
// a cancellation is decided in its place in the store's line, after everything queued before it.

export type OrderAction = 'place' | 'cancel';

export interface OrderJobData {
  orderId: number;
  action: OrderAction;
}

/** The FIFO lane of a store: one active job per key, cluster-wide. */
export function storeLane(storeId: number): string {
  return `store-${storeId}`;
}

/** Queues a job through `db`: in a transaction it commits and notifies workers with it; on the pool at once. */
export async function sendOrderJob(boss: PgBoss, db: Knex, storeId: number, data: OrderJobData): Promise<void> {
  await boss.send(ORDERS_QUEUE, data, { singletonKey: storeLane(storeId), db: fromKnex(db) });
}

/**
 * Queues the placement of orders just inserted through `db` (the caller's transaction), in one
 * statement. Jobs inserted together share their created_on, and pg-boss breaks that tie by job
 * id; these ids share a random prefix and end in the order's position, so the store's lane
 * decides them in the order they were placed.
 */
export async function queuePlacements(boss: PgBoss, db: Knex, orders: { id: number; store_id: number }[]): Promise<void> {
  if (orders.length === 0) return;
  const prefix = randomBytes(10).toString('hex'); // 20 of a uuid's 32 hex digits
  const jobs = orders.map((order, index) => {
    const hex = `${prefix}${index.toString(16).padStart(12, '0')}`;
    const id = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    const data: OrderJobData = { orderId: order.id, action: 'place' };
    return { id, data, singletonKey: storeLane(order.store_id) };
  });
  await boss.insert(ORDERS_QUEUE, jobs, { db: fromKnex(db) });
}

/** orders.id is a PostgreSQL integer: an id above this is no order, and would fail the turn's statements. */
const LARGEST_ORDER_ID = 2_147_483_647;

/** The job's data if it is well-formed, else null (a job never comes from anywhere but here). */
export function parseOrderJob(data: unknown): OrderJobData | null {
  const { orderId, action = 'place' } = (data ?? {}) as { orderId?: unknown; action?: unknown };
  if (typeof orderId !== 'number' || !Number.isInteger(orderId) || orderId <= 0 || orderId > LARGEST_ORDER_ID) return null;
  if (action !== 'place' && action !== 'cancel') return null;
  return { orderId, action };
}
