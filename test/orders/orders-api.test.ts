import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import { signAccessToken } from '../../core/auth/access-tokens.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { startWorkersInProcess, type InProcessWorkers } from '../support/workers.ts';
import { createShop, createShopper, ledgerOf, placed, placeOrder, stockOf, waitUntil, type Shop, type Shopper } from './fixtures.ts';

describe('orders API', function () {
  this.timeout(60_000);
  let app: TestApp;
  let alice: Shopper;
  let bob: Shopper;
  let shop: Shop;

  before(async () => {
    app = await startTestApp();
    alice = await createShopper(app.services.db, app.services.jwtSecret);
    bob = await createShopper(app.services.db, app.services.jwtSecret);
    shop = await createShop(app.services.db, [100, 100, 100]);
  });
  after(() => app.close());
  // Tests that need a worker start one; it is stopped after each test.
  let workers: InProcessWorkers | null = null;
  afterEach(async () => {
    await workers?.stop();
    workers = null;
  });

  const product = (index: number) => () => shop.productIds[index]!;
  const [p0, p1, p2] = [product(0), product(1), product(2)];

  describe('placing: validation (400, nothing stored)', () => {
    async function expect400(body: unknown, pathPattern: RegExp) {
      const before = await app.services.db('orders').where('user_id', alice.id).count<{ count: number }[]>('* as count');
      const response = await app.request('/orders/orders/', { body, token: alice.token });
      expect(response.status).to.equal(400);
      expect(response.headers.get('content-type')).to.match(/^application\/problem\+json/);
      const problem = await response.json();
      expect(problem.status).to.equal(400);
      expect(problem.errors.map((e: { path: string }) => e.path).join(' ')).to.match(pathPattern);
      const after = await app.services.db('orders').where('user_id', alice.id).count<{ count: number }[]>('* as count');
      expect(after[0]!.count).to.equal(before[0]!.count);
      return problem;
    }

    it('needs at least one item', () => expect400({ store_id: shop.storeId, items: [] }, /^items$/));

    it('takes at most 50 items', async () => {
      const items = Array.from({ length: 51 }, (_, index) => ({ product_id: index + 1, quantity_requested: 1 }));
      await expect400({ store_id: shop.storeId, items }, /^items$/);
    });

    it('needs positive integer quantities of at most 1000', async () => {
      for (const quantity of [0, -1, 1.5, 1001, '2', null]) {
        await expect400({ store_id: shop.storeId, items: [{ product_id: p0(), quantity_requested: quantity }] }, /^items\.0\.quantity_requested$/);
      }
    });

    it('takes each product at most once', async () => {
      const problem = await expect400(
        { store_id: shop.storeId, items: [{ product_id: p0(), quantity_requested: 1 }, { product_id: p1(), quantity_requested: 1 }, { product_id: p0(), quantity_requested: 2 }] },
        /^items\.2\.product_id$/,
      );
      expect(problem.errors[0].message).to.include(String(p0()));
    });

    it('needs store_id and items of the right types', async () => {
      await expect400({ items: [{ product_id: p0(), quantity_requested: 1 }] }, /store_id/);
      await expect400({ store_id: 'one', items: [{ product_id: p0(), quantity_requested: 1 }] }, /store_id/);
      await expect400({ store_id: shop.storeId, items: [{ quantity_requested: 1 }] }, /items\.0\.product_id/);
      await expect400({ store_id: 99_999_999_999, items: [{ product_id: p0(), quantity_requested: 1 }] }, /store_id/);
    });

    it('names an unknown store', async () => {
      const problem = await expect400({ store_id: 2_000_000_000, items: [{ product_id: p0(), quantity_requested: 1 }] }, /^store_id$/);
      expect(problem.detail).to.include('2000000000');
    });

    it('names every unknown product', async () => {
      const problem = await expect400(
        { store_id: shop.storeId, items: [{ product_id: p0(), quantity_requested: 1 }, { product_id: 2_000_000_001, quantity_requested: 1 }, { product_id: 2_000_000_002, quantity_requested: 1 }] },
        /^items\.1\.product_id items\.2\.product_id$/,
      );
      expect(problem.detail).to.include('2000000001').and.to.include('2000000002');
    });

    it('refuses a bad wait and a bad Idempotency-Key', async () => {
      const items = [{ product_id: p0(), quantity_requested: 1 }];
      for (const query of ['?wait=31', '?wait=abc', '?wait=-1', '?wait=']) {
        expect((await placeOrder(app, alice, shop.storeId, items, { query })).status, query).to.equal(400);
      }
      expect((await placeOrder(app, alice, shop.storeId, items, { headers: { 'Idempotency-Key': 'k'.repeat(256) } })).status).to.equal(400);
    });

    it('refuses an unknown query parameter on every order endpoint, naming it (a misspelt wait would not wait)', async () => {
      const orderId = await placed(app, alice, shop.storeId, [{ product_id: p0(), quantity_requested: 1 }]);
      const ordersOfAlice = async () => Number((await app.services.db('orders').where({ user_id: alice.id }).count('* as count'))[0]!.count);
      const before = await ordersOfAlice();
      const requests = [
        placeOrder(app, alice, shop.storeId, [{ product_id: p0(), quantity_requested: 1 }], { query: '?wiat=5' }),
        app.request('/orders/orders/?wiat=5', { token: alice.token }),
        app.request(`/orders/orders/${orderId}?wiat=5`, { token: alice.token }),
        app.request(`/orders/orders/${orderId}/cancel?wiat=5`, { method: 'POST', token: alice.token }),
      ];
      for (const response of await Promise.all(requests)) {
        expect(response.status).to.equal(400);
        expect((await response.json()).errors).to.deep.equal([{ path: 'wiat', message: 'Unknown query parameter' }]);
      }
      expect(await ordersOfAlice()).to.equal(before); // nothing placed
      expect(((await (await app.request(`/orders/orders/${orderId}`, { token: alice.token })).json()) as { status: string }).status).to.equal('PENDING'); // nor cancelled
    });
  });

  describe('authentication (401)', () => {
    const body = () => ({ store_id: shop.storeId, items: [{ product_id: p0(), quantity_requested: 1 }] });
    const cases: [string, () => Record<string, string>][] = [
      ['no token', () => ({})],
      ['a garbage token', () => ({ Authorization: 'Bearer not.a.token' })],
      ['an expired token', () => ({ Authorization: `Bearer ${signAccessToken({ userId: alice.id, isStaff: false }, app.services.jwtSecret, -60)}` })],
      ['a token signed with another secret', () => ({ Authorization: `Bearer ${signAccessToken({ userId: alice.id, isStaff: false }, 'another-secret-that-is-32-characters-long!', 900)}` })],
      ['an unsigned token', () => ({ Authorization: `Bearer ${jwt.sign({ typ: 'access' }, '', { algorithm: 'none', subject: String(alice.id), issuer: 'shop' })}` })],
    ];
    for (const [name, headers] of cases) {
      it(`refuses ${name} on every order endpoint`, async () => {
        const requests = [
          app.request('/orders/orders/', { body: body(), headers: headers() }),
          app.request('/orders/orders/', { headers: headers() }),
          app.request('/orders/orders/1', { headers: headers() }),
          app.request('/orders/orders/1/cancel', { method: 'POST', headers: headers() }),
        ];
        for (const response of await Promise.all(requests)) {
          expect(response.status).to.equal(401);
          expect(response.headers.get('www-authenticate')).to.equal('Bearer');
        }
      });
    }
  });

  describe('placing and reading (no worker running)', () => {
    it('answers 202 with Location and the pending order, and stores it with its job', async () => {
      const response = await placeOrder(app, alice, shop.storeId, [{ product_id: p1(), quantity_requested: 2 }, { product_id: p0(), quantity_requested: 1 }]);
      expect(response.status).to.equal(202);
      const order = await response.json();
      expect(response.headers.get('location')).to.equal(`/orders/orders/${order.id}`);
      expect(order).to.include({ status: 'PENDING', store_id: shop.storeId, decided_at: null });
      expect(order.items).to.deep.equal([
        { product_id: p1(), quantity_requested: 2, unit_price: '10.00' },
        { product_id: p0(), quantity_requested: 1, unit_price: '10.00' },
      ]);
      expect(new Date(order.created_at).toISOString()).to.equal(order.created_at);
      const [job] = await app.services.boss.findJobs('orders', { data: { orderId: order.id } });
      expect(job?.singletonKey).to.equal(`store-${shop.storeId}`);

      const read = await app.request(`/orders/orders/${order.id}`, { token: alice.token });
      expect(read.status).to.equal(200);
      expect(await read.json()).to.deep.equal(order);
    });

    it("hides another user's order behind a 404", async () => {
      const id = await placed(app, alice, shop.storeId, [{ product_id: p0(), quantity_requested: 1 }]);
      const asBob = await app.request(`/orders/orders/${id}`, { token: bob.token });
      const missing = await app.request('/orders/orders/2000000000', { token: bob.token });
      expect(asBob.status).to.equal(404);
      expect(missing.status).to.equal(404);
      expect((await asBob.json()).detail).to.equal(`There is no order ${id}.`);
      expect((await app.request(`/orders/orders/${id}/cancel`, { method: 'POST', token: bob.token })).status).to.equal(404);
      expect((await app.request(`/orders/orders/${id}?wait=1`, { token: bob.token })).status).to.equal(404);
      expect((await app.request('/orders/orders/abc', { token: bob.token })).status).to.equal(400);
      expect((await app.request(`/orders/orders/${id}?wait=61`, { token: alice.token })).status).to.equal(400);
    });

    it("lists the caller's orders newest first, paginated", async () => {
      const carol = await createShopper(app.services.db, app.services.jwtSecret);
      const ids: number[] = [];
      for (let i = 0; i < 5; i++) ids.push(await placed(app, carol, shop.storeId, [{ product_id: p2(), quantity_requested: 1 + i }]));
      const first = await app.request('/orders/orders/?page_size=2', { token: carol.token });
      expect(first.status).to.equal(200);
      const page1 = await first.json();
      expect(page1.count).to.equal(5);
      expect(page1.results.map((o: { id: number }) => o.id)).to.deep.equal([ids[4], ids[3]]);
      expect(page1.previous).to.equal(null);
      expect(new URL(page1.next).searchParams.get('page')).to.equal('2');
      const page3 = await (await app.request('/orders/orders/?page=3&page_size=2', { token: carol.token })).json();
      expect(page3.results.map((o: { id: number }) => o.id)).to.deep.equal([ids[0]]);
      expect(page3.next).to.equal(null);
      // Another user's list holds their own orders and none of carol's.
      const bobs = await placed(app, bob, shop.storeId, [{ product_id: p2(), quantity_requested: 1 }]);
      const listed = async (shopper: Shopper) => ((await (await app.request('/orders/orders/?page_size=100', { token: shopper.token })).json()).results as { id: number }[]).map((o) => o.id);
      const [carols, others] = [await listed(carol), await listed(bob)];
      expect(others.filter((id) => carols.includes(id))).to.deep.equal([]);
      expect(others).to.include(bobs);
      expect(carols).to.deep.equal([...ids].reverse());
      expect((await app.request('/orders/orders/?page=0', { token: carol.token })).status).to.equal(400);
    });
  });

  describe('idempotency', () => {
    const items = () => [{ product_id: p0(), quantity_requested: 3 }, { product_id: p1(), quantity_requested: 1 }];

    it('a repeat with the same key and body returns the first order, and places nothing', async () => {
      const key = `key-${Date.now()}-${Math.random()}`;
      const first = await placeOrder(app, alice, shop.storeId, items(), { headers: { 'Idempotency-Key': key } });
      expect(first.status).to.equal(202);
      const original = await first.json();
      // The same items in another order are the same request.
      const again = await placeOrder(app, alice, shop.storeId, items().reverse(), { headers: { 'Idempotency-Key': key } });
      expect(again.status).to.equal(202);
      expect(again.headers.get('idempotent-replayed')).to.equal('true');
      expect(again.headers.get('location')).to.equal(`/orders/orders/${original.id}`);
      expect(await again.json()).to.deep.equal(original);
      const stored = await app.services.db('orders').where({ user_id: alice.id, idempotency_key: key }).select('id');
      expect(stored).to.have.length(1);
    });

    it('the same key with a different body is a 409', async () => {
      const key = `key-${Date.now()}-${Math.random()}`;
      expect((await placeOrder(app, alice, shop.storeId, items(), { headers: { 'Idempotency-Key': key } })).status).to.equal(202);
      const different = await placeOrder(app, alice, shop.storeId, [{ product_id: p0(), quantity_requested: 4 }], { headers: { 'Idempotency-Key': key } });
      expect(different.status).to.equal(409);
      expect(different.headers.get('content-type')).to.match(/^application\/problem\+json/);
    });

    it('keys are per user', async () => {
      const key = `shared-${Date.now()}-${Math.random()}`;
      const mine = await (await placeOrder(app, alice, shop.storeId, items(), { headers: { 'Idempotency-Key': key } })).json();
      const theirs = await (await placeOrder(app, bob, shop.storeId, items(), { headers: { 'Idempotency-Key': key } })).json();
      expect(theirs.id).to.not.equal(mine.id);
    });

    it('concurrent repeats place exactly one order', async () => {
      const key = `race-${Date.now()}-${Math.random()}`;
      const responses = await Promise.all(Array.from({ length: 12 }, () => placeOrder(app, alice, shop.storeId, items(), { headers: { 'Idempotency-Key': key } })));
      expect(responses.map((r) => r.status)).to.deep.equal(Array(12).fill(202));
      const ids = new Set(await Promise.all(responses.map(async (r) => (await r.json()).id)));
      expect(ids.size).to.equal(1);
      expect(responses.filter((r) => r.headers.get('idempotent-replayed') === 'true')).to.have.length(11);
      const stored = await app.services.db('orders').where({ user_id: alice.id, idempotency_key: key }).select('id');
      expect(stored).to.have.length(1);
      const jobs = await app.services.boss.findJobs('orders', { data: { orderId: [...ids][0] } });
      expect(jobs).to.have.length(1);
    });
  });

  describe('decisions seen through the API', () => {
    it('POST ?wait answers 201 with the decided order', async () => {
      workers = await startWorkersInProcess();
      const { storeId, productIds } = await createShop(app.services.db, [5]);
      const response = await placeOrder(app, alice, storeId, [{ product_id: productIds[0]!, quantity_requested: 2 }], { query: '?wait=20' });
      expect(response.status).to.equal(201);
      const order = await response.json();
      expect(order.status).to.equal('CONFIRMED');
      expect(order.decided_at).to.be.a('string');
      expect(response.headers.get('location')).to.equal(`/orders/orders/${order.id}`);
      expect(await stockOf(app.services.db, storeId, productIds[0]!)).to.equal(3);

      const rejected = await placeOrder(app, alice, storeId, [{ product_id: productIds[0]!, quantity_requested: 4 }], { query: '?wait=20' });
      expect(rejected.status).to.equal(201);
      const body = await rejected.json();
      expect(body.status).to.equal('REJECTED');
      expect(body.rejection).to.deep.equal({ reason: 'insufficient_stock', items: [{ product_id: productIds[0], requested: 4, available: 3 }] });
    });

    it('a replayed key answers 201 once the order is decided', async () => {
      workers = await startWorkersInProcess();
      const { storeId, productIds } = await createShop(app.services.db, [5]);
      const key = `decided-${Date.now()}-${Math.random()}`;
      const items = [{ product_id: productIds[0]!, quantity_requested: 1 }];
      const first = await (await placeOrder(app, alice, storeId, items, { query: '?wait=20', headers: { 'Idempotency-Key': key } })).json();
      expect(first.status).to.equal('CONFIRMED');
      const replay = await placeOrder(app, alice, storeId, items, { headers: { 'Idempotency-Key': key } });
      expect(replay.status).to.equal(201);
      expect((await replay.json()).id).to.equal(first.id);
      expect(await stockOf(app.services.db, storeId, productIds[0]!)).to.equal(4);
    });

    it('GET ?wait long-polls and is woken by the decision, not by its timeout', async function () {
      // The wait asks for 60 s and the test allows 40: only the worker's NOTIFY can end it in time.
      this.timeout(40_000);
      const { storeId, productIds } = await createShop(app.services.db, [5]);
      const id = await placed(app, alice, storeId, [{ product_id: productIds[0]!, quantity_requested: 1 }]);
      const waiting = app.request(`/orders/orders/${id}?wait=60`, { token: alice.token });
      // The request is being held: nothing decides the order until the workers start.
      await waitUntil('the long-poll to be waiting', async () => app.services.orderEvents.waiting > 0);
      workers = await startWorkersInProcess();
      const response = await waiting;
      expect(response.status).to.equal(200);
      expect((await response.json()).status).to.equal('CONFIRMED');
    });

    it('GET ?wait reads the order when it starts and when its time is up, and never in between (no polling)', async () => {
      const { storeId, productIds } = await createShop(app.services.db, [5]);
      const id = await placed(app, alice, storeId, [{ product_id: productIds[0]!, quantity_requested: 1 }]);
      const statements: string[] = [];
      const record = (query: { sql: string }) => statements.push(query.sql);
      app.services.db.on('query', record);
      try {
        await app.request(`/orders/orders/${id}`, { token: alice.token });
        const oneRead = statements.length;
        expect(oneRead).to.be.above(0);
        const held = await app.request(`/orders/orders/${id}?wait=3`, { token: alice.token }); // nothing decides it
        expect((await held.json()).status).to.equal('PENDING');
        expect(statements.length).to.equal(3 * oneRead); // the plain read, then the wait's first and last
      } finally {
        app.services.db.off('query', record);
      }
    });

    it('GET ?wait still wakes up after its LISTEN connection was cut', async function () {
      this.timeout(40_000);
      const { storeId, productIds } = await createShop(app.services.db, [5]);
      const id = await placed(app, alice, storeId, [{ product_id: productIds[0]!, quantity_requested: 1 }]);
      const waiting = app.request(`/orders/orders/${id}?wait=60`, { token: alice.token });
      await waitUntil('the long-poll to be waiting', async () => app.services.orderEvents.waiting > 0);
      const listeners = async () => {
        const { rows } = await app.services.db.raw<{ rows: { pid: number }[] }>(
          "SELECT pid FROM pg_stat_activity WHERE application_name = 'shop-order-events' AND datname = current_database()",
        );
        return rows.map((row) => row.pid);
      };
      const before = await listeners();
      expect(before).to.have.length(1);
      await app.services.db.raw('SELECT pg_terminate_backend(pid) FROM unnest(?::int[]) AS pid', [before]);
      await waitUntil('the listener to reconnect', async () => (await listeners()).some((pid) => !before.includes(pid)));
      workers = await startWorkersInProcess();
      const response = await waiting;
      expect((await response.json()).status).to.equal('CONFIRMED');
    });

    it('GET ?wait lets go of its waiter when the client disconnects', async function () {
      // The wait asks for 60 s and the test allows 40: only the disconnect can end it in time.
      this.timeout(40_000);
      const { storeId, productIds } = await createShop(app.services.db, [5]);
      // No worker runs: nothing decides the order, so nothing but the client going away ends the wait.
      const id = await placed(app, alice, storeId, [{ product_id: productIds[0]!, quantity_requested: 1 }]);
      const events = app.services.orderEvents;
      const before = events.waiting;
      const client = new AbortController();
      const request = fetch(`${app.url}/orders/orders/${id}?wait=60`, { headers: { Authorization: `Bearer ${alice.token}` }, signal: client.signal });
      await waitUntil('the long-poll to be waiting', () => events.waiting === before + 1);
      client.abort();
      const outcome = await request.then(() => 'answered', (error: unknown) => (error as Error).name);
      expect(outcome).to.equal('AbortError');
      await waitUntil('the waiter to be removed', () => events.waiting === before, 30_000);
      expect((await app.request(`/orders/orders/${id}`, { token: alice.token })).status).to.equal(200);
    });
  });

  describe('cancelling', () => {
    it('cancels a confirmed order and returns its stock, with ledger rows', async () => {
      workers = await startWorkersInProcess();
      const { storeId, productIds } = await createShop(app.services.db, [10, 4]);
      const [a, b] = productIds as [number, number];
      const order = await (await placeOrder(app, alice, storeId, [{ product_id: a, quantity_requested: 3 }, { product_id: b, quantity_requested: 4 }], { query: '?wait=20' })).json();
      expect(order.status).to.equal('CONFIRMED');
      expect([await stockOf(app.services.db, storeId, a), await stockOf(app.services.db, storeId, b)]).to.deep.equal([7, 0]);

      const response = await app.request(`/orders/orders/${order.id}/cancel?wait=20`, { method: 'POST', token: alice.token });
      expect(response.status).to.equal(200);
      const cancelled = await response.json();
      expect(cancelled.status).to.equal('CANCELLED');
      expect(cancelled.cancelled_at).to.be.a('string');
      expect(cancelled.decided_at).to.equal(order.decided_at);
      expect([await stockOf(app.services.db, storeId, a), await stockOf(app.services.db, storeId, b)]).to.deep.equal([10, 4]);
      const ledger = await ledgerOf(app.services.db, storeId, b);
      expect(ledger.map((row) => [row.delta, row.quantity_after, row.reason, row.order_id])).to.deep.equal([
        [-4, 0, 'order_confirmed', order.id],
        [4, 4, 'order_cancelled', order.id],
      ]);
    });

    it("returns a cancelled order's stock to a row removed since it was confirmed", async () => {
      workers = await startWorkersInProcess();
      const { storeId, productIds } = await createShop(app.services.db, [3, 5]);
      const [a, b] = productIds as [number, number];
      const order = await (await placeOrder(app, alice, storeId, [{ product_id: a, quantity_requested: 3 }, { product_id: b, quantity_requested: 1 }], { query: '?wait=20' })).json();
      expect(order.status).to.equal('CONFIRMED');
      // The store stops carrying a: its row (now at 0) is removed.
      await app.services.db('inventory').where({ store_id: storeId, product_id: a }).delete();

      const response = await app.request(`/orders/orders/${order.id}/cancel?wait=20`, { method: 'POST', token: alice.token });
      expect((await response.json()).status).to.equal('CANCELLED');
      expect([await stockOf(app.services.db, storeId, a), await stockOf(app.services.db, storeId, b)]).to.deep.equal([3, 5]);
      const ledger = await ledgerOf(app.services.db, storeId, a);
      expect(ledger.map((row) => [row.delta, row.quantity_after, row.reason])).to.deep.equal([
        [-3, 0, 'order_confirmed'],
        [3, 3, 'order_cancelled'],
      ]);
    });

    it('cancels a pending order in its place in the line (202 first, then CANCELLED)', async () => {
      const { storeId, productIds } = await createShop(app.services.db, [2]);
      const id = await placed(app, alice, storeId, [{ product_id: productIds[0]!, quantity_requested: 2 }]);
      const response = await app.request(`/orders/orders/${id}/cancel`, { method: 'POST', token: alice.token });
      expect(response.status).to.equal(202);
      expect(response.headers.get('location')).to.equal(`/orders/orders/${id}`);
      expect((await response.json()).status).to.equal('PENDING');
      workers = await startWorkersInProcess();
      // Its placement is decided first (confirmed), then the cancellation queued behind it.
      await waitUntil('the cancellation', async () => (await (await app.request(`/orders/orders/${id}`, { token: alice.token })).json()).status === 'CANCELLED');
      // The stock is back, and the ledger shows both moves.
      expect(await stockOf(app.services.db, storeId, productIds[0]!)).to.equal(2);
      const ledger = await ledgerOf(app.services.db, storeId, productIds[0]!);
      expect(ledger.map((row) => row.delta)).to.deep.equal([-2, 2]);
    });

    it('cancelling a pending order whose placement is then rejected answers 200 with it REJECTED, and moves no stock', async () => {
      const { storeId, productIds } = await createShop(app.services.db, [1]);
      const product = productIds[0]!;
      // Placed while no worker runs, for more than the store has: PENDING, to be rejected.
      const id = await placed(app, alice, storeId, [{ product_id: product, quantity_requested: 2 }]);
      const events = app.services.orderEvents;
      const before = events.waiting;
      const cancelling = app.request(`/orders/orders/${id}/cancel?wait=20`, { method: 'POST', token: alice.token });
      // The request waits once its cancellation is queued, behind the placement.
      await waitUntil('the cancellation to be queued and waiting', () => events.waiting === before + 1);
      workers = await startWorkersInProcess();
      const response = await cancelling;
      expect(response.status).to.equal(200);
      expect(response.headers.get('location')).to.equal(`/orders/orders/${id}`);
      const order = await response.json();
      expect(order).to.include({ id, status: 'REJECTED', cancelled_at: null });
      expect(order.rejection).to.deep.equal({ reason: 'insufficient_stock', items: [{ product_id: product, requested: 2, available: 1 }] });
      // The cancellation, decided after the rejection, changed nothing: the order stays REJECTED
      // and the store's stock never moved.
      await waitUntil('the placement and the cancellation to complete', async () => {
        const jobs = await app.services.boss.findJobs('orders', { data: { orderId: id } });
        return jobs.length === 2 && jobs.every((job) => job.state === 'completed');
      });
      expect(await (await app.request(`/orders/orders/${id}`, { token: alice.token })).json()).to.deep.equal(order);
      expect(await stockOf(app.services.db, storeId, product)).to.equal(1);
      expect(await ledgerOf(app.services.db, storeId, product)).to.deep.equal([]);
    });

    it('refuses to cancel a rejected or cancelled order (409)', async () => {
      workers = await startWorkersInProcess();
      const { storeId, productIds } = await createShop(app.services.db, [1]);
      const rejected = await (await placeOrder(app, alice, storeId, [{ product_id: productIds[0]!, quantity_requested: 2 }], { query: '?wait=20' })).json();
      expect(rejected.status).to.equal('REJECTED');
      expect((await app.request(`/orders/orders/${rejected.id}/cancel`, { method: 'POST', token: alice.token })).status).to.equal(409);

      const confirmed = await (await placeOrder(app, alice, storeId, [{ product_id: productIds[0]!, quantity_requested: 1 }], { query: '?wait=20' })).json();
      expect((await app.request(`/orders/orders/${confirmed.id}/cancel?wait=20`, { method: 'POST', token: alice.token })).status).to.equal(200);
      const again = await app.request(`/orders/orders/${confirmed.id}/cancel`, { method: 'POST', token: alice.token });
      expect(again.status).to.equal(409);
      expect(again.headers.get('content-type')).to.match(/^application\/problem\+json/);
    });

    it('concurrent cancellations return the stock once', async () => {
      workers = await startWorkersInProcess();
      const { storeId, productIds } = await createShop(app.services.db, [6]);
      const order = await (await placeOrder(app, alice, storeId, [{ product_id: productIds[0]!, quantity_requested: 5 }], { query: '?wait=20' })).json();
      expect(order.status).to.equal('CONFIRMED');
      const responses = await Promise.all(Array.from({ length: 5 }, () => app.request(`/orders/orders/${order.id}/cancel`, { method: 'POST', token: alice.token })));
      for (const response of responses) expect([200, 202, 409]).to.include(response.status);
      await waitUntil('the cancellation', async () => (await (await app.request(`/orders/orders/${order.id}`, { token: alice.token })).json()).status === 'CANCELLED');
      // Let every cancellation run to its end before counting: a job still active (not only one
      // still queued) could yet return the stock a second time.
      const cancellations = responses.filter((response) => response.status !== 409).length;
      await waitUntil('the cancel jobs to complete', async () => {
        const jobs = await app.services.boss.findJobs('orders', { data: { orderId: order.id } });
        return jobs.length === 1 + cancellations && jobs.every((job) => job.state === 'completed');
      });
      expect(await stockOf(app.services.db, storeId, productIds[0]!)).to.equal(6);
      const ledger = await ledgerOf(app.services.db, storeId, productIds[0]!);
      expect(ledger.map((row) => [row.delta, row.reason])).to.deep.equal([[-5, 'order_confirmed'], [5, 'order_cancelled']]);
    });
  });
});
