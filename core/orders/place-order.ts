import { createHash } from 'node:crypto';
import type { PgBoss } from 'pg-boss';
import type { Db } from '../db.ts';
import { badRequest, conflict, unauthorized, type FieldError } from '../problems.ts';
import { isForeignKeyViolation } from '../db-errors.ts';
import { queuePlacements } from './jobs.ts';
import { findOrder, toOrderView, type OrderRecord, type OrderView } from './read-orders.ts';

// Placing orders: each order, its lines and its decision job commit in one transaction, so an
// order the client was told about (202) is durable and will be decided, and a failed request
// leaves nothing behind. Several orders may share that transaction (see placement-batcher.ts);
// each is still placed whole or not at all.

/** The request body, already checked for shape (1-50 distinct products, quantities 1-1000). */
export interface PlaceOrderRequest {
  store_id: number;
  items: { product_id: number; quantity_requested: number }[];
}

export interface Placement {
  userId: number;
  request: PlaceOrderRequest;
  idempotencyKey?: string | undefined;
}

export interface Placed {
  order: OrderView;
  /** An earlier request with the same Idempotency-Key placed it; this one placed nothing. */
  replayed: boolean;
}

export interface PlaceDeps {
  db: Db;
  boss: PgBoss;
}

/** Places one order on its own: the placed order, or the 4xx that explains why not. */
export async function placeOrder(deps: PlaceDeps, placement: Placement): Promise<Placed> {
  const placed = await placeAlone(deps, placement);
  return placed ? { order: toOrderView(placed), replayed: false } : await explainUnplaced(deps, placement);
}

/**
 * Places the orders in one transaction. The result is aligned with `placements`: the placed
 * order, or undefined for one this statement left out (an unknown store or product, or an
 * Idempotency-Key already used): explainUnplaced says why, once the transaction is over.
 */
export async function placeOrders(deps: PlaceDeps, placements: Placement[]): Promise<(OrderRecord | undefined)[]> {
  return await deps.db.transaction(async (trx) => {
    const placed = await insertOrders(trx, placements);
    await queuePlacements(deps.boss, trx, placements.flatMap((_, n) => placed[n] ?? []));
    return placed;
  });
}

/**
 * Why an order was not placed, as the answer its request gets: the order an earlier request with
 * the same Idempotency-Key placed (a replay), else a 409 (that key, another body), a 401 (the
 * account was deleted since its access token was issued) or a 400 naming the unknown ids. Should
 * none of those hold any more, it is placed now, on its own.
 */
export async function explainUnplaced(deps: PlaceDeps, placement: Placement): Promise<Placed> {
  const { userId, request, idempotencyKey } = placement;
  if (idempotencyKey !== undefined) {
    const earlier = await replayOf(deps.db, userId, idempotencyKey, requestFingerprint(request));
    if (earlier) return earlier;
  }
  await assertPlaceable(deps.db, userId, request);
  // The account, store and products exist now, and the key is free: what was missing came back.
  const placed = await placeAlone(deps, placement);
  if (!placed) {
    // Removed again meanwhile (the account, the store or a product): say which, as above.
    await assertPlaceable(deps.db, userId, request);
    throw badRequest('A product of this order was removed while it was placed.');
  }
  return { order: toOrderView(placed), replayed: false };
}

/**
 * One order in its own transaction; undefined when it was left out, or when its store or a
 * product was deleted between the statement's snapshot and its foreign-key check.
 */
async function placeAlone(deps: PlaceDeps, placement: Placement): Promise<OrderRecord | undefined> {
  try {
    const [placed] = await placeOrders(deps, [placement]);
    return placed;
  } catch (error) {
    if (isForeignKeyViolation(error)) return undefined;
    throw error;
  }
}

/**
 * Inserts the orders and their lines in ONE statement, whatever their number. An order is left
 * out, whole, when its user (an account deleted since its token was issued), its store or one of
 * its products does not exist, or when its Idempotency-Key
 * was used already (by an earlier order, or earlier in this batch). unit_price is the price now,
 * kept with the order; lines keep the request's order; ids follow the placements' order.
 */
