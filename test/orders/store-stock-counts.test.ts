import { expect } from 'chai';
import type { Db } from '../../core/db.ts';
import { startWorkersInProcess } from '../support/workers.ts';
import { createShop, orderTestbed, placed, statusesOf, waitUntil } from './fixtures.ts';

// store_stock_counts (db/migrations/20261125000600_store_stock_counts.ts): how many products each
// store has in stock, kept by triggers on inventory, which search reads for "store X, in stock".
// Each test compares it with the count it replaces.

async function counted(db: Db, storeId: number): Promise<number> {
  const row = await db('store_stock_counts').where({ store_id: storeId }).first<{ in_stock: string } | undefined>('in_stock');
  return Number(row?.in_stock ?? 0);
}

async function actual(db: Db, storeId: number): Promise<number> {
  const { n } = (await db('inventory').where({ store_id: storeId }).where('quantity', '>', 0).count({ n: '*' }).first()) as { n: string };
  return Number(n);
}

describe('store stock counts', function () {
  this.timeout(60_000);
  const bed = orderTestbed();
  let db: Db;

  before(() => {
    db = bed.app.services.db;
  });

  it('follow inserts, updates across zero, updates within stock and deletes, several rows at a time', async () => {
    const shop = await createShop(db, [5, 0, 2, null]);
    const [a, b, c, d] = shop.productIds as [number, number, number, number];
    const row = (productId: number) => db('inventory').where({ store_id: shop.storeId, product_id: productId });
    const steps: [string, () => Promise<unknown>, number][] = [
      ['stocked at creation', async () => {}, 2],
      ['one sells out while another is restocked, in one statement', () => db('inventory').where({ store_id: shop.storeId }).whereIn('product_id', [a, b]).update({ quantity: db.raw('CASE WHEN product_id = ? THEN 0 ELSE 3 END', [a]) }), 2],
      ['a quantity changes within stock', () => row(c).update({ quantity: 1 }), 2],
      ['the last unit goes', () => row(c).decrement('quantity', 1), 1],
      ['a new row in stock', () => db('inventory').insert({ store_id: shop.storeId, product_id: d, quantity: 7 }), 2],
      ['rows deleted, one in stock and one not', () => db('inventory').where({ store_id: shop.storeId }).whereIn('product_id', [c, d]).delete(), 1],
      ['restocked from zero', () => row(a).update({ quantity: 4 }), 2],
    ];
    for (const [step, change, expected] of steps) {
      await change();
      expect(await counted(db, shop.storeId), step).to.equal(expected);
      expect(await actual(db, shop.storeId), step).to.equal(expected);
    }
  });

  it('go down when an order takes the last unit, and back up when it is cancelled', async () => {
    bed.workers = await startWorkersInProcess();
    const shop = await createShop(db, [1, 4]);
    const orderId = await placed(bed.app, bed.shopper, shop.storeId, [{ product_id: shop.productIds[0]!, quantity_requested: 1 }, { product_id: shop.productIds[1]!, quantity_requested: 1 }]);
    await waitUntil('the confirmation', async () => (await statusesOf(db, [orderId])).get(orderId) === 'CONFIRMED' || undefined);
    expect(await counted(db, shop.storeId)).to.equal(1);

    const cancel = await bed.app.request(`/orders/orders/${orderId}/cancel`, { method: 'POST', token: bed.shopper.token });
    expect(cancel.status).to.equal(202);
    await waitUntil('the cancellation', async () => (await statusesOf(db, [orderId])).get(orderId) === 'CANCELLED' || undefined);
    expect(await counted(db, shop.storeId)).to.equal(2);
  });

  it('match the inventory of every store', async () => {
    const { rows } = await db.raw<{ rows: { store_id: number }[] }>(
      `SELECT coalesce(c.store_id, i.store_id) AS store_id
       FROM store_stock_counts c
       FULL JOIN (SELECT store_id, count(*) AS in_stock FROM inventory WHERE quantity > 0 GROUP BY store_id) i USING (store_id)
       WHERE coalesce(c.in_stock, 0) <> coalesce(i.in_stock, 0)`,
    );
    expect(rows, 'stores whose count differs').to.deep.equal([]);
  });
});
