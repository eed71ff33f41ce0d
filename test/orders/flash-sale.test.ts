import { expect } from 'chai';
import { ORDERS_QUEUE } from '../../core/queue.ts';
import { freePort } from '../support/free-port.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { ordersDecidedBy, spawnWorkerProcess, startWorkersInProcess, untilWorking, type WorkerProcess } from '../support/workers.ts';
import { allDecided, createShop, createShopper, ledgerOf, placeOrder, stockOf, waitUntil } from './fixtures.ts';

const sum = (counts: Record<string, number>) => Object.values(counts).reduce((total, count) => total + count, 0);

describe('flash sale: 400 concurrent orders for 100 units, two worker processes', function () {
  this.timeout(240_000);
  let app: TestApp;
  let workers: WorkerProcess[] = [];
  let metricsPorts: number[] = [];

  before(async () => {
    app = await startTestApp();
    // Orders that earlier tests left queued would be decided by the two processes too, and count
    // in their counters: an in-process worker decides them first, and stops once its turns commit.
    const drain = await startWorkersInProcess({}, ['orders']);
    await waitUntil('orders left by earlier tests to be decided', async () => (await app.services.boss.findJobs(ORDERS_QUEUE, { queued: true })).length === 0);
    await drain.stop();
    metricsPorts = [await freePort(), await freePort()];
    // Small turns (5 orders at most, against the default 200, which could take the whole sale in
    // two turns), so that the store's one lane passes between the two processes many times and
    // both of them really decide, each waiting for the other's turn to commit.
    workers = await Promise.all(metricsPorts.map((port) => spawnWorkerProcess({ ORDER_BATCH_SIZE: '5', METRICS_PORT: String(port) })));
    // Spawned is not working: without this, one process that never came up would go unnoticed.
    await Promise.all(workers.map((worker) => untilWorking(app.services.boss, worker)));
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
    // Both processes were there to the end: one that crashed mid-sale would leave the other to
    // finish alone, and every check below but the counters would still hold.
    expect(workers.map((worker) => worker.hasExited()), 'worker processes exited during the sale').to.deep.equal([false, false]);
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

    // Both processes decided part of the sale, and together each order once. A turn's decisions
    // are counted just after it commits, so the counters are read until they add up.
    const counts = await waitUntil('both workers to count their decisions', async () => {
      const each = await Promise.all(metricsPorts.map((port) => ordersDecidedBy(port)));
      return each.every((counts) => counts !== null) && each.reduce((total, counts) => total + sum(counts!), 0) >= 400 && (each as Record<string, number>[]);
    });
    expect(counts.map(sum).every((decided) => decided > 0), `decided per worker: ${counts.map(sum).join(', ')}`).to.equal(true);
    expect(counts.reduce((total, counts) => total + sum(counts), 0)).to.equal(400);
    expect(counts.reduce((total, counts) => total + (counts.CONFIRMED ?? 0), 0)).to.equal(100);

    // Both shut down cleanly (SIGTERM: finish the turn in hand, then exit 0), not crashed.
    expect(await Promise.all(workers.map((worker) => worker.stop()))).to.deep.equal([0, 0]);
  });
});
