import { createHash } from 'node:crypto';
import type { PgBoss } from 'pg-boss';
import type { Db } from '../db.ts';
import { badRequest, conflict, type FieldError } from '../problems.ts';
import { isForeignKeyViolation, isUniqueViolation } from './db-errors.ts';
import { sendOrderJob } from './jobs.ts';
import { findOrder, toOrderView, type OrderRecord, type OrderView } from './read-orders.ts';

// Placing an order: the order, its lines and its decision job commit in one transaction, so an
// order the client was told about (202) is durable and will be decided, and a failed request
// leaves nothing behind.

/** The request body, already checked for shape (1-50 distinct products, quantities 1-1000). */
export interface PlaceOrderRequest {
  store_id: number;
  items: { product_id: number; quantity_requested: number }[];
}

export interface Placed {
  order: OrderView;
  /** An earlier request with the same Idempotency-Key placed it; this one placed nothing. */
  replayed: boolean;
}

interface Deps {
  db: Db;
  boss: PgBoss;
}

const IDEMPOTENCY_CONSTRAINT = 'orders_user_idempotency_key_unique';
const STORE_CONSTRAINT = 'orders_store_id_foreign';

/** The insert found fewer products than the request named. */
class UnknownCatalogIds extends Error {}

export async function placeOrder(deps: Deps, userId: number, request: PlaceOrderRequest, idempotencyKey?: string): Promise<Placed> {
  const fingerprint = idempotencyKey === undefined ? null : requestFingerprint(request);
  if (idempotencyKey !== undefined) {
    const earlier = await replayOf(deps.db, userId, idempotencyKey, fingerprint);
    if (earlier) return earlier;
  }
  try {
    const order = await deps.db.transaction(async (trx) => {
      // The order and its lines in one statement; unit_price is the price now, kept with the
      // order, and the lines keep the request's order.
      const { rows } = await trx.raw<{ rows: (OrderRecord & { lines: OrderRecord['lines'] | null })[] }>(
        `WITH placed AS (
           INSERT INTO orders (user_id, store_id, idempotency_key, request_fingerprint) VALUES (?, ?, ?, ?)
           RETURNING id, status, store_id, rejection, created_at, decided_at, cancelled_at
         ), lines AS (
           INSERT INTO order_lines (order_id, product_id, quantity_requested, unit_price)
           SELECT placed.id, r.product_id, r.quantity, p.price
           FROM placed, unnest(?::int[], ?::int[]) WITH ORDINALITY AS r(product_id, quantity, n)
           JOIN products p ON p.id = r.product_id
           ORDER BY r.n
           RETURNING id, product_id, quantity_requested, unit_price
         )
         SELECT placed.*, (
           SELECT json_agg(json_build_object('product_id', product_id, 'quantity_requested', quantity_requested, 'unit_price', unit_price::text) ORDER BY id)
           FROM lines
         ) AS lines
         FROM placed`,
        [userId, request.store_id, idempotencyKey ?? null, fingerprint, request.items.map((item) => item.product_id), request.items.map((item) => item.quantity_requested)],
      );
      const placed = rows[0]!;
      // Unknown products drop out of the join; an unknown store fails its foreign key (below).
      if (placed.lines?.length !== request.items.length) throw new UnknownCatalogIds();
      await sendOrderJob(deps.boss, trx, request.store_id, { orderId: placed.id, action: 'place' });
      return placed;
    });
    return { order: toOrderView(order), replayed: false };
  } catch (error) {
    // Checking the ids only when the insert failed saves every valid order a round trip.
    if (error instanceof UnknownCatalogIds || isForeignKeyViolation(error, STORE_CONSTRAINT)) {
      await assertCatalogIds(deps.db, request);
      throw badRequest('A product of this order was removed while it was placed.');
    }
    // The same key sent twice at once: the second insert waited for the first to commit and hit
    // the unique index. That request is a replay of the first.
    if (idempotencyKey !== undefined && isUniqueViolation(error, IDEMPOTENCY_CONSTRAINT)) {
      const earlier = await replayOf(deps.db, userId, idempotencyKey, fingerprint);
      if (earlier) return earlier;
    }
    throw error;
  }
}

/** sha256 of the body in canonical form: the same items in any order are the same request. */
export function requestFingerprint(request: PlaceOrderRequest): string {
  const items = request.items.map((item) => [item.product_id, item.quantity_requested]).sort((a, b) => a[0]! - b[0]!);
  return createHash('sha256').update(JSON.stringify({ store_id: request.store_id, items })).digest('hex');
}

/** The order an earlier request with this key placed, if any; 409 if it had a different body. */
async function replayOf(db: Db, userId: number, idempotencyKey: string, fingerprint: string | null): Promise<Placed | null> {
  const earlier = await db('orders').where({ user_id: userId, idempotency_key: idempotencyKey }).first<{ id: number; request_fingerprint: string } | undefined>('id', 'request_fingerprint');
  if (!earlier) return null;
  if (earlier.request_fingerprint !== fingerprint) {
    throw conflict('This Idempotency-Key was already used for a different order; use a new key for a new order.');
  }
  const order = await findOrder(db, userId, earlier.id);
  return order && { order, replayed: true };
}

/** 400 naming every store or product id that does not exist. */
async function assertCatalogIds(db: Db, request: PlaceOrderRequest): Promise<void> {
  const productIds = request.items.map((item) => item.product_id);
  const { rows } = await db.raw<{ rows: { store: boolean; known: number[] }[] }>(
    'SELECT EXISTS (SELECT 1 FROM stores WHERE id = ?) AS store, ARRAY(SELECT id FROM products WHERE id = ANY(?::int[])) AS known',
    [request.store_id, productIds],
  );
  const { store, known } = rows[0]!;
  const errors: FieldError[] = [];
  if (!store) errors.push({ path: 'store_id', message: `There is no store ${request.store_id}.` });
  const knownIds = new Set(known);
  request.items.forEach((item, index) => {
    if (!knownIds.has(item.product_id)) errors.push({ path: `items.${index}.product_id`, message: `There is no product ${item.product_id}.` });
  });
  if (errors.length === 0) return;
  const unknownProducts = productIds.filter((id) => !knownIds.has(id));
  const named = [
    ...(store ? [] : [`store ${request.store_id}`]),
    ...(unknownProducts.length ? [`product${unknownProducts.length > 1 ? 's' : ''} ${unknownProducts.join(', ')}`] : []),
  ];
  throw badRequest(`Unknown ${named.join(' and ')}.`, errors);
}
