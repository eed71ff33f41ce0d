// Baseline (b) of the order benchmark: the NAIVE design, NOT part of the product. It answers the
// same POST /orders/orders/ request (same body, same Bearer check, same validation) but decides
// the order inside the HTTP request: one transaction that locks the store's inventory rows with
// SELECT ... FOR UPDATE, takes the stock, writes the order, its lines and the ledger, and commits.
// Every order of a hot product queues on that product's row lock for the whole transaction, which
// is what the queued design (one worker turn per store, many orders per transaction) avoids.
//
// Run by bench/orders.ts as its own process: `node bench/naive-order-app.ts` with DATABASE_URL,
// JWT_SECRET and PORT, and the same DATABASE_POOL_MAX as the web process.
import Router from '@koa/router';
import Koa from 'koa';
import { koaBody } from 'koa-body';
import { z } from 'zod';
import { loadConfig } from '../core/config.ts';
import { createDb, type Db } from '../core/db.ts';
import { createLogger } from '../core/logger.ts';
import { badRequest } from '../core/problems.ts';
import { stopOnSignal } from '../core/shutdown.ts';
import { requireUser } from '../server/middleware/auth.ts';
import { problemJson } from '../server/middleware/problem-json.ts';
import { close, listen } from '../server/listen.ts';
import { validate } from '../server/validate.ts';

const PlaceOrder = z.object({
  store_id: z.number().int().positive(),
  items: z
    .array(z.object({ product_id: z.number().int().positive(), quantity_requested: z.number().int().min(1).max(1000) }))
    .min(1)
    .max(50)
    .refine((items) => new Set(items.map((i) => i.product_id)).size === items.length, 'each product at most once'),
});
type PlaceOrder = z.infer<typeof PlaceOrder>;

async function placeOrderSynchronously(db: Db, userId: number, order: PlaceOrder) {
  const productIds = order.items.map((i) => i.product_id).sort((a, b) => a - b);
  // Validation outside the transaction, as the product does before it queues the order.
  const store = await db('stores').where('id', order.store_id).first('id');
  if (!store) throw badRequest(`Unknown store_id ${order.store_id}.`);
  const products = await db('products').whereIn('id', productIds).select<{ id: number; price: string }[]>('id', 'price');
  if (products.length !== productIds.length) throw badRequest('Unknown product_id.');
  const price = new Map(products.map((p) => [p.id, p.price]));

  return db.transaction(async (trx) => {
    // The row locks, taken in product-id order so two orders never deadlock.
    const stock = await trx('inventory')
      .where('store_id', order.store_id)
      .whereIn('product_id', productIds)
      .orderBy('product_id')
      .forUpdate()
      .select<{ product_id: number; quantity: number }[]>('product_id', 'quantity');
    const available = new Map(stock.map((s) => [s.product_id, s.quantity]));
    const short = order.items
      .filter((i) => (available.get(i.product_id) ?? 0) < i.quantity_requested)
      .map((i) => ({ product_id: i.product_id, requested: i.quantity_requested, available: available.get(i.product_id) ?? 0 }));
    const status = short.length === 0 ? 'CONFIRMED' : 'REJECTED';
    const [row] = await trx('orders')
      .insert({
        user_id: userId,
        store_id: order.store_id,
        status,
        rejection: short.length === 0 ? null : JSON.stringify({ reason: 'insufficient_stock', items: short }),
        decided_at: trx.fn.now(),
      })
      .returning(['id', 'status', 'store_id', 'created_at', 'decided_at']);
    await trx('order_lines').insert(
      order.items.map((i) => ({ order_id: row.id, product_id: i.product_id, quantity_requested: i.quantity_requested, unit_price: price.get(i.product_id) })),
    );
    if (status === 'CONFIRMED') {
      for (const item of [...order.items].sort((a, b) => a.product_id - b.product_id)) {
        const [after] = await trx('inventory')
          .where({ store_id: order.store_id, product_id: item.product_id })
          .decrement('quantity', item.quantity_requested)
          .returning('quantity');
        await trx('stock_ledger').insert({
          store_id: order.store_id,
          product_id: item.product_id,
          delta: -item.quantity_requested,
          quantity_after: after.quantity,
          reason: 'order_confirmed',
          order_id: row.id,
        });
      }
    }
    return { ...row, items: order.items, ...(short.length ? { rejection: { reason: 'insufficient_stock', items: short } } : {}) };
  });
}

const config = loadConfig();
const log = createLogger(config.LOG_LEVEL);
if (!config.DATABASE_URL || !config.JWT_SECRET) throw new Error('naive-order-app needs DATABASE_URL and JWT_SECRET');
const db = createDb(config.DATABASE_URL, config.DATABASE_POOL_MAX);
const secret = config.JWT_SECRET;

const router = new Router();
router.get('/healthz', (ctx) => {
  ctx.body = { status: 'ok' };
});
router.post('/orders/orders/', requireUser(secret), async (ctx) => {
  const order = validate(PlaceOrder, ctx.request.body, 'body');
  ctx.body = await placeOrderSynchronously(db, (ctx.state.user as { userId: number }).userId, order);
  ctx.status = 201;
});

const app = new Koa();
app.use(problemJson(log));
app.use(koaBody({ json: true, jsonStrict: true, urlencoded: false, text: false, multipart: false }));
app.use(router.routes());
const server = await listen(app, config.PORT);
log.info({ port: config.PORT }, 'naive order app listening');
stopOnSignal(log, async () => {
  await close(server);
  await db.destroy();
});
