import type { Db } from '../db.ts';
import type { Mailer, OutgoingEmail } from './mailer.ts';

// The confirmation email of one order: what it says, and the rule for when it is sent.
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

/** The order with what its email needs, or null when there is no such order. */
export async function loadConfirmationOrder(db: Db, orderId: number): Promise<ConfirmationOrder | null> {
  const order = await db('orders as o')
    .join('users as u', 'u.id', 'o.user_id')
    .join('stores as s', 's.id', 'o.store_id')
    .where('o.id', orderId)
    .first<{ id: number; status: string; username: string; email: string; store_name: string; store_city: string } | undefined>(
      'o.id', 'o.status', 'u.username', 'u.email', 's.name as store_name', 's.city as store_city',
    );
  if (!order) return null;
  const lines = await db('order_lines as l')
    .join('products as p', 'p.id', 'l.product_id')
    .where('l.order_id', orderId)
    .orderBy('l.id')
    .select<{ title: string; quantity: number; unit_price: string; line_total: string; order_total: string }[]>(
      'p.title',
      'l.quantity_requested as quantity',
      'l.unit_price',
      db.raw('l.quantity_requested * l.unit_price AS line_total'),
      db.raw('sum(l.quantity_requested * l.unit_price) OVER () AS order_total'),
    );
  return {
    id: order.id,
    status: order.status,
    username: order.username,
    email: order.email,
    storeName: order.store_name,
    storeCity: order.store_city,
    lines: lines.map((l) => ({ title: l.title, quantity: l.quantity, unitPrice: l.unit_price, lineTotal: l.line_total })),
    total: lines[0]?.order_total ?? '0.00',
  };
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
 * Sends the confirmation email of `orderId` if the order is (still) CONFIRMED. The job is queued
 * in the transaction that confirms the order, but the order may be cancelled before the job
 * runs: then the email is skipped, because a "confirmed" email for a cancelled order would
 * mislead the customer. Throws when the mailer fails, so the job is retried.
 */
export async function sendOrderConfirmation(db: Db, mailer: Mailer, orderId: number, from: string): Promise<ConfirmationOutcome> {
  const order = await loadConfirmationOrder(db, orderId);
  if (!order) return 'skipped: order not found';
  if (order.status !== 'CONFIRMED') return `skipped: order is ${order.status}`;
  await mailer.send(confirmationEmail(order, from));
  return 'sent';
}

function mailDomain(from: string): string {
  return /@([^\s>@]+)>?\s*$/.exec(from)?.[1] ?? 'localhost';
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
