import { expect } from 'chai';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { loadConfig } from '../core/config.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';

// Client input that used to answer 500 (or an incomplete error), found by probing the running
// app by hand, and the OpenAPI coverage of every path API.md names.

async function expectProblem(response: Response, status: number) {
  expect(response.status).to.equal(status);
  expect(response.headers.get('content-type')).to.match(/^application\/problem\+json/);
  const body = await response.json();
  expect(body).to.include({ type: 'about:blank', status });
  expect(body.title).to.be.a('string');
  expect(body.detail).to.be.a('string');
  return body;
}

/** The raw answer to a request written by hand: fetch() would not send these. */
const sendRaw = (app: TestApp, request: string) =>
  new Promise<string>((resolve, reject) => {
    const socket = connect(Number(new URL(app.url).port), '127.0.0.1', () => socket.write(request));
    let text = '';
    socket.on('data', (chunk) => (text += chunk)).on('end', () => resolve(text)).on('error', reject);
  });

describe('HTTP layer: odd client input is a 4xx problem, never a 500', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp();
  });
  after(() => app.close());

  it('a login username with a NUL character is a 400 (PostgreSQL text cannot hold NUL)', async () => {
    const response = await app.request('/api/token/', { body: { username: 'nul\u0000user', password: 'whatever1' } });
    const body = await expectProblem(response, 400);
    expect(body.errors).to.deep.include({ path: 'username', message: 'must not contain NUL characters' });
  });

  it('a gzip-encoded body that is not gzip is a 400', async () => {
    const response = await app.request('/api/register/', {
      body: '{"username": "x"}',
      headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' },
    });
    await expectProblem(response, 400);
  });

  it('a well-formed gzip-encoded JSON body still works', async () => {
    const response = await fetch(`${app.url}/api/token/`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' },
      body: gzipSync(JSON.stringify({ username: 'nobody-http-review', password: 'wrong-password' })),
    });
    await expectProblem(response, 401);
  });

  it('a method the path does not take is a 405 problem with an Allow header', async () => {
    const response = await app.request('/stores/', { method: 'DELETE' });
    await expectProblem(response, 405);
    expect(response.headers.get('allow')).to.equal('HEAD, GET');
  });

  it('a method the router does not know (PROPFIND) is a 405 with Allow, not a 500', async () => {
    const response = await app.request('/stores/', { method: 'PROPFIND' });
    await expectProblem(response, 405);
    expect(response.headers.get('allow')).to.equal('HEAD, GET');
  });

  it('an unknown method on an unknown path is a 404', async () => {
    await expectProblem(await app.request('/no-such-path', { method: 'PURGE' }), 404);
  });

  it('OPTIONS lists the allowed methods', async () => {
    const response = await app.request('/api/token/', { method: 'OPTIONS' });
    expect(response.status).to.equal(200);
    expect(response.headers.get('allow')).to.equal('POST');
  });

  it('a request target Koa cannot parse (absolute form, broken IPv6 bracket) is a 400 problem', async () => {
    for (const target of ['http://[/', 'http://[::1]x/stores/', 'https://[/orders/orders/']) {
      const answer = await sendRaw(app, `GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
      expect(answer, target).to.match(/^HTTP\/1\.1 400 /);
      expect(answer, target).to.match(/content-type: application\/problem\+json/i);
    }
  });

  it('a declared body of 2^31 bytes or more is a 413 at once, not a wait for a body it would refuse', async () => {
    for (const length of ['2147483648', '4294967296']) {
      // Only a few bytes follow: the answer must not wait for the rest.
      const answer = await sendRaw(app, `POST /api/token/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n{}`);
      expect(answer, length).to.match(/^HTTP\/1\.1 413 /);
      expect(answer, length).to.match(/content-type: application\/problem\+json/i);
    }
  });

  it('a Host header that names no host is a 400 on a paginated list, whose links are built on it', async () => {
    const answer = await sendRaw(app, 'GET /stores/ HTTP/1.1\r\nHost: not a host\r\nConnection: close\r\n\r\n');
    expect(answer).to.match(/^HTTP\/1\.1 400 /);
    expect(answer).to.match(/content-type: application\/problem\+json/i);
    expect(answer).to.include('Host header');
  });

  it('a JSON body sent as application/<something>+json is parsed like application/json', async () => {
    const response = await app.request('/api/token/', {
      body: { username: 'nobody-http-review', password: 'wrong-password' },
      headers: { 'Content-Type': 'application/merge-patch+json' },
    });
    await expectProblem(response, 401); // the credentials were read, and are wrong
  });

  it('/docs/<name of an Object.prototype property> is a 404, not an empty 204', async () => {
    for (const name of ['constructor', '__proto__', 'toString']) {
      await expectProblem(await app.request(`/docs/${name}`), 404);
    }
  });
});

describe('page links (next/previous) and the headers clients write', () => {
  const stores = 'GET /stores/?page_size=1 HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n';
  const nextLink = (answer: string) => JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).next as string;

  it('PUBLIC_URL must be an origin: the links keep the request path, so a path prefix would be lost', () => {
    expect(() => loadConfig({ PUBLIC_URL: 'https://shop.example.com/api' })).to.throw(/PUBLIC_URL/);
    expect(() => loadConfig({ PUBLIC_URL: 'https://shop.example.com/?x=1' })).to.throw(/PUBLIC_URL/);
    expect(loadConfig({ PUBLIC_URL: 'https://shop.example.com:8443/' }).PUBLIC_URL).to.equal('https://shop.example.com:8443/');
    expect(loadConfig({ PUBLIC_URL: '' }).PUBLIC_URL).to.equal(undefined);
  });

  it('are built on PUBLIC_URL when it is set, whatever Host the client sends', async () => {
    const app = await startTestApp({ PUBLIC_URL: 'https://shop.example.com', TRUST_PROXY: 'true' });
    try {
      const answer = await sendRaw(app, `${stores}X-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: http\r\n\r\n`);
      expect(answer).to.match(/^HTTP\/1\.1 200 /);
      expect(nextLink(answer)).to.equal('https://shop.example.com/stores/?page_size=1&page=2');
    } finally {
      await app.close();
    }
  });

  it('without PUBLIC_URL, refuse a forwarded scheme other than http or https (400), never a javascript: link', async () => {
    const app = await startTestApp({ TRUST_PROXY: 'true' });
    try {
      const answer = await sendRaw(app, `${stores}X-Forwarded-Proto: javascript\r\n\r\n`);
      expect(answer).to.match(/^HTTP\/1\.1 400 /);
      expect(answer).to.include('X-Forwarded-Proto');
      expect(nextLink(await sendRaw(app, `${stores}X-Forwarded-Proto: https\r\n\r\n`))).to.equal('https://evil.example/stores/?page_size=1&page=2');
    } finally {
      await app.close();
    }
  });
});

describe('HTTP layer: a client that trickles its request in', function () {
  this.timeout(40_000);
  let app: TestApp;
  before(async () => {
    app = await startTestApp();
  });
  after(() => app.close());

  it('is answered 408 and cut off once its headers take over 10 s, instead of holding the socket for a minute', async () => {
    const { port } = new URL(app.url);
    const socket = connect(Number(port), '127.0.0.1');
    const received: Buffer[] = [];
    socket.on('data', (chunk) => received.push(chunk));
    // A request line and one header, then nothing: the rest of the headers never come.
    socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    // Under Node's defaults (60 s, checked every 30 s) this would outlast the test's timeout.
    await new Promise((resolve) => socket.once('close', resolve));
    expect(Buffer.concat(received).toString('latin1')).to.match(/^HTTP\/1\.1 408 /);
  });
});

describe('OpenAPI document covers the API.md contract', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp();
  });
  after(() => app.close());

  // Every path and method API.md names, in OpenAPI's {param} spelling.
  const contract: [string, string][] = [
    ['post', '/api/register/'],
    ['post', '/api/token/'],
    ['post', '/api/token/refresh/'],
    ['post', '/api/token/revoke/'],
    ['get', '/api/search/suggest/'],
    ['get', '/api/search/products/'],
    ['post', '/orders/orders/'],
    ['get', '/orders/orders/'],
    ['get', '/orders/orders/{id}'],
    ['post', '/orders/orders/{id}/cancel'],
    ['get', '/stores/'],
    ['get', '/stores/{id}/inventory/'],
    ['get', '/healthz'],
    ['get', '/readyz'],
    ['get', '/metrics'],
    ['get', '/openapi.json'],
    ['get', '/docs'],
  ];

  it('documents every endpoint with a success response, its path parameters and its errors', async () => {
    const document = await (await app.request('/openapi.json')).json();
    for (const [method, path] of contract) {
      const operation = document.paths?.[path]?.[method];
      expect(operation, `${method.toUpperCase()} ${path} is documented`).to.be.an('object');
      const statuses = Object.keys(operation.responses ?? {});
      expect(statuses.some((status) => /^2\d\d$/.test(status)), `${method.toUpperCase()} ${path} has a 2xx response`).to.equal(true);
      for (const name of path.match(/(?<=\{)\w+(?=\})/g) ?? []) {
        const parameter = (operation.parameters ?? []).find((p: { in: string; name: string }) => p.in === 'path' && p.name === name);
        expect(parameter, `${path} documents path parameter ${name}`).to.be.an('object');
      }
      if (operation.parameters?.length || operation.requestBody) {
        expect(statuses, `${method.toUpperCase()} ${path} documents its 400`).to.include('400');
      }
    }
  });

  it('documents the answers every endpoint can give when a dependency is down, or to a body it cannot take', async () => {
    const document = await (await app.request('/openapi.json')).json();
    // What answers without the database, Redis or the queue: process liveness and the static documents.
    const standalone = new Set(['/healthz', '/metrics', '/openapi.json', '/docs']);
    for (const [method, path] of contract) {
      const { responses } = document.paths[path][method];
      const name = `${method.toUpperCase()} ${path}`;
      if (!standalone.has(path)) expect(responses, `${name} documents its 503`).to.have.property('503');
      // requireJsonBody answers 413 and 415 on every POST, a body or not (server/middleware/require-json.ts).
      if (method === 'post') expect(responses, `${name} documents 413 and 415`).to.include.keys('413', '415');
      for (const [status, response] of Object.entries<{ headers?: Record<string, unknown> }>(responses)) {
        if (status === '429' || status === '503') expect(response.headers, `${name} ${status} documents Retry-After`).to.have.property('Retry-After');
        if (status === '401') expect(response.headers, `${name} 401 documents WWW-Authenticate`).to.have.property('WWW-Authenticate');
      }
    }
    expect(document.paths['/api/search/suggest/'].get.responses['200'].headers).to.include.keys('RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset');
    expect(document.paths['/orders/orders/'].post.responses['202'].headers).to.include.keys('Location', 'Idempotent-Replayed');
  });

  it('documents the search filters API.md names', async () => {
    const document = await (await app.request('/openapi.json')).json();
    const names = (path: string) => document.paths[path].get.parameters.map((p: { name: string }) => p.name);
    expect(names('/api/search/products/')).to.include.members([
      'search', 'category', 'price_min', 'price_max', 'store_id', 'in_stock', 'ordering', 'page', 'page_size',
    ]);
    expect(names('/stores/{id}/inventory/')).to.include.members(['in_stock', 'search', 'page', 'page_size']);
    expect(names('/api/search/suggest/')).to.include('q');
  });
});
