import { expect } from 'chai';
import pg from 'pg';
import { createLogger } from '../../core/logger.ts';
import { ORDER_EVENTS_CHANNEL, OrderEvents } from '../../core/orders/order-events.ts';
import { testEnvironment } from '../support/environment.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';

// The long-poll's LISTEN connection when the database stops answering without closing it (a
// NAT or load balancer that dropped the connection, a host that is gone): waits still end on
// time, and a dead connection is noticed and replaced, so no decision is slept through.
describe('order events when the database stops answering', function () {
  this.timeout(10_000);
  const log = createLogger('silent');
  let proxy: TcpProxy;
  let events: OrderEvents | undefined;

  beforeEach(async () => {
    const url = new URL(testEnvironment().databaseUrl);
    proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
  });
  afterEach(async () => {
    await events?.close();
    await proxy.close();
  });

  it('a wait ends in its time when the database accepts the connection but never answers', async () => {
    proxy.mute();
    // The connection attempt would give up only after a minute: a wait held until then is caught
    // by this test's 10 s timeout, so an answer at all means the wait ended in its own time.
    events = new OrderEvents(proxy.urlFor(testEnvironment().databaseUrl), log, { timeoutMs: 60_000 });
    const answer = await events.waitFor(1, async () => 'the order as it is', () => false, 300);
    expect(answer).to.equal('the order as it is');
  });

  it('a listening connection that silently stops delivering is replaced, and its waiters read their orders again', async () => {
    events = new OrderEvents(proxy.urlFor(testEnvironment().databaseUrl), log, { timeoutMs: 300, heartbeatMs: 500 });
    await events.start();
    let decided = false;
    const waiting = events.waitFor(42, async () => decided, (value) => value, 60_000);
    while (events.waiting === 0) await new Promise((resolve) => setTimeout(resolve, 10));

    proxy.mute(); // the listening connection is now a black hole
    decided = true;
    const direct = new pg.Client({ connectionString: testEnvironment().databaseUrl });
    await direct.connect();
    await direct.query(`SELECT pg_notify('${ORDER_EVENTS_CHANNEL}', '42')`); // never reaches the muted connection
    await direct.end();
    await proxy.restore();

    // Woken when the replacement connection listens, long before the 60 s wait would end.
    expect(await waiting).to.equal(true);
  });
});
