import { expect } from 'chai';
import type { Db } from '../../core/db.ts';
import { startWorkersInProcess } from '../support/workers.ts';
import { createShop, orderTestbed, placed, statusesOf, unique, waitUntil } from './fixtures.ts';

// product_stock_counts and product_price_counts.in_stock (db/migrations/
// 20261125000700_product_stock_counts.ts): in how many stores each product is in stock, and per
// (category, price) how many products are in stock somewhere, kept by triggers on inventory and
// products; search counts in_stock without store_id from them. Each test compares them with the
// counts they replace.

/** [stores the counter says, stores in stock by inventory, pair's in_stock, products of the pair in stock by inventory]. */
async function counts(db: Db, productId: number): Promise<[number, number, number, number]> {
  const { rows } = await db.raw<{ rows: { counted: number; actual: number; pair: number; pair_actual: number }[] }>(
    `SELECT coalesce((SELECT stores_in_stock FROM product_stock_counts WHERE product_id = p.id), 0) AS counted,
       (SELECT count(*) FROM inventory WHERE product_id = p.id AND quantity > 0)::int AS actual,
       (SELECT in_stock FROM product_price_counts WHERE category_id = p.category_id AND price = p.price)::int AS pair,
       (SELECT count(*) FROM products q WHERE q.category_id = p.category_id AND q.price = p.price
          AND EXISTS (SELECT FROM inventory i WHERE i.product_id = q.id AND i.quantity > 0))::int AS pair_actual
     FROM products p WHERE p.id = ?`,
    [productId],
  );
  const row = rows[0]!;
  return [row.counted, row.actual, row.pair, row.pair_actual];
}

