import type { OrderStatus, Rejection } from '../models/order.ts';
import type { OrderJobData } from './jobs.ts';

// The decision rules, as a pure function over rows the caller has already locked: which orders
// change, how each store's stock moves, and the ledger rows that record it. Jobs are applied in
// queue order, each order all-or-nothing, against the stock as the jobs before it left it, so a
// batch decides exactly what one-job-at-a-time would have decided.

export interface LockedOrder {
  id: number;
  storeId: number;
  status: OrderStatus;
  lines: { productId: number; quantity: number }[];
}

export interface OrderChange {
  status: OrderStatus;
  rejection: Rejection | null;
  /** Sets decided_at (first decision: confirmed, rejected, or cancelled while pending). */
  decided: boolean;
  /** Sets cancelled_at. */
  cancelled: boolean;
}

export interface LedgerRow {
  storeId: number;
  productId: number;
  delta: number;
  quantityAfter: number;
  reason: 'order_confirmed' | 'order_cancelled';
  orderId: number;
}

export interface DecisionPlan {
  /** Final state of every order that changed, by id. */
  orders: Map<number, OrderChange>;
  /** Net change of each stock row, by stockKey(). */
  stockDeltas: Map<string, { storeId: number; productId: number; delta: number }>;
  /** In the order the changes happened. */
  ledger: LedgerRow[];
}

export const stockKey = (storeId: number, productId: number) => `${storeId}:${productId}`;

/**
 * @param jobs in queue order
 * @param orders the jobs' orders, locked, by id
 * @param stock the locked quantity of every (store, product) the orders' lines name; a missing
 *   key means the store does not stock the product (nothing available)
 */
export function planDecisions(jobs: OrderJobData[], orders: Map<number, LockedOrder>, stock: Map<string, number>): DecisionPlan {
  const plan: DecisionPlan = { orders: new Map(), stockDeltas: new Map(), ledger: [] };
  const available = new Map(stock);
  const statusOf = (order: LockedOrder) => plan.orders.get(order.id)?.status ?? order.status;

  const move = (order: LockedOrder, sign: 1 | -1, reason: LedgerRow['reason']) => {
    for (const line of order.lines) {
      const key = stockKey(order.storeId, line.productId);
      const delta = sign * line.quantity;
      const quantityAfter = (available.get(key) ?? 0) + delta;
      available.set(key, quantityAfter);
      const total = plan.stockDeltas.get(key) ?? { storeId: order.storeId, productId: line.productId, delta: 0 };
      total.delta += delta;
      plan.stockDeltas.set(key, total);
      plan.ledger.push({ storeId: order.storeId, productId: line.productId, delta, quantityAfter, reason, orderId: order.id });
    }
  };

  for (const job of jobs) {
    const order = orders.get(job.orderId);
    // A job whose order is gone, a redelivery of a decided one, or a cancel of a rejected or
    // cancelled order changes nothing.
    if (!order) continue;
    const status = statusOf(order);
    if (job.action === 'place' && status === 'PENDING') {
      const short = order.lines
        .map((line) => ({ product_id: line.productId, requested: line.quantity, available: available.get(stockKey(order.storeId, line.productId)) ?? 0 }))
        .filter((line) => line.available < line.requested);
      if (order.lines.length === 0) {
        // Cannot come from the API (1-50 lines); an order without lines is corrupt, not free.
        plan.orders.set(order.id, { status: 'REJECTED', rejection: { reason: 'invalid_order', items: [] }, decided: true, cancelled: false });
      } else if (short.length > 0) {
        plan.orders.set(order.id, { status: 'REJECTED', rejection: { reason: 'insufficient_stock', items: short }, decided: true, cancelled: false });
      } else {
        move(order, -1, 'order_confirmed');
        plan.orders.set(order.id, { status: 'CONFIRMED', rejection: null, decided: true, cancelled: false });
      }
    } else if (job.action === 'cancel' && status === 'PENDING') {
      plan.orders.set(order.id, { status: 'CANCELLED', rejection: null, decided: true, cancelled: true });
    } else if (job.action === 'cancel' && status === 'CONFIRMED') {
      move(order, 1, 'order_cancelled');
      // Keeps decided_at (when it was confirmed) unless it was confirmed in this same batch.
      const decided = plan.orders.get(order.id)?.decided ?? false;
      plan.orders.set(order.id, { status: 'CANCELLED', rejection: null, decided, cancelled: true });
    }
  }
  return plan;
}
