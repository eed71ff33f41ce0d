import { Counter } from 'prom-client';
import type { OrderStatus } from '../models/order.ts';

// Orders decided by this process, by outcome (in the global prom-client registry, which
// /metrics serves when the workers share a process with the web server, as in `npm start`).
const decided = new Counter({
  name: 'orders_decided_total',
  help: 'Orders decided by the order worker, by resulting status',
  labelNames: ['status'] as const,
});

export function recordDecisions(counts: Partial<Record<OrderStatus, number>>): void {
  for (const [status, count] of Object.entries(counts)) decided.inc({ status }, count);
}
