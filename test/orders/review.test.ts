import { expect } from 'chai';
import { createShop, orderTestbed, placeOrder, type Shop } from './fixtures.ts';

// Odd client input on the order endpoints: always a 4xx problem, never a 500.
describe('orders: odd client input is a 4xx, never a 500', function () {
  this.timeout(60_000);
  const bed = orderTestbed();
  let shop: Shop;
  before(async () => {
    shop = await createShop(bed.app.services.db, [10, 10]);
  });

  async function expectClientError(response: Response, status = 400) {
    const text = await response.text();
    expect(response.status, text).to.equal(status);
    expect(response.headers.get('content-type')).to.match(/^application\/problem\+json/);
    expect(text).to.not.match(/at .*\.ts:\d+|SELECT|INSERT/);
  }

  it('bodies that are not an order object', async () => {
    for (const body of ['null', '[]', '"order"', '42', 'true', '[{"store_id":1}]']) {
      await expectClientError(await bed.app.request('/orders/orders/', { body, token: bed.shopper.token }));
    }
  });

  it('items of the wrong shape', async () => {
    const product = shop.productIds[0]!;
    for (const items of [null, {}, 'x', [null], [1], [{ product_id: product, quantity_requested: 1e308 }], [{ product_id: product, quantity_requested: 2.5 }], [{ product_id: -1, quantity_requested: 1 }], [{ product_id: 2 ** 31, quantity_requested: 1 }]]) {
      await expectClientError(await bed.app.request('/orders/orders/', { body: { store_id: shop.storeId, items }, token: bed.shopper.token }));
    }
  });

  it('odd ids in the path', async () => {
    for (const id of ['0', '-1', '1.5', '1e3', '4294967296', '2147483648', '99999999999', '%00', 'abc', '%20%201']) {
      await expectClientError(await bed.app.request(`/orders/orders/${id}`, { token: bed.shopper.token }));
      await expectClientError(await bed.app.request(`/orders/orders/${id}/cancel`, { method: 'POST', token: bed.shopper.token }));
    }
  });

  it('odd waits', async () => {
    for (const wait of ['1e400', '99999999999999999999999999', '-0', 'Infinity', 'NaN', '1,5', '0x10', '']) {
      await expectClientError(await bed.app.request(`/orders/orders/1?wait=${wait}`, { token: bed.shopper.token }));
    }
    await expectClientError(await bed.app.request('/orders/orders/1?wait=1&wait=2', { token: bed.shopper.token }));
  });

  it('odd pages', async () => {
    for (const query of ['page=1e18', 'page=99999999999999999999', 'page_size=0', 'page_size=101', 'page=1&page=2', 'page=abc']) {
      await expectClientError(await bed.app.request(`/orders/orders/?${query}`, { token: bed.shopper.token }));
    }
  });

  it('Idempotency-Key of 255 characters is taken, 256 refused', async () => {
    const items = [{ product_id: shop.productIds[0]!, quantity_requested: 1 }];
    const ok = await placeOrder(bed.app, bed.shopper, shop.storeId, items, { headers: { 'Idempotency-Key': 'é'.repeat(255) } });
    expect(ok.status, await ok.clone().text()).to.equal(202);
    await expectClientError(await placeOrder(bed.app, bed.shopper, shop.storeId, items, { headers: { 'Idempotency-Key': 'k'.repeat(256) } }));
  });
});
