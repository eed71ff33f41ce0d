import { expect } from 'chai';
import { startTestApp, type TestApp } from '../support/test-app.ts';
import { createShop, createShopper, placeOrder, type Shopper } from './fixtures.ts';

// An access token outlives its account by up to its lifetime (minutes). An order placed with it
// is refused as the token is, 401, and the orders placed in the same batch are not held up.
describe('placing an order for a deleted account', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp();
  });
  after(() => app.close());

  it('answers 401, and the other orders of its batch are placed', async () => {
    const db = app.services.db;
    const { storeId, productIds } = await createShop(db, [100]);
    const items = [{ product_id: productIds[0]!, quantity_requested: 1 }];
    const deleted = await createShopper(db, app.services.jwtSecret);
    await db('users').where({ id: deleted.id }).delete();
    const others: Shopper[] = await Promise.all([1, 2, 3, 4, 5].map(() => createShopper(db, app.services.jwtSecret)));

    // Sent together, so that the web process places them in shared transactions.
    const [refused, ...placed] = await Promise.all([deleted, ...others].map((shopper) => placeOrder(app, shopper, storeId, items)));
    expect(refused!.status).to.equal(401);
    expect(refused!.headers.get('content-type')).to.match(/^application\/problem\+json/);
    expect(((await refused!.json()) as { detail: string }).detail).to.equal('This account no longer exists.');
    expect(placed.map((response) => response.status)).to.deep.equal([202, 202, 202, 202, 202]);
    expect(await db('orders').where({ user_id: deleted.id }).count({ n: '*' }).first()).to.deep.equal({ n: 0 });
  });
});
