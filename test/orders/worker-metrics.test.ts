import { expect } from 'chai';
import type { PgBoss } from 'pg-boss';
import { ORDERS_QUEUE } from '../../core/queue.ts';
import { freePort } from '../support/free-port.ts';
import { spawnWorkerProcess, type WorkerProcess } from '../support/workers.ts';
import { allDecided, createShop, orderTestbed, placed, waitUntil } from './fixtures.ts';

/** No job of the orders queue is queued, waiting for a retry, or active. */
async function ordersQueueIsIdle(boss: PgBoss): Promise<boolean> {
  // queued: the states before active (created, retry), so a retry whose backoff has not passed counts.
  if ((await boss.findJobs(ORDERS_QUEUE, { queued: true, limit: 1 })).length > 0) return false;
  // A job becomes active only from queued, and none was: one active now was already being worked.
  let after: string | undefined;
  for (;;) {
    const page = await boss.findJobs(ORDERS_QUEUE, { limit: 1000, ...(after === undefined ? {} : { after }) });
    if (page.some((job) => job.state === 'active')) return false;
    if (page.length < 1000) return true;
    after = page.at(-1)!.id;
  }
}

// Orders are decided in worker processes, which serve no API: with METRICS_PORT they serve what
// they count to Prometheus, so orders_decided_total moves in production, not only under npm start.
describe('a worker process with METRICS_PORT', function () {
  this.timeout(60_000);
  const bed = orderTestbed();
  let worker: WorkerProcess | undefined;
  after(() => worker?.stop());

  it('serves GET /metrics with the orders it decided, by status', async () => {
    const port = await freePort();
    worker = await spawnWorkerProcess({ METRICS_PORT: String(port), ORDER_WORKER_CONCURRENCY: '1' });
    const read = () => fetch(`http://127.0.0.1:${port}/metrics`).then((response) => response.text(), () => '');
    const decided = (text: string, status: string) => Number(new RegExp(`^orders_decided_total\\{status="${status}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    await waitUntil('the worker to serve its metrics', async () => (await read()) !== '');
    // The worker also decides what earlier tests left in the orders queue of this database (jobs
    // queued, set back for a retry, or being worked, possibly to be decided seconds from now):
    // counted from when none is left.
    await waitUntil('the orders queue to be worked off', () => ordersQueueIsIdle(bed.app.services.boss), 60_000);
    const before = await read();

    const { storeId, productIds } = await createShop(bed.app.services.db, [1]);
    const line = [{ product_id: productIds[0]!, quantity_requested: 1 }];
    const ids = [await placed(bed.app, bed.shopper, storeId, line), await placed(bed.app, bed.shopper, storeId, line)];
    await allDecided(bed.app.services.db, ids);
    // The counter moves just after the turn commits, so it is read until it has.
    const after = await waitUntil('the worker to count both decisions', async () => {
      const text = await read();
      return decided(text, 'REJECTED') > decided(before, 'REJECTED') && text;
    });
    expect(decided(after, 'CONFIRMED') - decided(before, 'CONFIRMED')).to.equal(1);
    expect(decided(after, 'REJECTED') - decided(before, 'REJECTED')).to.equal(1);
    expect(after).to.match(/^process_cpu_seconds_total /m);
    expect((await fetch(`http://127.0.0.1:${port}/other`)).status).to.equal(404);
  });
});
