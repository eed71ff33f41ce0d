import { expect } from 'chai';
import { loadConfig } from '../core/config.ts';
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
    expect(body.checks).to.include({ database: 'ok', queue: 'ok' });
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

  it('BODY_LIMIT takes bytes, kb or mb, and refuses what would turn into 1 byte or no limit', async () => {
    for (const limit of ['1m', '512K ', 'abc', '0kb', '']) expect(() => loadConfig({ BODY_LIMIT: limit }), limit).to.throw(/BODY_LIMIT/);
    const strict = await startTestApp({ BODY_LIMIT: '1kb' });
    try {
      const body = (size: number) => JSON.stringify({ username: 'x'.repeat(size) });
      expect((await strict.request('/api/register/', { body: body(2000) })).status).to.equal(413);
      expect((await strict.request('/api/register/', { body: body(500) })).status).to.equal(400); // read, then validated
    } finally {
      await strict.close();
    }
  });
});

describe('API description and metrics', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp();
  });
  after(() => app.close());

  it('GET /openapi.json is an OpenAPI 3.1 document', async () => {
    const response = await app.request('/openapi.json');
    expect(response.status).to.equal(200);
    const document = await response.json();
    expect(document.openapi).to.equal('3.1.0');
    expect(document.paths).to.have.property('/healthz');
  });

  it('GET /docs renders the reference page with its assets', async () => {
    const page = await app.request('/docs');
    expect(page.status).to.equal(200);
    expect(await page.text()).to.contain('/openapi.json');
    const script = await app.request('/docs/swagger-ui-bundle.js');
    expect(script.status).to.equal(200);
    expect((await app.request('/docs/nothing.js')).status).to.equal(404);
  });

  it('GET /metrics is Prometheus text with per-route latency', async () => {
    await app.request('/healthz');
    const response = await app.request('/metrics');
    expect(response.status).to.equal(200);
    const text = await response.text();
    expect(text).to.match(/http_request_duration_seconds_count\{method="GET",route="\/healthz",status="200"\} \d+/);
  });
});
