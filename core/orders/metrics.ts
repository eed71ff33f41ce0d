import { Counter, Gauge, Histogram } from 'prom-client';
import type { OrderStatus } from '../models/order.ts';

// Orders decided by this process, by outcome (in the global prom-client registry, which worker
// processes serve on METRICS_PORT, and `npm start`'s one process on its /metrics).
const decided = new Counter({
  name: 'orders_decided_total',
  help: 'Orders decided by the order worker, by resulting status',
  labelNames: ['status'] as const,
});

export function recordDecisions(counts: Partial<Record<OrderStatus, number>>): void {
  for (const [status, count] of Object.entries(counts)) decided.inc({ status }, count);
}

// Orders per placement transaction in this web process (group commit): mostly 1 when the web
// process is idle, growing with load. A batch pinned at its maximum means placements queue up.
const placementBatch = new Histogram({
  name: 'order_placement_batch_size',
  help: 'Orders placed per placement transaction (group commit)',
  buckets: [1, 2, 5, 10, 20, 50, 100, 200],
});

export function recordPlacementBatch(orders: number): void {
  placementBatch.observe(orders);
}

// Long-polls (`?wait=`) this web process holds open, waiting for a decision: each holds a socket,
// not a database connection (one LISTEN connection wakes them all).
const longPolls = new Gauge({
  name: 'order_long_polls_waiting',
  help: 'Order requests (?wait=) this web process holds, waiting for a decision',
});

export function recordLongPollsWaiting(waiting: number): void {
  longPolls.set(waiting);
}
