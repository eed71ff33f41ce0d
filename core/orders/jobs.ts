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

/** Queues a job through `db` (the caller's transaction), so it commits and notifies workers with it. */
export async function sendOrderJob(boss: PgBoss, db: Knex, storeId: number, data: OrderJobData): Promise<void> {
  await boss.send(ORDERS_QUEUE, data, { singletonKey: storeLane(storeId), db: fromKnex(db) });
}

/** The job's data if it is well-formed, else null (a job never comes from anywhere but here). */
export function parseOrderJob(data: unknown): OrderJobData | null {
  const { orderId, action = 'place' } = (data ?? {}) as { orderId?: unknown; action?: unknown };
  if (typeof orderId !== 'number' || !Number.isSafeInteger(orderId) || orderId <= 0) return null;
  if (action !== 'place' && action !== 'cancel') return null;
  return { orderId, action };
}