async function insertOrders(trx: Db, placements: Placement[]): Promise<(OrderRecord | undefined)[]> {
  const lines = placements.flatMap((p, n) => p.request.items.map((item) => ({ n, ...item })));
  const { rows } = await trx.raw<{ rows: (OrderRecord & { n: number })[] }>(
    `WITH requested AS (
       SELECT * FROM unnest(?::int[], ?::int[], ?::text[], ?::text[]) WITH ORDINALITY AS r(user_id, store_id, idempotency_key, request_fingerprint, n)
     ), requested_lines AS (
       SELECT * FROM unnest(?::int[], ?::int[], ?::int[]) WITH ORDINALITY AS l(n, product_id, quantity, k)
     ), priced AS (
       SELECT l.n, l.k, l.product_id, l.quantity, p.price
       FROM requested_lines l LEFT JOIN products p ON p.id = l.product_id
     ), placeable AS MATERIALIZED (
       SELECT r.*, nextval(pg_get_serial_sequence('orders', 'id')) AS id
       FROM requested r
       WHERE EXISTS (SELECT 1 FROM stores s WHERE s.id = r.store_id)
         AND EXISTS (SELECT 1 FROM users u WHERE u.id = r.user_id)
         AND NOT EXISTS (SELECT 1 FROM priced p WHERE p.n = r.n AND p.price IS NULL)
       ORDER BY r.n
     ), placed AS (
       INSERT INTO orders (id, user_id, store_id, idempotency_key, request_fingerprint)
       SELECT id, user_id, store_id, idempotency_key, request_fingerprint FROM placeable ORDER BY n
       ON CONFLICT (user_id, idempotency_key) DO NOTHING
       RETURNING id, status, store_id, rejection, created_at, decided_at, cancelled_at
     ), placed_lines AS (
       INSERT INTO order_lines (order_id, product_id, quantity_requested, unit_price)
       SELECT placed.id, p.product_id, p.quantity, p.price
       FROM priced p JOIN placeable USING (n) JOIN placed ON placed.id = placeable.id
       ORDER BY p.k
       RETURNING id, order_id, product_id, quantity_requested, unit_price
     )
     SELECT placeable.n, placed.*, (
       SELECT json_agg(json_build_object('product_id', product_id, 'quantity_requested', quantity_requested, 'unit_price', unit_price::text) ORDER BY id)
       FROM placed_lines WHERE placed_lines.order_id = placed.id
     ) AS lines
     FROM placed JOIN placeable USING (id)`,
    [
      placements.map((p) => p.userId),
      placements.map((p) => p.request.store_id),
      // null elements (orders without a key) go to PostgreSQL as NULL; knex's types only lack them.
      placements.map((p) => p.idempotencyKey ?? null) as string[],
      placements.map((p) => (p.idempotencyKey === undefined ? null : requestFingerprint(p.request))) as string[],
      lines.map((line) => line.n + 1), // WITH ORDINALITY counts from 1
      lines.map((line) => line.product_id),
      lines.map((line) => line.quantity_requested),
    ],
  );
  const placed = new Array<OrderRecord | undefined>(placements.length);
  for (const { n, ...order } of rows) placed[Number(n) - 1] = order;
  return placed;
}

/** sha256 of the body in canonical form: the same items in any order are the same request. */
export function requestFingerprint(request: PlaceOrderRequest): string {
  const items = request.items.map((item) => [item.product_id, item.quantity_requested]).sort((a, b) => a[0]! - b[0]!);
  return createHash('sha256').update(JSON.stringify({ store_id: request.store_id, items })).digest('hex');
}

/** The order an earlier request with this key placed, if any; 409 if it had a different body. */
async function replayOf(db: Db, userId: number, idempotencyKey: string, fingerprint: string): Promise<Placed | null> {
  const earlier = await db('orders').where({ user_id: userId, idempotency_key: idempotencyKey }).first<{ id: number; request_fingerprint: string } | undefined>('id', 'request_fingerprint');
  if (!earlier) return null;
  if (earlier.request_fingerprint !== fingerprint) {
    throw conflict('This Idempotency-Key was already used for a different order; use a new key for a new order.');
  }
  const order = await findOrder(db, userId, earlier.id);
  return order && { order, replayed: true };
}

/** 400 naming every store or product id that does not exist. */
async function assertPlaceable(db: Db, userId: number, request: PlaceOrderRequest): Promise<void> {
  const productIds = request.items.map((item) => item.product_id);
  const { rows } = await db.raw<{ rows: { user: boolean; store: boolean; known: number[] }[] }>(
    'SELECT EXISTS (SELECT 1 FROM users WHERE id = ?) AS user, EXISTS (SELECT 1 FROM stores WHERE id = ?) AS store, ARRAY(SELECT id FROM products WHERE id = ANY(?::int[])) AS known',
    [userId, request.store_id, productIds],
  );
  const { user, store, known } = rows[0]!;
  // An access token outlives its account by up to its lifetime (minutes): the token is no good.
  if (!user) throw unauthorized('This account no longer exists.');
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
