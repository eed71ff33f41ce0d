import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { startWorkersInProcess } from '../support/workers.ts';
import { allDecided, createShop, ledgerOf, placed, orderTestbed, stockOf } from './fixtures.ts';

// Strict FIFO means a job that fails for good would block its store forever. So a job that
// cannot be processed ends as a decided order (or a no-op), never as a failed job.
describe('poison order jobs', function () {
  this.timeout(120_000);
  const bed = orderTestbed();

  const jobsOfLane = (storeId: number) => bed.app.services.boss.findJobs('orders', { key: `store-${storeId}` });

  it('completes malformed jobs and jobs for missing orders without effect; the store goes on', async () => {
    const db = bed.app.services.db;
    const { storeId, productIds } = await createShop(db, [3]);
    const product = productIds[0]!;
    // An order of this test's own, confirmed before the bad jobs are queued: a job with an
    // unknown action names it, and must neither cancel it nor move its stock.
    bed.workers = await startWorkersInProcess();
    const target = await placed(bed.app, bed.shopper, storeId, [{ product_id: product, quantity_requested: 1 }]);
    await allDecided(db, [target]);
    await bed.workers.stop();
    bed.workers = null;
    const targetBefore = await db('orders').where('id', target).first('status', 'decided_at', 'cancelled_at');
    expect(targetBefore.status).to.equal('CONFIRMED');
    const ledgerBefore = await ledgerOf(db, storeId, product);
    expect(ledgerBefore.map((row) => [row.delta, row.reason, row.order_id])).to.deep.equal([[-1, 'order_confirmed', target]]);

    const lane = { singletonKey: `store-${storeId}` };
    await bed.app.services.boss.send('orders', { orderId: 'not a number' }, lane);
    await bed.app.services.boss.send('orders', { orderId: 2_000_000_000, action: 'place' }, lane);
    // Beyond orders.id's integer range: every statement of the turn that names it would fail.
    await bed.app.services.boss.send('orders', { orderId: 3_000_000_000, action: 'place' }, lane);
    await bed.app.services.boss.send('orders', { orderId: target, action: 'explode' }, lane);
    const next = await placed(bed.app, bed.shopper, storeId, [{ product_id: product, quantity_requested: 1 }]);

    bed.workers = await startWorkersInProcess();
    await allDecided(db, [next]);
    expect((await db('orders').where('id', next).first()).status).to.equal('CONFIRMED');
    // The lane is FIFO: next was decided after every bad job, and each of them completed.
    const jobs = await jobsOfLane(storeId);
    expect(jobs.map((job) => job.state)).to.deep.equal(Array(6).fill('completed'));
    // The job that named the confirmed order changed nothing: it is as it was, and only next took stock.
    expect(await db('orders').where('id', target).first('status', 'decided_at', 'cancelled_at')).to.deep.equal(targetBefore);
    const ledger = await ledgerOf(db, storeId, product);
    expect(ledger.slice(0, ledgerBefore.length)).to.deep.equal(ledgerBefore);
    expect(ledger.slice(ledgerBefore.length).map((row) => [row.delta, row.reason, row.order_id])).to.deep.equal([[-1, 'order_confirmed', next]]);
    expect(await stockOf(db, storeId, product)).to.equal(1);
  });

  it('rejects a corrupt order (no lines) instead of confirming it for free', async () => {
    const db = bed.app.services.db;
    const { storeId, productIds } = await createShop(db, [3]);
    const [corrupt] = await db('orders').insert({ user_id: bed.shopper.id, store_id: storeId }).returning<{ id: number }[]>('id');
    await bed.app.services.boss.send('orders', { orderId: corrupt!.id, action: 'place' }, { singletonKey: `store-${storeId}` });
    const next = await placed(bed.app, bed.shopper, storeId, [{ product_id: productIds[0]!, quantity_requested: 1 }]);

    bed.workers = await startWorkersInProcess();
    await allDecided(db, [corrupt!.id, next]);
    const rejected = await db('orders').where('id', corrupt!.id).first();
    expect(rejected.status).to.equal('REJECTED');
    expect(rejected.rejection).to.deep.equal({ reason: 'invalid_order', items: [] });
    expect((await db('orders').where('id', next).first()).status).to.equal('CONFIRMED');
  });

  it('sets aside an order whose decision fails in the database, and decides the rest of its batch', async () => {
    const db = bed.app.services.db;
    const { storeId, productIds } = await createShop(db, [5, 5]);
    const [cursed, fine] = productIds as [number, number];
    // A trigger that makes any stock change of this one product fail, like an unforeseen
    // constraint or a bug that only this data meets.
    const fn = `test_poison_${randomBytes(4).toString('hex')}`;
    await db.raw(`CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'poisoned stock row'; END $$`);
    await db.raw(`CREATE TRIGGER ${fn} BEFORE UPDATE ON inventory FOR EACH ROW WHEN (NEW.product_id = ${cursed}) EXECUTE FUNCTION ${fn}()`);
    try {
      // Queued together, so the first attempt decides them in one batch, which fails as a whole.
      const before = await placed(bed.app, bed.shopper, storeId, [{ product_id: fine, quantity_requested: 1 }]);
      const poisoned = await placed(bed.app, bed.shopper, storeId, [{ product_id: fine, quantity_requested: 1 }, { product_id: cursed, quantity_requested: 1 }]);
      const after = await placed(bed.app, bed.shopper, storeId, [{ product_id: fine, quantity_requested: 2 }]);

      bed.workers = await startWorkersInProcess();
      await allDecided(db, [before, poisoned, after]);
      const rows: { id: number; status: string; rejection: unknown }[] = await db('orders').whereIn('id', [before, poisoned, after]).orderBy('id').select('id', 'status', 'rejection');
      expect(rows.map((row) => row.status)).to.deep.equal(['CONFIRMED', 'REJECTED', 'CONFIRMED']);
      expect(rows[1]!.rejection).to.deep.equal({ reason: 'processing_error', items: [] });
      // The poisoned order took nothing, the others took exactly theirs.
      expect(await stockOf(db, storeId, cursed)).to.equal(5);
      expect(await stockOf(db, storeId, fine)).to.equal(2);
      expect((await ledgerOf(db, storeId, fine)).map((row) => row.order_id)).to.deep.equal([before, after]);
      expect(await ledgerOf(db, storeId, cursed)).to.have.length(0);
      const jobs = await jobsOfLane(storeId);
      expect(jobs.every((job) => job.state === 'completed')).to.equal(true);
    } finally {
      await db.raw(`DROP TRIGGER ${fn} ON inventory`);
      await db.raw(`DROP FUNCTION ${fn}()`);
    }
  });
});
