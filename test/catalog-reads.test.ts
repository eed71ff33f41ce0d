import { expect } from 'chai';
import { createShop, createShopper, placeOrder, waitUntil } from './orders/fixtures.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';

// Slow catalog reads must not take the connections that orders need (core/catalog/catalog-reads.ts).
describe('catalog reads under a burst of slow searches', function () {
  this.timeout(30_000);
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ SEARCH_CACHE_SECONDS: '0', DATABASE_POOL_MAX: '10' });
  });
  after(() => app.close());

  it('leave connections free for placing orders while every search waits', async () => {
    const db = app.services.db;
    const { storeId, productIds } = await createShop(db, [10]);
    const shopper = await createShopper(db, app.services.jwtSecret);
    const blockedSearches = async () => {
      const { rows } = await db.raw("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'shop' AND wait_event_type = 'Lock'");
      return rows[0].n as number;
    };

    // Every search joins categories; while another transaction holds it exclusively, each one
    // that reaches the database waits there, holding its connection. Placing an order never
    // reads categories.
    const lock = await db.transaction();
    let searches: Promise<number[]>;
    try {
      await lock.raw('LOCK TABLE categories IN ACCESS EXCLUSIVE MODE');
      searches = Promise.all(
        Array.from({ length: 15 }, (_, page) => app.request(`/api/search/products/?ordering=price&page=${page + 1}`).then((response) => response.status)),
      );
      // As many as may run at once are stuck in the database (the pool of 10 less the 4 kept free).
      await waitUntil('the searches to be waiting on the lock', async () => (await blockedSearches()) >= 6);
      const order = await placeOrder(app, shopper, storeId, [{ product_id: productIds[0]!, quantity_requested: 1 }]);
      expect(order.status).to.equal(202);
      expect(await blockedSearches()).to.equal(6);
    } finally {
      await lock.commit();
    }
    expect(await searches).to.deep.equal(Array(15).fill(200));
  });

  it('refuse a read at once, 503 with Retry-After, once a hundred are waiting, instead of queueing without bound', async () => {
    const db = app.services.db;
    const answered: Response[] = [];
    const lock = await db.transaction();
    let answers: Promise<Response[]>;
    try {
      await lock.raw('LOCK TABLE categories IN ACCESS EXCLUSIVE MODE');
      // 6 reach the database and wait there, 100 wait for a turn, the other 4 are refused.
      answers = Promise.all(
        Array.from({ length: 110 }, (_, page) =>
          app.request(`/api/search/products/?ordering=-price&page=${page + 1}`).then((response) => (answered.push(response), response)),
        ),
      );
      await waitUntil('the refusals', () => answered.length === 4);
      expect(answered.map((response) => response.status)).to.deep.equal([503, 503, 503, 503]);
      expect(answered[0]!.headers.get('retry-after')).to.equal('1');
    } finally {
      await lock.commit();
    }
    const statuses = (await answers).map((response) => response.status);
    expect(statuses.filter((status) => status === 200)).to.have.length(106);
  });
});
