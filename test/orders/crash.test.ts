import { expect } from 'chai';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { spawnWorkerProcess, type WorkerProcess } from '../support/workers.ts';
import { allDecided, createShop, createShopper, ledgerOf, placed, stockOf, waitUntil, type Shopper } from './fixtures.ts';

// A worker process SIGKILLed in the middle of a decision: its transaction never commits, so its
// job comes back (once the heartbeat goes stale) with its orders still PENDING, and another
// worker decides them. Nothing is lost and nothing is decided twice.
describe('a worker killed mid-decision', function () {
  this.timeout(240_000);
  let app: TestApp;
  let shopper: Shopper;
  const workers: WorkerProcess[] = [];

  before(async () => {
    app = await startTestApp();
    shopper = await createShopper(app.services.db, app.services.jwtSecret);
  });
  after(async () => {
    await Promise.all(workers.map((worker) => worker.stop()));
    await app.close();
  });

  it('loses no order, decides none twice, and the store moves on', async () => {
    const db = app.services.db;
    const { storeId, productIds } = await createShop(db, [50, 1000]);
    const [scarce, plenty] = productIds as [number, number];
    const order = () => placed(app, shopper, storeId, [{ product_id: scarce, quantity_requested: 1 }, { product_id: plenty, quantity_requested: 1 }]);
    const ids: number[] = [];

    const doomed = await spawnWorkerProcess();
    workers.push(doomed);
    ids.push(await order());
    await allDecided(db, ids); // the doomed worker is up and deciding

    // Hold the stock ledger so the doomed worker's next turn stops inside its transaction, after
    // it has taken the store's job and locked the orders and the stock, when it writes.
    const lock = await db.transaction();
    try {
      await lock.raw('LOCK TABLE stock_ledger IN SHARE MODE');
      for (let i = 0; i < 20; i++) ids.push(await order());
      await waitUntil('the doomed worker to be mid-decision', async () => {
        const { rows } = await db.raw("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'shop' AND wait_event_type = 'Lock'");
        return rows.length > 0;
      });
      workers.push(await spawnWorkerProcess());
      await doomed.kill();
      for (let i = 0; i < 30; i++) ids.push(await order());
    } finally {
      await lock.commit();
    }
    for (let i = 0; i < 30; i++) ids.push(await order());

    // The killed worker's job is failed once its heartbeat is stale, then retried by the survivor.
    await allDecided(db, ids, 180_000);

    const orders: { id: number; status: string }[] = await db('orders').whereIn('id', ids).orderBy('id').select('id', 'status');
    // FIFO survived the crash: the 50 oldest orders got the 50 scarce units.
    expect(orders.map((o) => o.status)).to.deep.equal([...Array(50).fill('CONFIRMED'), ...Array(31).fill('REJECTED')]);

    const ledger = [
      ...(await ledgerOf(db, storeId, scarce)).map((row) => ({ ...row, product: scarce })),
      ...(await ledgerOf(db, storeId, plenty)).map((row) => ({ ...row, product: plenty })),
    ];
    // Exactly one row per line of each confirmed order, none for a rejected one: decided once.
    const moves = ledger.map((row) => `${row.order_id}:${row.product}:${row.reason}`);
    expect(new Set(moves).size).to.equal(moves.length);
    const confirmed = orders.filter((o) => o.status === 'CONFIRMED').map((o) => o.id);
    expect(ledger.filter((row) => row.delta === -1 && row.reason === 'order_confirmed')).to.have.length(confirmed.length * 2);
    expect([...new Set(ledger.map((row) => row.order_id))].sort()).to.deep.equal([...confirmed].sort());
    // Stock and ledger balance.
    expect(await stockOf(db, storeId, scarce)).to.equal(0);
    expect(await stockOf(db, storeId, plenty)).to.equal(1000 - confirmed.length);
    const scarceLedger = await ledgerOf(db, storeId, scarce);
    expect(50 + scarceLedger.reduce((sum, row) => sum + row.delta, 0)).to.equal(0);
    expect(scarceLedger.at(-1)?.quantity_after).to.equal(0);

    // The killed worker's job was redelivered, and every job of the lane is finished.
    const jobs = await app.services.boss.findJobs('orders', { key: `store-${storeId}` });
    expect(jobs.some((job) => job.retryCount > 0)).to.equal(true);
    expect(jobs.filter((job) => job.state !== 'completed')).to.have.length(0);
  });
});
