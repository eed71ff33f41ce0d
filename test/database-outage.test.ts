import { expect } from 'chai';
import { Writable } from 'node:stream';
import pg from 'pg';
import { signAccessToken } from '../core/auth/access-tokens.ts';
import { createShop, createShopper, placeOrder, waitUntil } from './orders/fixtures.ts';
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

  it('a POST ?wait whose order is stored answers 202 with it when the database goes away during the wait, not 503', async () => {
    await proxy.restore();
    try {
      const shop = await createShop(app.services.db, [5]);
      const shopper = await createShopper(app.services.db, app.services.jwtSecret);
      // No worker runs: the order stays PENDING and the request waits its 2 s, then reads it again.
      const answer = placeOrder(app, shopper, shop.storeId, [{ product_id: shop.productIds[0]!, quantity_requested: 1 }], { query: '?wait=2' });
      await waitUntil('the placement to be waiting for its decision', async () => app.services.orderEvents.waiting > 0);
      await proxy.cut(); // that read fails
      const response = await answer;
      expect(response.status).to.equal(202); // a 503 would tell the client to place it again
      const order = (await response.json()) as { id: number; status: string };
      expect(order.status).to.equal('PENDING');
      expect(response.headers.get('location')).to.equal(`/orders/orders/${order.id}`);
      await proxy.restore();
      expect((await app.request(`/orders/orders/${order.id}`, { token: shopper.token })).status).to.equal(200); // it is stored
    } finally {
      await proxy.cut();
    }
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

// An administrator (or a failover) ending the service's connection while its statement runs: the
// driver's error then comes wrapped by objection, from the model queries of the account routes.
describe('when the database ends a connection in the middle of a statement', function () {
  this.timeout(30_000);
  let app: TestApp;
  let admin: pg.Client;
  const logLines: string[] = [];

  before(async () => {
    const log = new Writable({ write: (chunk, _encoding, done) => (logLines.push(String(chunk)), done()) });
    app = await startTestApp({ LOG_LEVEL: 'error' }, log);
    admin = new pg.Client({ connectionString: testEnvironment().databaseUrl });
    await admin.connect();
  });
  after(async () => {
    await admin.end();
    await app.close();
  });

  it('a registration answers 503 with Retry-After, and the log names neither the email nor the password hash', async () => {
    await admin.query('BEGIN');
    await admin.query('LOCK TABLE users IN ACCESS EXCLUSIVE MODE'); // the registration's INSERT waits here
    const email = `outage-${Date.now()}@example.com`;
    const answer = app.request('/api/register/', { body: { username: `outage${Date.now()}`, email, password: 'a long enough password' } });
    try {
      const blocked = await waitForBlockedStatementOnUsers();
      await admin.query('SELECT pg_terminate_backend($1)', [blocked]);
    } finally {
      await admin.query('ROLLBACK');
    }
    const response = await answer;
    expect(response.status).to.equal(503);
    expect(Number(response.headers.get('retry-after'))).to.be.at.least(1);
    const logged = logLines.join('');
    expect(logged).to.include('terminating connection due to administrator command'); // it is logged...
    expect(logged).not.to.include(email); // ...without the values of the statement
    expect(logged).not.to.include('$argon2');
  });

  // The backend waiting for the table (during Parse, pg_stat_activity still shows its previous statement).
  async function waitForBlockedStatementOnUsers(): Promise<number> {
    for (;;) {
      const { rows } = await admin.query<{ pid: number }>(
        `SELECT pid FROM pg_locks WHERE relation = 'users'::regclass AND NOT granted AND pid <> pg_backend_pid()`,
      );
      if (rows[0]) return rows[0].pid;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
});
