import { expect } from 'chai';
import { startTestApp, type TestApp } from './support/test-app.ts';

describe('operations and error handling', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp();
  });
  after(() => app.close());

  it('GET /healthz answers 200', async () => {
    const response = await app.request('/healthz');
    expect(response.status).to.equal(200);
    expect(await response.json()).to.deep.equal({ status: 'ok' });
  });

  it('GET /readyz reports each dependency', async () => {
    const response = await app.request('/readyz');
    expect(response.status).to.equal(200);
    const body = await response.json();
    expect(body.status).to.equal('ok');
    expect(body.checks.database).to.equal('ok');
  });

  it('an unknown path is a problem+json 404', async () => {
    const response = await app.request('/no/such/thing');
    expect(response.status).to.equal(404);
    expect(response.headers.get('content-type')).to.match(/^application\/problem\+json/);
    const body = await response.json();
    expect(body).to.include({ status: 404, title: 'Not Found' });
  });

  it('a body that is not JSON is refused with 415', async () => {
    const response = await app.request('/api/register/', { body: 'username=a', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    expect(response.status).to.equal(415);
    expect(response.headers.get('content-type')).to.match(/^application\/problem\+json/);
  });

  it('malformed JSON is a 400, never a 500', async () => {
    const response = await app.request('/api/register/', { body: '{"username": ' });
    expect(response.status).to.equal(400);
    expect((await response.json()).status).to.equal(400);
  });

  it('a body over the size limit is refused with 413', async () => {
    const response = await app.request('/api/register/', { body: JSON.stringify({ padding: 'x'.repeat(200_000) }) });
    expect(response.status).to.equal(413);
  });
});
