import type { Db } from '../db.ts';
import { Order, type OrderLine, type OrderStatus, type Rejection } from '../models/order.ts';
import { notFound } from '../problems.ts';
import type { OrderEvents } from './order-events.ts';

// Orders as their owner sees them. Another user's order reads exactly like a missing one.

export interface OrderView {
  id: number;
  status: OrderStatus;
  store_id: number;
  /** In the order they were placed. unit_price is the price when the order was placed. */
  items: { product_id: number; quantity_requested: number; unit_price: string }[];
  /** Only on a REJECTED order. */
  rejection?: Rejection;
  created_at: string;
  decided_at: string | null;
  cancelled_at: string | null;
}

/** An order row with its lines, as a model or as rows just inserted. */
export type OrderRecord = Pick<Order, 'id' | 'status' | 'store_id' | 'rejection' | 'created_at' | 'decided_at' | 'cancelled_at'> & {
  lines?: Pick<OrderLine, 'product_id' | 'quantity_requested' | 'unit_price'>[];
};

export function toOrderView(order: OrderRecord): OrderView {
  return {
    id: order.id,
    status: order.status,
    store_id: order.store_id,
    items: (order.lines ?? []).map((line) => ({ product_id: line.product_id, quantity_requested: line.quantity_requested, unit_price: line.unit_price })),
    ...(order.status === 'REJECTED' && order.rejection ? { rejection: order.rejection } : {}),
    created_at: order.created_at.toISOString(),
    decided_at: order.decided_at?.toISOString() ?? null,
    cancelled_at: order.cancelled_at?.toISOString() ?? null,
  };
}

const ordersWithLines = (db: Db) => Order.query(db).withGraphFetched('lines').modifyGraph('lines', (lines) => lines.orderBy('id'));

/** The caller's order, or null when there is none with this id (or it is someone else's). */
export async function findOrder(db: Db, userId: number, orderId: number): Promise<OrderView | null> {
  const order = await ordersWithLines(db).findOne({ id: orderId, user_id: userId });
  return order ? toOrderView(order) : null;
}

/** One page of the caller's orders, newest first. */
export async function listOrders(db: Db, userId: number, page: number, pageSize: number): Promise<{ count: number; results: OrderView[] }> {
  const [counted, orders] = await Promise.all([
    db('orders').where('user_id', userId).count<{ count: number }[]>('* as count'),
    ordersWithLines(db)
      .where('user_id', userId)
      .orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }])
      .limit(pageSize)
      .offset((page - 1) * pageSize),
  ]);
  return { count: counted[0]?.count ?? 0, results: orders.map(toOrderView) };
}

export interface AwaitOptions {
  /** 0: answer at once. */
  waitMs: number;
  /** The state worth answering early for. */
  until: (status: OrderStatus) => boolean;
  /** Aborted when the client goes away. */
  signal?: AbortSignal;
}

/**
 * The caller's order, after waiting up to `waitMs` for `until` to hold. Woken by the decision's
 * NOTIFY; the database is read at the start and on each wake-up only. 404 when it is not theirs.
 */
export async function awaitOrder(db: Db, events: OrderEvents, userId: number, orderId: number, options: AwaitOptions): Promise<OrderView> {
  const read = () => findOrder(db, userId, orderId);
  const order = options.waitMs > 0
    ? await events.waitFor(orderId, read, (found) => !found || options.until(found.status), options.waitMs, options.signal)
    : await read();
  if (!order) throw notFound(`There is no order ${orderId}.`);
  return order;
}
