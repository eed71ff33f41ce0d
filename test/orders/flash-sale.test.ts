import { expect } from 'chai';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { spawnWorkerProcess, type WorkerProcess } from '../support/workers.ts';
import { allDecided, createShop, createShopper, ledgerOf, placeOrder, stockOf } from './fixtures.ts';

describe('flash sale: 400 concurrent orders for 100 units, two worker processes', function () {
  this.timeout(240_000);
  let app: TestApp;
  let workers: WorkerProcess[] = [];

  before(async () => {
    app = await startTestApp();
    workers = await Promise.all([spawnWorkerProcess(), spawnWorkerProcess()]);
  });
  after(async () => {
    await Promise.all(workers.map((worker) => worker.stop()));
    await app.close();
  });

  it('confirms exactly 100, rejects 300, never oversells, and the ledger balances', async () => {
    const db = app.services.db;
    const { storeId, productIds } = await createShop(db, [100]);
    const product = productIds[0]!;
    const shoppers = await Promise.all(Array.from({ length: 8 }, () => createShopper(db, app.services.jwtSecret)));

    const responses = await Promise.all(
      Array.from({ length: 400 }, (_, index) => placeOrder(app, shoppers[index % shoppers.length]!, storeId, [{ product_id: product, quantity_requested: 1 }])),
    );
    expect(responses.map((response) => response.status)).to.deep.equal(Array(400).fill(202));
    const ids: number[] = await Promise.all(responses.map(async (response) => (await response.json()).id));
    expect(new Set(ids).size).to.equal(400);

    await allDecided(db, ids, 180_000);
    const orders: { id: number; status: string; rejection: unknown }[] = await db('orders').whereIn('id', ids).select('id', 'status', 'rejection');
    const confirmed = orders.filter((order) => order.status === 'CONFIRMED');
    const rejected = orders.filter((order) => order.status === 'REJECTED');
    expect(confirmed).to.have.length(100);
    expect(rejected).to.have.length(300);
    for (const order of rejected) {
      expect(order.rejection).to.deep.equal({ reason: 'insufficient_stock', items: [{ product_id: product, requested: 1, available: 0 }] });
    }

    expect(await stockOf(db, storeId, product)).to.equal(0);
    const ledger = await ledgerOf(db, storeId, product);
    expect(ledger).to.have.length(100);
    expect(ledger.reduce((sum, row) => sum + row.delta, 0)).to.equal(-100);
    // The running total steps down one unit at a time from 99 to 0: never below zero, no gaps.
    expect(ledger.map((row) => row.quantity_after)).to.deep.equal(Array.from({ length: 100 }, (_, index) => 99 - index));
    expect(ledger.every((row) => row.delta === -1 && row.reason === 'order_confirmed')).to.equal(true);
    // One ledger row per confirmed order, none for a rejected one.
    expect(ledger.map((row) => row.order_id).sort()).to.deep.equal(confirmed.map((order) => order.id).sort());

    // Every job of the store's lane is finished.
    const left = await app.services.boss.findJobs('orders', { key: `store-${storeId}`, queued: true });
    expect(left).to.have.length(0);
  });
});
