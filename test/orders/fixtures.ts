import { randomBytes } from 'node:crypto';
import { signAccessToken } from '../../core/auth/access-tokens.ts';
import type { Db } from '../../core/db.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import type { InProcessWorkers } from '../support/workers.ts';

// What the order tests build on: users, stores and products of their own (unique names, so test
// files and parallel runs never collide), and small helpers to place orders and wait for outcomes.

export const unique = (prefix: string) => `${prefix}-${randomBytes(5).toString('hex')}`;

export interface Shopper {
  id: number;
  token: string;
}

/** A customer account with a valid access token (created directly: these tests are not about login). */
export async function createShopper(db: Db, jwtSecret: string): Promise<Shopper> {
  const name = unique('shopper');
  const [user] = await db('users').insert({ username: name, email: `${name}@example.test`, password_hash: 'unused' }).returning<{ id: number }[]>('id');
  return { id: user!.id, token: signAccessToken({ userId: user!.id, isStaff: false }, jwtSecret, 900) };
}

export interface Shop {
  storeId: number;
  productIds: number[];
}

/** A new store and one new product per entry of `stock`, stocked with that quantity (null: not stocked). */
export async function createShop(db: Db, stock: (number | null)[], price = '10.00'): Promise<Shop> {
  const [category] = await db('categories').insert({ name: unique('category') }).returning<{ id: number }[]>('id');
  const [store] = await db('stores').insert({ name: unique('store'), city: 'Testville' }).returning<{ id: number }[]>('id');
  const products = await db('products')
    .insert(stock.map((_, index) => ({ title: unique(`product ${index}`), price, category_id: category!.id })))
    .returning<{ id: number }[]>('id');
  const rows = products.flatMap((product, index) => (stock[index] === null ? [] : [{ store_id: store!.id, product_id: product.id, quantity: stock[index] }]));
  if (rows.length > 0) await db('inventory').insert(rows);
  return { storeId: store!.id, productIds: products.map((product) => product.id) };
}

export type Items = { product_id: number; quantity_requested: number }[];

export function placeOrder(app: TestApp, shopper: Shopper, storeId: number, items: Items, options: { query?: string; headers?: Record<string, string> } = {}) {
  return app.request(`/orders/orders/${options.query ?? ''}`, { body: { store_id: storeId, items }, token: shopper.token, headers: options.headers ?? {} });
}

/** Places an order and returns its id (asserting the 202). */
export async function placed(app: TestApp, shopper: Shopper, storeId: number, items: Items): Promise<number> {
  const response = await placeOrder(app, shopper, storeId, items);
  if (response.status !== 202) throw new Error(`expected 202, got ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { id: number }).id;
}

export async function stockOf(db: Db, storeId: number, productId: number): Promise<number | undefined> {
  const row = await db('inventory').where({ store_id: storeId, product_id: productId }).first<{ quantity: number } | undefined>('quantity');
  return row?.quantity;
}

export async function statusesOf(db: Db, orderIds: number[]): Promise<Map<number, string>> {
  const rows: { id: number; status: string }[] = await db('orders').whereIn('id', orderIds).select('id', 'status');
  return new Map(rows.map((row) => [row.id, row.status]));
}

/** Polls `probe` (every 100 ms) until it returns a value; fails after `timeoutMs`. Tests wait for outcomes, never for a time. */
export async function waitUntil<T>(what: string, probe: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Waits until none of the orders is PENDING. */
export function allDecided(db: Db, orderIds: number[], timeoutMs = 60_000): Promise<true> {
  return waitUntil(
    `${orderIds.length} orders to be decided`,
    async () => {
      const pending = await db('orders').whereIn('id', orderIds).where('status', 'PENDING').count<{ count: number }[]>('* as count');
      return pending[0]!.count === 0;
    },
    timeoutMs,
  );
}

/**
 * The books of one store's product balance: initial stock plus every ledger delta is the stock
 * now, the last running total is the stock now, and no running total ever went below zero.
 */
export async function ledgerOf(db: Db, storeId: number, productId: number) {
  return db('stock_ledger')
    .where({ store_id: storeId, product_id: productId })
    .orderBy('id')
    .select<{ id: number; delta: number; quantity_after: number; reason: string; order_id: number | null }[]>('id', 'delta', 'quantity_after', 'reason', 'order_id');
}

export interface OrderTestbed {
  app: TestApp;
  shopper: Shopper;
  /** Workers a test started; stopped after each test. */
  workers: InProcessWorkers | null;
}

/** Mocha hooks for a describe block: one app and shopper for it, workers stopped after each test. */
export function orderTestbed(): OrderTestbed {
  const bed = { workers: null } as OrderTestbed;
  before(async () => {
    bed.app = await startTestApp();
    bed.shopper = await createShopper(bed.app.services.db, bed.app.services.jwtSecret);
  });
  afterEach(async () => {
    await bed.workers?.stop();
    bed.workers = null;
  });
  after(() => bed.app.close());
  return bed;
}
