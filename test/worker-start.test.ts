import { expect } from 'chai';
import { createServer, type Server } from 'node:net';
import { everyInstance } from '../core/queue-metrics.ts';
import { testEnvironment } from './support/environment.ts';
import { runToExit } from './support/run-to-exit.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';

// A worker or mailer that cannot do its job right refuses to start, before it claims any job: a
// job it claimed and then dropped by exiting would wait for its heartbeat to lapse (an order's
// store stalls) or spend one of its attempts (an email).
describe('a worker process that cannot work as configured', function () {
  this.timeout(60_000);
  let app: TestApp;

  before(async () => {
    app = await startTestApp();
  });
  after(() => app.close());

  it('a mailer in production without SMTP_URL exits 1 instead of writing the emails to files', async () => {
    const { code, output } = await runToExit('workers/main.ts', ['email'], {
      NODE_ENV: 'production',
      JWT_SECRET: 'x'.repeat(32),
      DATABASE_URL: testEnvironment().databaseUrl,
      SMTP_URL: '', // as docker-compose.yml passes an unset one
    });
    expect(code, output).to.equal(1);
    expect(output).to.include('SMTP_URL is not set');
  });

  it('a METRICS_PORT already taken stops the worker before it joins the queue', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, resolve));
    const { port } = taken.address() as { port: number };
    try {
      const { code, output } = await runToExit('workers/main.ts', ['orders'], { DATABASE_URL: testEnvironment().databaseUrl, METRICS_PORT: String(port) });
      expect(code, output).to.equal(1);
      expect(output).to.include('EADDRINUSE');
      const pid = Number(/"pid":(\d+)/.exec(output)?.[1]);
      expect(pid, output).to.be.above(0);
      // pg-boss registers each instance it starts: this one never started.
      expect((await everyInstance(app.services.boss)).map((instance) => instance.pid)).not.to.include(pid);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
