import type { PgBoss } from 'pg-boss';
import type { Db } from '../db.ts';
import type { OrderStatus } from '../models/order.ts';
import { conflict, notFound } from '../problems.ts';
import { sendOrderJob } from './jobs.ts';

// Cancelling is a request, decided by the order worker in the store's line like a placement: a
// cancellation queued after an order was placed runs after that order's decision, and after
// every other order the store received in between. The worker cancels a PENDING or CONFIRMED
// order (returning a confirmed order's stock) and ignores the request for an order that was
// rejected meanwhile, so repeating a cancellation never returns stock twice.

/** Queues the cancellation of the caller's order. 404 if it is not theirs, 409 if it is final. */
export async function requestCancellation(deps: { db: Db; boss: PgBoss }, userId: number, orderId: number): Promise<void> {
  const order = await deps.db('orders').where({ id: orderId, user_id: userId }).first<{ store_id: number; status: OrderStatus } | undefined>('store_id', 'status');
  if (!order) throw notFound(`There is no order ${orderId}.`);
  if (order.status === 'REJECTED' || order.status === 'CANCELLED') {
    throw conflict(`Order ${orderId} is ${order.status}; only a PENDING or CONFIRMED order can be cancelled.`);
  }
  await sendOrderJob(deps.boss, deps.db, order.store_id, { orderId, action: 'cancel' });
}
