import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { projectRoot } from '../core/paths.ts';
import { createShop, createShopper, waitUntil, type Shopper } from './orders/fixtures.ts';
import { testEnvironment } from './support/environment.ts';
import { freePort } from './support/free-port.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';
import { spawnWorkerProcess, untilWorking } from './support/workers.ts';

// A deploy stops processes with SIGTERM. A web process answers its long-polls at once (with the
// order as it is) instead of holding them, and the client polls again on another process; worker
// and web processes exit 0, so a supervisor sees a clean stop.
describe('graceful shutdown (SIGTERM)', function () {
  this.timeout(60_000);
  let app: TestApp;
  let shopper: Shopper;

  before(async () => {
    app = await startTestApp();
    shopper = await createShopper(app.services.db, app.services.jwtSecret);
  });
  after(() => app.close());

  it('a web process answers an open long-poll with the pending order, then exits 0', async () => {
    const db = app.services.db;
    const { storeId } = await createShop(db, [5]);
    // A PENDING order with no job: nothing will decide it, so only the shutdown can end the wait.
    const [order] = await db('orders').insert({ user_id: shopper.id, store_id: storeId, status: 'PENDING' }).returning<{ id: number }[]>('id');

    const port = await freePort();
    const web = spawn('node_modules/.bin/node', ['server/main.ts'], {
      cwd: projectRoot,
      env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'warn', PORT: String(port), DATABASE_URL: testEnvironment().databaseUrl, JWT_SECRET: app.services.jwtSecret, REDIS_URL: '' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const exited = new Promise<number | null>((resolve) => web.once('exit', (code) => resolve(code)));
    try {
      const url = `http://127.0.0.1:${port}`;
      await waitUntil('the web process to listen', () => fetch(`${url}/healthz`).then((r) => r.ok, () => false), 30_000);
      const longPoll = fetch(`${url}/orders/orders/${order!.id}?wait=60`, { headers: { Authorization: `Bearer ${shopper.token}` } });
      await waitUntil('the long-poll to be waiting', async () => /^order_long_polls_waiting 1$/m.test(await (await fetch(`${url}/metrics`)).text()), 30_000);
      web.kill('SIGTERM');
      // Held to the end of its wait, it would outlast this test's timeout.
      const response = await longPoll;
      expect(response.status).to.equal(200);
      expect(((await response.json()) as { status: string }).status).to.equal('PENDING');
      expect(await exited).to.equal(0);
    } finally {
      web.kill('SIGKILL');
    }
  });

  it('a worker process exits 0', async () => {
    const worker = await spawnWorkerProcess();
    await untilWorking(app.services.boss, worker);
    expect(await worker.stop()).to.equal(0);
  });
});
