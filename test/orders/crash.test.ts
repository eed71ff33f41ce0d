import { expect } from 'chai';
import type { JobWithMetadata } from 'pg-boss';
import { storeLane } from '../../core/orders/jobs.ts';
import { ORDERS_QUEUE } from '../../core/queue.ts';
import { activeJobOf, backendPid, sessionsWaitingFor } from '../support/locks.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { spawnWorkerProcess, type WorkerProcess } from '../support/workers.ts';
import { allDecided, createShop, createShopper, ledgerOf, placed, stockOf, waitUntil, type Shopper } from './fixtures.ts';

// A worker process SIGKILLed in the middle of a decision: its transaction never commits, so its
// job comes back once its heartbeat goes stale (seconds, not the queue's expiry) with its orders
// still PENDING, and another worker decides them. Nothing is lost and nothing is decided twice.
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
    const lane = storeLane(storeId);
    const lock = await db.transaction();
    let killed: JobWithMetadata<unknown>;
    try {
      await lock.raw('LOCK TABLE stock_ledger IN SHARE MODE');
      const holder = await backendPid(lock);
      for (let i = 0; i < 20; i++) ids.push(await order());
      // Mid-decision means: this store's job is active (the doomed worker is the only one), and a
      // session of the app waits for this very lock, which only a decision's ledger write takes.
      killed = await waitUntil('the doomed worker to be mid-decision on this store', async () => {
        const active = await activeJobOf(app.services.boss, lane);
        return active !== undefined && (await sessionsWaitingFor(db, holder)) > 0 && active;
      });
      workers.push(await spawnWorkerProcess());
      await doomed.kill();
      for (let i = 0; i < 30; i++) ids.push(await order());

      // The store must come back through the heartbeat lapse, not through the queue's expiry
      // (expireInSeconds, 60 s), which alone would also hand the job out again in time for
      // allDecided below. The killed attempt ends when a supervisor fails it; the output it
      // writes then names the reason. Still holding the ledger, nobody can settle the retried
      // job (its turn waits for the ledger, or for the dead session's order locks) and overwrite
      // that output before it is read. Waited for longer than the expiry, so that a lane freed
      // by expiry fails on the reason below rather than on a timeout.
      const ended = await waitUntil(
        "the killed worker's attempt to be failed",
        async () => {
          const [job] = await app.services.boss.findJobs<unknown>(ORDERS_QUEUE, { id: killed.id });
          return job !== undefined && !(job.state === 'active' && job.retryCount === killed.retryCount) && job;
        },
        120_000,
      );
      // pg-boss 12's failJobsByHeartbeat writes exactly this (failJobsByTimeout: 'job timed out').
      expect(ended.output).to.deep.equal({ value: { message: 'job heartbeat timeout' } });
    } finally {
      await lock.commit();
    }
    for (let i = 0; i < 30; i++) ids.push(await order());

    // The survivor takes the retried job and decides the lane's backlog.
    await allDecided(db, ids, 60_000);

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

    // The killed job was claimed again (every claim counts a retry) and completed, and every job
    // of the lane is finished.
    const jobs = await app.services.boss.findJobs<unknown>(ORDERS_QUEUE, { key: lane, limit: 100_000 });
    const redelivered = jobs.find((job) => job.id === killed.id);
    expect(redelivered?.state).to.equal('completed');
    expect(redelivered?.retryCount).to.be.greaterThan(killed.retryCount);
    expect(jobs.filter((job) => job.state !== 'completed')).to.have.length(0);
  });
});
