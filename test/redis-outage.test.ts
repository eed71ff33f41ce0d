import { expect } from 'chai';
import { testEnvironment } from './support/environment.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';

// Redis failing while the service runs: autocomplete keeps answering (uncounted, from the
// database), login refuses with 503 + Retry-After rather than run without its guessing limits.
describe('when Redis fails at runtime', () => {
  let app: TestApp;
  before(async function () {
    if (!testEnvironment().redisUrl) this.skip(); // needs a real Redis to lose; CI always has one
    app = await startTestApp();
    app.services.redis!.disconnect(); // offline queue is off: every command now fails at once
  });
  after(() => app?.close());

  it('suggestions still answer 200', async () => {
    const response = await app.request('/api/search/suggest/?q=app');
    expect(response.status).to.equal(200);
    expect((await response.json()).suggestions).to.be.an('array');
  });

  it('login answers 503 problem+json with Retry-After', async () => {
    const response = await app.request('/api/token/', { body: { username: 'nobody', password: 'whatever-password' } });
    expect(response.status).to.equal(503);
    expect(response.headers.get('content-type')).to.match(/^application\/problem\+json/);
    expect(Number(response.headers.get('retry-after'))).to.be.at.least(1);
  });

  it('readiness names Redis as down', async () => {
    const response = await app.request('/readyz');
    expect(response.status).to.equal(503);
    expect((await response.json()).checks.redis).to.equal('down');
  });
});
