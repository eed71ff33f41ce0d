import { expect } from 'chai';
import { createDb } from '../../core/db.ts';
import { PlacementBatcher } from '../../core/orders/placement-batcher.ts';
import type { Placed, Placement } from '../../core/orders/place-order.ts';
import { Problem } from '../../core/problems.ts';
import { testEnvironment } from '../support/environment.ts';
import { startTcpProxy } from '../support/tcp-proxy.ts';
import { startWorkersInProcess } from '../support/workers.ts';
import { allDecided, createShop, createShopper, orderTestbed, statusesOf, unique, waitUntil } from './fixtures.ts';

// Group commit: orders that queue up behind a busy placement transaction are placed together in
// the next one. Each must still get its own answer, exactly as if it had been placed alone.

describe('placing orders in batches (group commit)', function () {
  this.timeout(120_000);
  const bed = orderTestbed();
  /** One transaction at a time: orders handed over in the same tick all go in one batch. */
  const batcher = () => new PlacementBatcher({ db: bed.app.services.db, boss: bed.app.services.boss }, bed.app.services.log, { inFlight: 1, maxBatch: 200 });
  const outcome = (promise: Promise<Placed>) => promise.then((placed) => placed, (error: unknown) => error);

  it('places a batch in one transaction, and answers each order as if it were alone', async () => {
    const db = bed.app.services.db;
    const { storeId, productIds } = await createShop(db, [1]);
    const product = productIds[0]!;
    const one = { store_id: storeId, items: [{ product_id: product, quantity_requested: 1 }] };
    const alice = bed.shopper.id;
    const bob = (await createShopper(db, bed.app.services.jwtSecret)).id;
    const usedKey = unique('key');
    const earlier = await batcher().place({ userId: alice, request: one, idempotencyKey: usedKey });
    const sameKey = unique('key');

    const placements: Placement[] = [
      { userId: alice, request: one },
      { userId: bob, request: one },
      { userId: alice, request: { store_id: storeId, items: [{ product_id: product, quantity_requested: 1 }, { product_id: 2_000_000_000, quantity_requested: 1 }] } },
      { userId: bob, request: { ...one, store_id: 2_000_000_000 } },
      { userId: bob, request: one, idempotencyKey: sameKey },
      { userId: bob, request: one, idempotencyKey: sameKey },
      { userId: alice, request: { ...one, items: [{ product_id: product, quantity_requested: 2 }] }, idempotencyKey: usedKey },
      { userId: alice, request: one, idempotencyKey: usedKey },
    ];
    // The metrics registry is the process's: earlier tests may have counted batches already.
    const batchSizes = async () => {
      const metrics = await (await bed.app.request('/metrics')).text();
      const value = (series: string) => Number(new RegExp(`^order_placement_batch_size_${series} (\\d+)$`, 'm').exec(metrics)?.[1]);
      return { count: value('count'), sum: value('sum'), from6to10: value('bucket\\{le="10"\\}') - value('bucket\\{le="5"\\}') };
    };
    const sizesBefore = await batchSizes();
    const shared = batcher();
    const [first, second, unknownProduct, unknownStore, keyed, keyedAgain, usedKeyOtherBody, usedKeySameBody] = await Promise.all(placements.map((p) => outcome(shared.place(p))));

    const orders = [first, second, keyed] as Placed[];
    for (const placed of orders) expect(placed.replayed).to.equal(false);
    expect(orders.map((placed) => placed.order.id)).to.deep.equal([...orders.map((placed) => placed.order.id)].sort((a, b) => a - b), 'ids follow the order of placement');
    expect(new Set(orders.map((placed) => placed.order.created_at)).size, 'one transaction: one created_at').to.equal(1);
    expect(first).to.have.nested.property('order.items[0].unit_price', '10.00');

    expect(unknownProduct).to.be.instanceOf(Problem).with.property('status', 400);
    expect((unknownProduct as Problem).errors).to.deep.equal([{ path: 'items.1.product_id', message: 'There is no product 2000000000.' }]);
    expect(unknownStore).to.be.instanceOf(Problem).with.property('status', 400);
    expect((unknownStore as Problem).errors).to.deep.equal([{ path: 'store_id', message: 'There is no store 2000000000.' }]);

    expect(keyedAgain).to.deep.include({ replayed: true });
    expect((keyedAgain as Placed).order.id).to.equal((keyed as Placed).order.id);
    expect(usedKeyOtherBody).to.be.instanceOf(Problem).with.property('status', 409);
    expect(usedKeySameBody).to.deep.include({ replayed: true });
    expect((usedKeySameBody as Placed).order.id).to.equal(earlier.order.id);

    // Nothing else was stored, and the store's lane decides the batch in the order it was placed:
    // the one unit goes to the earlier order, placed on its own before the batch.
    const stored: { id: number }[] = await db('orders').where('store_id', storeId).select('id');
    const ids = [earlier.order.id, ...orders.map((placed) => placed.order.id)];
    expect(stored.map((row) => row.id).sort((a, b) => a - b)).to.deep.equal(ids);
    bed.workers = await startWorkersInProcess();
    await allDecided(db, ids);
    const statuses = await statusesOf(db, ids);
    expect(ids.map((id) => statuses.get(id))).to.deep.equal(['CONFIRMED', 'REJECTED', 'REJECTED', 'REJECTED']);

    // Operators see the batch sizes: this test made one batch since the first read, of 8, counted
    // between the buckets 5 and 10.
    const sizesAfter = await batchSizes();
    expect({ count: sizesAfter.count - sizesBefore.count, sum: sizesAfter.sum - sizesBefore.sum, from6to10: sizesAfter.from6to10 - sizesBefore.from6to10 }).to.deep.equal({ count: 1, sum: 8, from6to10: 1 });
  });

  it('does not place again a batch whose connection broke after COMMIT was sent: its orders are stored once', async () => {
    const { storeId, productIds } = await createShop(bed.app.services.db, [10]);
    const url = new URL(testEnvironment().databaseUrl);
    const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    const db = createDb(proxy.urlFor(testEnvironment().databaseUrl));
    try {
      const relayed = new PlacementBatcher({ db, boss: bed.app.services.boss }, bed.app.services.log, { inFlight: 1, maxBatch: 200 });
      const order = { userId: bed.shopper.id, request: { store_id: storeId, items: [{ product_id: productIds[0]!, quantity_requested: 1 }] } };
      // The server gets the batch's COMMIT and commits; the answer never comes back.
      proxy.dropAfter('COMMIT');
      const results = await Promise.all([order, order, order].map((p) => outcome(relayed.place(p))));
      for (const result of results) expect(result).to.be.instanceOf(Error).with.property('message').that.matches(/Connection terminated/);
      // The server may still be committing when the client has already lost the connection. The
      // answers above came after any placing again would have been done: the batch is there
      // once, not six orders.
      const stored = async () => (await bed.app.services.db('orders').where('store_id', storeId).count<{ count: number }[]>('* as count'))[0]!.count;
      await waitUntil('the batch to be committed', async () => (await stored()) > 0, 10_000);
      expect(await stored()).to.equal(3);
    } finally {
      await db.destroy();
      await proxy.close();
    }
  });

  it("places each order of a failed batch on its own, so one order's failure is not the others'", async () => {
    const db = bed.app.services.db;
    const { storeId, productIds } = await createShop(db, [10]);
    const broken = await createShop(db, [10]);
    // A database that refuses one store's orders: the batch's statement fails as a whole.
    await db.raw(`CREATE FUNCTION refuse_store_order() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.store_id = ${broken.storeId} THEN RAISE EXCEPTION 'store closed by the test'; END IF; RETURN NEW; END $$`);
    await db.raw('CREATE TRIGGER refuse_store_order BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION refuse_store_order()');
    try {
      const order = (store: number, product: number) => ({ userId: bed.shopper.id, request: { store_id: store, items: [{ product_id: product, quantity_requested: 1 }] } });
      const shared = batcher();
      const results = await Promise.all([order(storeId, productIds[0]!), order(broken.storeId, broken.productIds[0]!), order(storeId, productIds[0]!)].map((p) => outcome(shared.place(p))));
      expect(results[0]).to.have.nested.property('order.status', 'PENDING');
      expect(results[1]).to.be.instanceOf(Error).with.property('message').that.includes('store closed by the test');
      expect(results[2]).to.have.nested.property('order.status', 'PENDING');
      expect(await db('orders').where('store_id', broken.storeId).first()).to.equal(undefined);
    } finally {
      await db.raw('DROP TRIGGER refuse_store_order ON orders');
      await db.raw('DROP FUNCTION refuse_store_order()');
    }
  });
});
