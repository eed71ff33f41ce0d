import { expect } from 'chai';
import { signAccessToken } from '../core/auth/access-tokens.ts';
import { testEnvironment } from './support/environment.ts';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';

// The database going away while the service runs (a restart, a failover, a network cut): what a
// client gets is a 503 with Retry-After, which tells it to come back, not a 500, which says the
// server is broken; and it gets it within seconds, not after a minute of waiting for a connection.
describe('when the database goes away', function () {
  this.timeout(60_000);
  let proxy: TcpProxy;
  let app: TestApp;
  let token: string;

  before(async () => {
    const { databaseUrl } = testEnvironment();
    const url = new URL(databaseUrl);
    proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    app = await startTestApp({ DATABASE_URL: proxy.urlFor(databaseUrl) });
    token = signAccessToken({ userId: 1, isStaff: false }, app.services.jwtSecret, 60);
    expect((await app.request('/stores/')).status).to.equal(200); // pooled connections are open
    await proxy.cut();
  });
  after(async () => {
    await proxy.restore();
    await app.close();
    await proxy.close();
  });

  async function expectUnavailable(response: Response) {
    expect(response.status).to.equal(503);
    expect(response.headers.get('content-type')).to.match(/^application\/problem\+json/);
    expect(Number(response.headers.get('retry-after'))).to.be.at.least(1);
    expect((await response.json()).detail).to.include('database');
  }

  it('a catalog read answers 503 problem+json with Retry-After', async () => {
    await expectUnavailable(await app.request('/stores/'));
    // A text no other test searches for: a page cached by another test would be served from Redis.
    await expectUnavailable(await app.request(`/api/search/products/?search=outage${Date.now()}`));
  });

  it('placing an order answers 503: nothing was stored, and the client is told to retry', async () => {
    const response = await app.request('/orders/orders/', { token, body: { store_id: 1, items: [{ product_id: 1, quantity_requested: 1 }] } });
    await expectUnavailable(response);
  });

  it('readiness names the database as down', async () => {
    const response = await app.request('/readyz');
    expect(response.status).to.equal(503);
    expect((await response.json()).checks.database).to.equal('down');
  });

  it('serves again once the database is back', async () => {
    await proxy.restore();
    try {
      expect((await app.request('/stores/')).status).to.equal(200);
    } finally {
      await proxy.cut();
    }
  });
});