describe('product stock counts (in stock in any store)', function () {
  this.timeout(60_000);
  const bed = orderTestbed();
  let db: Db;

  before(() => {
    db = bed.app.services.db;
  });

  it('stay exact when a stock change that crosses zero races an update of the same product (migration 800)', async () => {
    for (const [change, from, to] of [['sold out', 1, 0], ['restocked', 0, 1]] as const) {
      // a and b share a (category, price) pair; b stays in stock.
      const shop = await createShop(db, [from, 1], '6.66');
      const [a] = shop.productIds as [number, number];
      const stockChange = await db.transaction(); // an order turn, say, still open
      await stockChange('inventory').where({ store_id: shop.storeId, product_id: a }).update({ quantity: to });
      const rename = db('products').where({ id: a }).update({ title: db.raw("title || ' (new edition)'") }).then(() => {});
      await waitUntil('the rename to wait for the stock change', async () => {
        const { rows } = await db.raw<{ rows: { waiting: number }[] }>("SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
        return rows[0]!.waiting > 0;
      });
      await stockChange.commit();
      await rename;
      expect(await counts(db, a), change).to.deep.equal([to, to, 1 + to, 1 + to]);
    }
  });

  it('let a stock change that crosses zero and a transaction updating the same products one by one both finish (no deadlock)', async () => {
    const shop = await createShop(db, [1, 1], '4.44');
    const [a, b] = shop.productIds as [number, number];
    const rename = (trx: Db, id: number) => trx('products').where({ id }).update({ title: db.raw("title || ' (new edition)'") });
    const editor = await db.transaction(); // a catalog edit, product by product, in the other order
    await rename(editor, b);
    const sellOut = db.transaction(async (trx) => trx('inventory').where({ store_id: shop.storeId }).whereIn('product_id', [a, b]).update({ quantity: 0 }));
    await waitUntil('the stock change to wait for the edit', async () => {
      const { rows } = await db.raw<{ rows: { waiting: number }[] }>("SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
      return rows[0]!.waiting > 0;
    });
    await rename(editor, a);
    await editor.commit();
    await sellOut;
    expect(await counts(db, a)).to.deep.equal([0, 0, 0, 0]);
    expect(await counts(db, b)).to.deep.equal([0, 0, 0, 0]);
  });

  it('refuse to delete a product and its stock in one statement, which they could not count out', async () => {
    const shop = await createShop(db, [3], '5.55');
    const [a] = shop.productIds as [number];
    let error: unknown;
    await db.raw('WITH stock AS (DELETE FROM inventory WHERE product_id = ?) DELETE FROM products WHERE id = ?', [a, a]).catch((e: unknown) => (error = e));
    expect(error).to.have.property('code', '23503'); // the counter still refers to the product
    expect(await counts(db, a)).to.deep.equal([1, 1, 1, 1]);
    // One after the other, as anything that removes a product does, it is counted out.
    const { category_id: categoryId } = await db('products').where({ id: a }).first('category_id');
    await db('inventory').where({ product_id: a }).delete();
    await db('products').where({ id: a }).delete();
    expect(await db('product_price_counts').where({ category_id: categoryId, price: '5.55' }).first()).to.equal(undefined);
    expect(await db('product_stock_counts').where({ product_id: a }).first()).to.equal(undefined);
  });

  it('follow one product across stores: sold out in one, in all, restocked, removed, repriced', async () => {
    const shop = await createShop(db, [2, 5], '7.77');
    const [a, b] = shop.productIds as [number, number];
    const [other] = await db('stores').insert({ name: unique('store'), city: 'Testville' }).returning<{ id: number }[]>('id');
    await db('inventory').insert({ store_id: other!.id, product_id: a, quantity: 1 });
    const stockOf = (storeId: number) => db('inventory').where({ store_id: storeId, product_id: a });
    // [step, change, stores with a in stock, products of a's pair in stock somewhere]
    const steps: [string, () => Promise<unknown>, number, number][] = [
      ['stocked in two stores; b in one', async () => {}, 2, 2],
      ['sold out in one store', () => stockOf(shop.storeId).update({ quantity: 0 }), 1, 2],
      ['sold out everywhere', () => stockOf(other!.id).decrement('quantity', 1), 0, 1],
      ['restocked in one store, and the other row removed', async () => {
        await stockOf(shop.storeId).update({ quantity: 3 });
        await stockOf(other!.id).delete();
      }, 1, 2],
      ['moved to another price: its pair changes', () => db('products').where({ id: a }).update({ price: '8.88' }), 1, 1],
      ['its last row removed', () => stockOf(shop.storeId).delete(), 0, 0],
    ];
    for (const [step, change, stores, pair] of steps) {
      await change();
      expect(await counts(db, a), step).to.deep.equal([stores, stores, pair, pair]);
    }
    // b's pair lost a when a was repriced: only b is in stock there.
    expect(await counts(db, b)).to.deep.equal([1, 1, 1, 1]);
  });

  it('an order taking the last unit anywhere, and its cancellation, move the counts', async () => {
    bed.workers = await startWorkersInProcess();
    const shop = await createShop(db, [1], '6.66');
    const productId = shop.productIds[0]!;
    const orderId = await placed(bed.app, bed.shopper, shop.storeId, [{ product_id: productId, quantity_requested: 1 }]);
    await waitUntil('the confirmation', async () => (await statusesOf(db, [orderId])).get(orderId) === 'CONFIRMED' || undefined);
    expect(await counts(db, productId)).to.deep.equal([0, 0, 0, 0]);

    const cancel = await bed.app.request(`/orders/orders/${orderId}/cancel`, { method: 'POST', token: bed.shopper.token });
    expect(cancel.status).to.equal(202);
    await waitUntil('the cancellation', async () => (await statusesOf(db, [orderId])).get(orderId) === 'CANCELLED' || undefined);
    expect(await counts(db, productId)).to.deep.equal([1, 1, 1, 1]);
  });

  it('match a recount of every product and every (category, price) pair', async () => {
    const { rows: products } = await db.raw<{ rows: { product_id: number }[] }>(
      `SELECT coalesce(c.product_id, i.product_id) AS product_id
       FROM product_stock_counts c
       FULL JOIN (SELECT product_id, count(*) AS stores FROM inventory WHERE quantity > 0 GROUP BY product_id) i USING (product_id)
       WHERE coalesce(c.stores_in_stock, 0) <> coalesce(i.stores, 0)`,
    );
    expect(products, 'products whose count differs').to.deep.equal([]);
    const { rows: pairs } = await db.raw<{ rows: unknown[] }>(
      `SELECT * FROM product_price_counts c
       FULL JOIN (
         SELECT category_id, price, count(*) AS n,
           count(*) FILTER (WHERE EXISTS (SELECT FROM inventory i WHERE i.product_id = p.id AND i.quantity > 0)) AS in_stock
         FROM products p GROUP BY 1, 2
       ) r USING (category_id, price)
       WHERE c.n IS DISTINCT FROM r.n OR c.in_stock IS DISTINCT FROM r.in_stock`,
    );
    expect(pairs, 'pairs whose counts differ').to.deep.equal([]);
  });
});
