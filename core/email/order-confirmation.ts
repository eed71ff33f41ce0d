import type { Db } from '../db.ts';
import type { Mailer, OutgoingEmail } from './mailer.ts';

// The confirmation email of an order: what it says, and the rule for when it is sent.
//
// Money stays exact: line totals and the order total are computed by PostgreSQL in `numeric`
// (quantity × unit_price keeps the two decimal places) and reach us as decimal strings.

export interface ConfirmationOrder {
  id: number;
  status: string;
  username: string;
  email: string;
  storeName: string;
  storeCity: string;
  lines: { title: string; quantity: number; unitPrice: string; lineTotal: string }[];
  total: string;
}

/**
 * The orders with what their emails need, in ONE query however many there are (an email worker
 * takes its jobs in batches). An id with no order is missing from the map.
 */
export async function loadConfirmationOrders(db: Db, orderIds: number[]): Promise<Map<number, ConfirmationOrder>> {
  const { rows } = await db.raw<{ rows: ConfirmationOrder[] }>(
    `SELECT o.id, o.status, u.username, u.email, s.name AS "storeName", s.city AS "storeCity",
       coalesce(l.lines, '[]') AS lines, coalesce(l.total, 0.00)::text AS total
     FROM orders o
     JOIN users u ON u.id = o.user_id
     JOIN stores s ON s.id = o.store_id
     LEFT JOIN LATERAL (
       SELECT json_agg(json_build_object(
                'title', p.title, 'quantity', l.quantity_requested,
                'unitPrice', l.unit_price::text, 'lineTotal', (l.quantity_requested * l.unit_price)::text
              ) ORDER BY l.id) AS lines,
              sum(l.quantity_requested * l.unit_price) AS total
       FROM order_lines l JOIN products p ON p.id = l.product_id
       WHERE l.order_id = o.id
     ) l ON true
     WHERE o.id = ANY(?::int[])`,
    [orderIds],
  );
  return new Map(rows.map((order) => [order.id, order]));
}

/** The message for a confirmed order. `from` is MAIL_FROM; its domain names the Message-ID. */
export function confirmationEmail(order: ConfirmationOrder, from: string): OutgoingEmail {
  const store = order.storeCity ? `${order.storeName} (${order.storeCity})` : order.storeName;
  const text = [
    `Hello ${order.username},`,
    '',
    `Your order #${order.id} at ${store} is confirmed.`,
    '',
    ...order.lines.map((l) => `  ${l.quantity} x ${l.title} @ ${l.unitPrice} = ${l.lineTotal}`),
    '',
    `TOTAL: ${order.total}`,
    '',
    'Thank you for your order.',
    '',
  ].join('\n');
  const rows = order.lines
    .map((l) => `<tr><td>${escapeHtml(l.title)}</td><td align="right">${l.quantity}</td><td align="right">${l.unitPrice}</td><td align="right">${l.lineTotal}</td></tr>`)
    .join('\n');
  const html = `<p>Hello ${escapeHtml(order.username)},</p>
<p>Your order #${order.id} at ${escapeHtml(store)} is confirmed.</p>
<table>
<tr><th align="left">Product</th><th>Quantity</th><th>Unit price</th><th>Line total</th></tr>
${rows}
<tr><th align="left" colspan="3">TOTAL</th><th align="right">${order.total}</th></tr>
</table>
<p>Thank you for your order.</p>
`;
  return {
    to: order.email,
    subject: `Order #${order.id} confirmed`,
    text,
    html,
    messageId: `<order-${order.id}-confirmation@${mailDomain(from)}>`,
  };
}

export type ConfirmationOutcome = 'sent' | 'skipped: order not found' | `skipped: order is ${string}`;

/**
 * Sends the confirmation email of each order that is (still) CONFIRMED; the outcomes are aligned
 * with `orderIds`, each settled on its own. The job is queued in the transaction that confirms
 * the order, but the order may be cancelled before the job runs: then the email is skipped,
 * because a "confirmed" email for a cancelled order would mislead the customer. A send the mailer
 * fails is a rejected outcome, so its job is retried.
 */
export async function sendOrderConfirmations(db: Db, mailer: Mailer, orderIds: number[], from: string): Promise<PromiseSettledResult<ConfirmationOutcome>[]> {
  const orders = await loadConfirmationOrders(db, orderIds);
  return await Promise.allSettled(
    orderIds.map(async (orderId): Promise<ConfirmationOutcome> => {
      const order = orders.get(orderId);
      if (!order) return 'skipped: order not found';
      if (order.status !== 'CONFIRMED') return `skipped: order is ${order.status}`;
      await mailer.send(confirmationEmail(order, from));
      return 'sent';
    }),
  );
}

function mailDomain(from: string): string {
  return /@([^\s>@]+)>?\s*$/.exec(from)?.[1] ?? 'localhost';
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
