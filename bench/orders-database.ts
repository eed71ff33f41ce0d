import pg from 'pg';
import { createDatabaseIfMissing } from '../core/embedded-postgres.ts';
import { createDb, seedsDir, type Db } from '../core/db.ts';
import { createLogger } from '../core/logger.ts';
import { migrateToLatest } from '../core/migrate.ts';
import { seededRandom } from './orders-load.ts';

// The benchmark's own database: dropped and re-created on every run (it is ours alone), migrated,
// seeded with the default catalog, plus stores of its own so each phase starts from known stock
// and its checks see only its own orders.

export const BENCH_DATABASE = 'shop_bench_orders';

/** Drops and re-creates the bench database on `serverUrl`'s server; returns its URL. */
export async function recreateBenchDatabase(serverUrl: string): Promise<string> {
  const admin = new URL(serverUrl);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(BENCH_DATABASE)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
  await createDatabaseIfMissing(admin.toString(), BENCH_DATABASE);
  const url = new URL(serverUrl);
  url.pathname = `/${BENCH_DATABASE}`;
  return url.toString();
}

export async function migrateAndSeed(db: Db): Promise<void> {
  await migrateToLatest(db, createLogger('silent'));
  await db.seed.run({ directory: seedsDir, loadExtensions: ['.ts'] });
}

export interface StockRow {
  storeId: number;
  productId: number;
  quantity: number;
}

export interface BenchFixtures {
  userIds: number[];
  /** One product, `flashStock` units, in two stores: one for the product, one for the naive baseline. */
  flash: { productId: number; storeId: number; naiveStoreId: number };
  /** `spreadStores` stores each for the product and the naive baseline, with identical stock. */
  spread: { productIds: number[]; storeIds: number[]; naiveStoreIds: number[] };
  /** Where the warm-up orders go, so they never mix with a measured phase. */
  warmup: { productId: number; storeId: number; naiveStoreId: number };
  /** The row the row-lock baseline hammers. */
  rowLock: { productId: number; storeId: number };
  initialStock: StockRow[];
}

export interface FixturePlan {
  users: number;
  flashStock: number;
  spreadStores: number;
  spreadProducts: number;
  seed: number;
}

export async function createFixtures(db: Db, plan: FixturePlan): Promise<BenchFixtures> {
  const random = seededRandom(plan.seed);
  const users = await db('users')
    .insert(Array.from({ length: plan.users }, (_, i) => ({ username: `bench_user_${i}`, email: `bench_user_${i}@bench.test`, password_hash: 'bench-no-login' })))
    .returning('id');
  const [category] = await db('categories').insert({ name: 'Benchmark' }).returning('id');
  const cents = () => (100 + Math.floor(random() * 99_900)).toString().replace(/(\d\d)$/, '.$1');
  const products = await db('products')
    .insert(Array.from({ length: plan.spreadProducts + 1 }, (_, i) => ({ title: `Bench product ${i}`, price: cents(), category_id: category.id })))
    .returning('id');
  const productIds = products.map((p: { id: number }) => p.id);
  const flashProduct = productIds[0]!;
  const spreadProducts = productIds.slice(1);

  const store = async (name: string): Promise<number> => (await db('stores').insert({ name, city: 'Benchmark' }).returning('id'))[0].id;
  const flash = { productId: flashProduct, storeId: await store('Bench flash'), naiveStoreId: await store('Bench naive flash') };
  const warmup = { productId: flashProduct, storeId: await store('Bench warm-up'), naiveStoreId: await store('Bench naive warm-up') };
  const rowLock = { productId: flashProduct, storeId: await store('Bench row lock') };
  const storeIds: number[] = [];
  const naiveStoreIds: number[] = [];
  for (let s = 0; s < plan.spreadStores; s++) {
    storeIds.push(await store(`Bench spread ${s}`));
    naiveStoreIds.push(await store(`Bench naive spread ${s}`));
  }

  const stock: StockRow[] = [
    { storeId: flash.storeId, productId: flashProduct, quantity: plan.flashStock },
    { storeId: flash.naiveStoreId, productId: flashProduct, quantity: plan.flashStock },
    { storeId: warmup.storeId, productId: flashProduct, quantity: 1_000_000 },
    { storeId: warmup.naiveStoreId, productId: flashProduct, quantity: 1_000_000 },
    { storeId: rowLock.storeId, productId: flashProduct, quantity: 1_000_000_000 },
  ];
  for (let s = 0; s < plan.spreadStores; s++) {
    for (const productId of spreadProducts) {
      const quantity = 20 + Math.floor(random() * 180);
      stock.push({ storeId: storeIds[s]!, productId, quantity }, { storeId: naiveStoreIds[s]!, productId, quantity });
    }
  }
  for (let i = 0; i < stock.length; i += 5000) {
    await db('inventory').insert(stock.slice(i, i + 5000).map((r) => ({ store_id: r.storeId, product_id: r.productId, quantity: r.quantity })));
  }
  return {
    userIds: users.map((u: { id: number }) => u.id),
    flash,
    spread: { productIds: spreadProducts, storeIds, naiveStoreIds },
    warmup,
    rowLock,
    initialStock: stock,
  };
}

