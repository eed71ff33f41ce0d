import { expect } from 'chai';
import { storeLane } from '../../core/orders/jobs.ts';
import { ORDERS_QUEUE } from '../../core/queue.ts';
import { activeJobOf, backendPid, sessionsWaitingFor } from '../support/locks.ts';
import { startTestApp } from '../support/test-app.ts';
import { startWorkersInProcess } from '../support/workers.ts';
import { allDecided, createShop, createShopper, ledgerOf, placed, statusesOf, orderTestbed, waitUntil } from './fixtures.ts';

describe('store lanes: FIFO within a store, parallel across stores', function () {
  this.timeout(120_000);
  const bed = orderTestbed();

  // Once with the default batch, where one turn takes the whole backlog: that checks the order
  // a turn applies its jobs in. Then one order per turn (ORDER_BATCH_SIZE 1) with two workers
  // competing for the lane: that checks what pg-boss's key_strict_fifo guarantees across turns,
  // a store's next job handed out only after the previous one completed, oldest first.
  for (const { title, overrides, workers } of [
    { title: 'in one turn', overrides: {}, workers: 1 },
    { title: 'one per turn, across two workers', overrides: { ORDER_BATCH_SIZE: '1' }, workers: 2 },
  ]) {
    it(`decides a store's queued orders in the order they were placed (${title})`, async () => {
      const db = bed.app.services.db;
      const { storeId, productIds } = await createShop(db, [10]);
      const product = productIds[0]!;
      // Queued while no worker runs, one after the other: the workers then find a backlog.
      const ids: number[] = [];
      for (let i = 0; i < 25; i++) ids.push(await placed(bed.app, bed.shopper, storeId, [{ product_id: product, quantity_requested: 1 }]));

      bed.workers = await startWorkersInProcess(overrides);
      const others = await Promise.all(Array.from({ length: workers - 1 }, () => startWorkersInProcess(overrides)));
      try {
        await allDecided(db, ids);
      } finally {
        await Promise.all(others.map((other) => other.stop()));
      }
      const rows: { id: number; status: string; decided_at: Date }[] = await db('orders').whereIn('id', ids).orderBy('id').select('id', 'status', 'decided_at');
      expect(rows.map((row) => row.status)).to.deep.equal([...Array(10).fill('CONFIRMED'), ...Array(15).fill('REJECTED')]);
      // The ledger shows the order of the decisions: the first ten placed took the ten units, in turn.
      const ledger = await ledgerOf(db, storeId, product);
      expect(ledger.map((row) => row.order_id)).to.deep.equal(ids.slice(0, 10));
      expect(ledger.map((row) => row.quantity_after)).to.deep.equal([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
      if (overrides.ORDER_BATCH_SIZE === '1') {
        // decided_at is its turn's transaction time: 25 different, rising times are 25 turns,
        // each begun after the one before it, in the order the orders were placed.
        const times = rows.map((row) => row.decided_at.getTime());
        expect(new Set(times).size, 'turns').to.equal(25);
        expect(times, 'turns in placement order').to.deep.equal([...times].sort((a, b) => a - b));
      }
    });
  }

  it("decides several stores' backlogs together, each store's in the order they were placed", async () => {
    const db = bed.app.services.db;
    const shops = [await createShop(db, [2]), await createShop(db, [2]), await createShop(db, [2])];
    // Queued while no worker runs, interleaved across the stores: one fetch finds all three lanes.
    const ids = shops.map(() => [] as number[]);
    for (let round = 0; round < 4; round++) {
      for (const [index, shop] of shops.entries()) ids[index]!.push(await placed(bed.app, bed.shopper, shop.storeId, [{ product_id: shop.productIds[0]!, quantity_requested: 1 }]));
    }
    bed.workers = await startWorkersInProcess();
    await allDecided(db, ids.flat());
    for (const [index, shop] of shops.entries()) {
      const statuses = await statusesOf(db, ids[index]!);
      expect(ids[index]!.map((id) => statuses.get(id)), `store ${shop.storeId}`).to.deep.equal(['CONFIRMED', 'CONFIRMED', 'REJECTED', 'REJECTED']);
      expect((await ledgerOf(db, shop.storeId, shop.productIds[0]!)).map((row) => row.order_id)).to.deep.equal(ids[index]!.slice(0, 2));
    }
  });

  it('with one unit left, the order placed first wins', async () => {
    const db = bed.app.services.db;
    bed.workers = await startWorkersInProcess();
    const { storeId, productIds } = await createShop(db, [1]);
    const first = await placed(bed.app, bed.shopper, storeId, [{ product_id: productIds[0]!, quantity_requested: 1 }]);
    const second = await placed(bed.app, bed.shopper, storeId, [{ product_id: productIds[0]!, quantity_requested: 1 }]);
    await allDecided(db, [first, second]);
    const statuses = await statusesOf(db, [first, second]);
    expect([statuses.get(first), statuses.get(second)]).to.deep.equal(['CONFIRMED', 'REJECTED']);
  });

  it('an order is all-or-nothing: one short line rejects it and takes nothing', async () => {
    const db = bed.app.services.db;
    bed.workers = await startWorkersInProcess();
    const { storeId, productIds } = await createShop(db, [5, 1, null]);
    const [plenty, scarce, unstocked] = productIds as [number, number, number];
    const response = await bed.app.request('/orders/orders/?wait=20', {
      token: bed.shopper.token,
      body: { store_id: storeId, items: [{ product_id: plenty, quantity_requested: 2 }, { product_id: scarce, quantity_requested: 2 }, { product_id: unstocked, quantity_requested: 1 }] },
    });
    const order = await response.json();
    expect(order.status).to.equal('REJECTED');
    expect(order.rejection).to.deep.equal({
      reason: 'insufficient_stock',
      items: [{ product_id: scarce, requested: 2, available: 1 }, { product_id: unstocked, requested: 1, available: 0 }],
    });
    expect(await ledgerOf(db, storeId, plenty)).to.have.length(0);
    expect((await db('inventory').where({ store_id: storeId, product_id: plenty }).first()).quantity).to.equal(5);
  });

  it("a store whose stock row another transaction holds is set back for a retry, not waited for, and the other stores go on", async () => {
    const db = bed.app.services.db;
    bed.workers = await startWorkersInProcess();
    const slow = await createShop(db, [5]);
    const fast = await createShop(db, [5]);
    // Another transaction holds the slow store's stock row, as a long staff edit would.
    const lock = await db.transaction();
    let slowOrder: number;
    try {
      await lock('inventory').where({ store_id: slow.storeId }).forUpdate().select('id');
      slowOrder = await placed(bed.app, bed.shopper, slow.storeId, [{ product_id: slow.productIds[0]!, quantity_requested: 1 }]);
      // The worker does not wait for the lock: it leaves the store out of its turn and retries it.
      await waitUntil('the slow store to be set back for a retry', async () => {
        const jobs = await bed.app.services.boss.findJobs(ORDERS_QUEUE, { key: storeLane(slow.storeId) });
        return jobs.some((job) => job.state === 'retry');
      });
      const fastOrders: number[] = [];
      for (let i = 0; i < 3; i++) fastOrders.push(await placed(bed.app, bed.shopper, fast.storeId, [{ product_id: fast.productIds[0]!, quantity_requested: 1 }]));
      await allDecided(db, fastOrders);
      expect([...(await statusesOf(db, fastOrders)).values()]).to.deep.equal(['CONFIRMED', 'CONFIRMED', 'CONFIRMED']);
      expect((await statusesOf(db, [slowOrder])).get(slowOrder)).to.equal('PENDING');
    } finally {
      await lock.commit();
    }
    await allDecided(db, [slowOrder]);
    expect((await statusesOf(db, [slowOrder])).get(slowOrder)).to.equal('CONFIRMED');
  });

  it("a store's turn held inside its transaction does not hold up another store's orders", async () => {
    const db = bed.app.services.db;
    const boss = bed.app.services.boss;
    const held = await createShop(db, [5]);
    const free = await createShop(db, [5]);
    // Placed before any worker runs, so that the test locks the order's row before a turn can.
    const heldOrder = await placed(bed.app, bed.shopper, held.storeId, [{ product_id: held.productIds[0]!, quantity_requested: 1 }]);
    const lock = await db.transaction();
    try {
      await lock('orders').where({ id: heldOrder }).forUpdate().select('id');
      const holder = await backendPid(lock);
      bed.workers = await startWorkersInProcess();
      // A turn waits for a locked order row (only stock rows are skipped): the held store's turn
      // has its job active and sits in its transaction, on this lock.
      const turn = await waitUntil("the held store's turn to wait for the test's lock", async () => {
        const job = await activeJobOf(boss, storeLane(held.storeId));
        return job !== undefined && (await sessionsWaitingFor(db, holder)) > 0 && job;
      });

      const freeOrders: number[] = [];
      for (let i = 0; i < 3; i++) freeOrders.push(await placed(bed.app, bed.shopper, free.storeId, [{ product_id: free.productIds[0]!, quantity_requested: 1 }]));
      await allDecided(db, freeOrders);
      expect([...(await statusesOf(db, freeOrders)).values()]).to.deep.equal(['CONFIRMED', 'CONFIRMED', 'CONFIRMED']);

      // All the while the held turn was the same attempt (a claim counts a retry), still active
      // and still waiting: the other store was decided beside it, not after it gave up.
      const still = await activeJobOf(boss, storeLane(held.storeId));
      expect({ id: still?.id, retryCount: still?.retryCount }).to.deep.equal({ id: turn.id, retryCount: turn.retryCount });
      expect(await sessionsWaitingFor(db, holder)).to.equal(1);
      expect((await statusesOf(db, [heldOrder])).get(heldOrder)).to.equal('PENDING');
    } finally {
      await lock.commit();
    }
    // Released, the held turn goes on and decides its order.
    await allDecided(db, [heldOrder]);
    expect((await statusesOf(db, [heldOrder])).get(heldOrder)).to.equal('CONFIRMED');
  });
});

describe('connections cut by the database', function () {
  this.timeout(120_000);

  it('web and workers reconnect and go on deciding', async () => {
    const app = await startTestApp();
    const workers = await startWorkersInProcess();
    try {
      const db = app.services.db;
      const shopper = await createShopper(db, app.services.jwtSecret);
      const { storeId, productIds } = await createShop(db, [5]);
      const first = await placed(app, shopper, storeId, [{ product_id: productIds[0]!, quantity_requested: 1 }]);
      await allDecided(db, [first]);
      // As on a failover or an administrator's pg_terminate_backend: every other session of the
      // test database is cut, pooled and LISTEN connections alike.
      const { rows } = await db.raw("SELECT count(pg_terminate_backend(pid)) AS cut FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name LIKE 'shop%'");
      expect(rows[0].cut).to.be.greaterThan(2);
      const second = await waitUntil('the web process to place again', async () => {
        const response = await app.request('/orders/orders/', { token: shopper.token, body: { store_id: storeId, items: [{ product_id: productIds[0]!, quantity_requested: 1 }] } });
        return response.status === 202 && ((await response.json()) as { id: number }).id;
      });
      await allDecided(db, [second]);
      expect((await statusesOf(db, [second])).get(second)).to.equal('CONFIRMED');
    } finally {
      await workers.stop();
      await app.close();
    }
  });
});