export function openBenchDb(url: string): Db {
  return createDb(url, 4);
}

/** Orders of these stores still PENDING. */
export async function pendingOrders(db: Db, storeIds: number[]): Promise<number> {
  const row = await db('orders').whereIn('store_id', storeIds).where('status', 'PENDING').count<{ count: number }[]>('* as count').first();
  return Number(row?.count ?? 0);
}

export interface DecisionTimes {
  orders: number;
  confirmed: number;
  rejected: number;
  /** decided_at − created_at of every order, in ms. */
  latenciesMs: number[];
  /** first created_at to last decided_at, in seconds. */
  spanSeconds: number;
}

export async function decisionTimes(db: Db, storeIds: number[]): Promise<DecisionTimes> {
  const rows = await db('orders')
    .whereIn('store_id', storeIds)
    .select<{ status: string; ms: string }[]>('status', db.raw('extract(epoch FROM decided_at - created_at) * 1000 AS ms'));
  const span = await db('orders')
    .whereIn('store_id', storeIds)
    .first<{ seconds: string | null }>(db.raw('extract(epoch FROM max(decided_at) - min(created_at)) AS seconds'));
  return {
    orders: rows.length,
    confirmed: rows.filter((r) => r.status === 'CONFIRMED').length,
    rejected: rows.filter((r) => r.status === 'REJECTED').length,
    latenciesMs: rows.filter((r) => r.ms !== null).map((r) => Number(r.ms)),
    spanSeconds: Number(span?.seconds ?? Number.NaN),
  };
}

export interface StockCheck {
  ok: boolean;
  problems: string[];
}

/**
 * Zero oversell, for every (store, product) of `storeIds`: stock never negative, the stock taken
 * equals the quantity of the confirmed order lines, and the ledger accounts for every unit
 * (−Σ deltas = taken); every order is decided and as many orders exist as were accepted.
 */
export async function checkStock(db: Db, storeIds: number[], initialStock: StockRow[], acceptedOrders: number): Promise<StockCheck> {
  const problems: string[] = [];
  const rows = await db.raw<{ rows: { store_id: number; product_id: number; quantity: number; confirmed: number; ledger: number }[] }>(
    `SELECT i.store_id, i.product_id, i.quantity,
            COALESCE((SELECT sum(l.quantity_requested) FROM order_lines l JOIN orders o ON o.id = l.order_id
                      WHERE o.store_id = i.store_id AND l.product_id = i.product_id AND o.status = 'CONFIRMED'), 0)::int AS confirmed,
            COALESCE((SELECT sum(s.delta) FROM stock_ledger s
                      WHERE s.store_id = i.store_id AND s.product_id = i.product_id), 0)::int AS ledger
       FROM inventory i WHERE i.store_id = ANY(?)`,
    [storeIds],
  );
  const initial = new Map(initialStock.map((r) => [`${r.storeId}/${r.productId}`, r.quantity]));
  for (const row of rows.rows) {
    const key = `${row.store_id}/${row.product_id}`;
    const taken = (initial.get(key) ?? 0) - row.quantity;
    if (row.quantity < 0) problems.push(`${key}: negative stock ${row.quantity}`);
    if (taken !== row.confirmed) problems.push(`${key}: ${taken} taken but ${row.confirmed} confirmed`);
    if (-row.ledger !== taken) problems.push(`${key}: ${taken} taken but the ledger says ${-row.ledger}`);
  }
  const pending = await pendingOrders(db, storeIds);
  if (pending > 0) problems.push(`${pending} orders still PENDING`);
  const count = await db('orders').whereIn('store_id', storeIds).count<{ count: number }[]>('* as count').first();
  if (Number(count?.count) !== acceptedOrders) problems.push(`${acceptedOrders} orders accepted but ${count?.count} stored`);
  return { ok: problems.length === 0, problems };
}
