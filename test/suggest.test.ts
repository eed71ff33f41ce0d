import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { signAccessToken } from '../core/auth/access-tokens.ts';
import { cacheFor } from '../core/cache.ts';
import { bumpCatalogVersion } from '../core/catalog/catalog-cache.ts';
import { findSuggestions } from '../core/catalog/suggest.ts';
import type { Db } from '../core/db.ts';
import { createLogger } from '../core/logger.ts';
import { connectRedis } from '../core/redis.ts';
import { testEnvironment } from './support/environment.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';
import { waitUntil } from './orders/fixtures.ts';

// Fixture titles start with made-up words ("Qzvx", "Qzlim", ...) that the seeded catalog never
// uses, and no group's word is a prefix of another's, so each query sees only its own group.

/** Its own Redis key prefix, so rate-limit buckets and cached answers start empty for this app. */
function freshRedisPrefix(): string {
  return `${testEnvironment().redisKeyPrefix}suggest-${randomBytes(4).toString('hex')}:`;
}

async function insertProducts(db: Db, titles: string[]): Promise<number[]> {
  const [category] = await db('categories').insert({ name: `Suggest fixtures ${randomBytes(4).toString('hex')}` }).returning('id');
  const ids: number[] = [];
  // One at a time, so ids follow the order of `titles` (the tie-break tests rely on it).
  for (const title of titles) {
    const [row] = await db('products').insert({ title, price: '10.00', category_id: category.id }).returning('id');
    ids.push(row.id);
  }
  return ids;
}

async function suggest(app: TestApp, q: string, init: { token?: string; headers?: Record<string, string> } = {}) {
  const response = await app.request(`/api/search/suggest/?q=${encodeURIComponent(q)}`, init);
  return { response, body: await response.json() };
}

const titlesOf = (body: { suggestions: { title: string }[] }) => body.suggestions.map((s) => s.title);

describe('GET /api/search/suggest/', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ SUGGEST_RATE_LIMIT_PER_MINUTE: '10000', REDIS_KEY_PREFIX: freshRedisPrefix() });
    await insertProducts(app.services.db, [
      'Qzvx Blender',
      'qzvx blender', // same title in another case: the tie is broken by id
      'QZVXA Toaster',
      'Red Qzvx Kettle',
      'Big Qzvxa Lamp',
      'Espresso Qzvx-Pro Machine',
      'Unrelated Qzv Item', // "qzv" is shorter than "qzvx": must not match
      ...Array.from({ length: 12 }, (_, i) => `Qzlim Item ${String(i + 1).padStart(2, '0')}`),
      ...Array.from({ length: 12 }, (_, i) => `Word Qzwd ${String(i + 1).padStart(2, '0')}`),
      '%Qzsp Percent First',
      'Qzsp 100% Cotton',
      'Qzsp_under Score',
      'Qzspxunder Decoy', // would match "qzsp_u" if _ were a LIKE wildcard
      "Qzsp O'Brien Mug",
      'Qzsp äpfelschäler',
      'Qzpunct C++ Primer',
      'Qzpunct Cable', // "c++" without its punctuation would be "c", which starts "Cable"
      'Big Qzhyph Wi-Fi Router', // a hyphenated word after another word
    ]);
    await bumpCatalogVersion(app.services); // what a staff product edit does
  });
  after(() => app.close());

  it('puts whole-title prefix matches first (alphabetical, then id), then word-prefix matches (by id)', async () => {
    const { response, body } = await suggest(app, 'qzvx');
    expect(response.status).to.equal(200);
    expect(response.headers.get('content-type')).to.match(/^application\/json/);
    expect(body.q).to.equal('qzvx');
    expect(titlesOf(body)).to.deep.equal([
      'Qzvx Blender',
      'qzvx blender',
      'QZVXA Toaster',
      'Red Qzvx Kettle',
      'Big Qzvxa Lamp',
      'Espresso Qzvx-Pro Machine',
    ]);
    expect(body.suggestions[0].id).to.be.below(body.suggestions[1].id);
    expect(body.suggestions[0]).to.have.all.keys('id', 'title');
  });

  it('is case-insensitive and echoes q as sent (trimmed)', async () => {
    const lower = await suggest(app, 'qzvx');
    const mixed = await suggest(app, '  QzVX ');
    expect(mixed.response.status).to.equal(200);
    expect(mixed.body.q).to.equal('QzVX');
    expect(mixed.body.suggestions).to.deep.equal(lower.body.suggestions);
  });

  it('matches a prefix of a later word, and a phrase whose last word is incomplete', async () => {
    expect(titlesOf((await suggest(app, 'qzvxa')).body)).to.deep.equal(['QZVXA Toaster', 'Big Qzvxa Lamp']);
    expect(titlesOf((await suggest(app, 'qzvx kett')).body)).to.deep.equal(['Red Qzvx Kettle']);
    expect(titlesOf((await suggest(app, 'red qzvx k')).body)).to.deep.equal(['Red Qzvx Kettle']);
    expect(titlesOf((await suggest(app, 'qzvx-p')).body)).to.deep.equal(['Espresso Qzvx-Pro Machine']);
    // Every typed word is a prefix of the next word in the title, in order.
    expect(titlesOf((await suggest(app, 'qzv blen')).body)).to.deep.equal(['Qzvx Blender', 'qzvx blender']);
    expect(titlesOf((await suggest(app, 'blen qzv')).body)).to.deep.equal([]);
  });

  it('keeps matching while a hyphenated word after another word is typed through', async () => {
    // The title does not start with these, so only the word search can find it.
    for (const q of ['qzhyph wi', 'qzhyph wi-', 'qzhyph wi-f', 'qzhyph wi-fi', 'qzhyph wi-fi rou', 'big qzhyph wi-fi router']) {
      expect(titlesOf((await suggest(app, q)).body), q).to.deep.equal(['Big Qzhyph Wi-Fi Router']);
    }
    expect(titlesOf((await suggest(app, 'qzhyph wi-x')).body)).to.deep.equal([]);
    expect(titlesOf((await suggest(app, 'qzhyph fi')).body)).to.deep.equal([]); // "fi" is not the word after "qzhyph"
  });

  it('returns at most 10 suggestions', async () => {
    const { body } = await suggest(app, 'qzlim');
    expect(titlesOf(body)).to.deep.equal(Array.from({ length: 10 }, (_, i) => `Qzlim Item ${String(i + 1).padStart(2, '0')}`));
  });

  it('finds the same word-prefix matches whether it scans the first products or asks the index', async () => {
    const expected = Array.from({ length: 10 }, (_, i) => `Word Qzwd ${String(i + 1).padStart(2, '0')}`);
    expect(titlesOf((await suggest(app, 'qzwd')).body)).to.deep.equal(expected);
    for (const budget of [0, 5, 1_000_000_000]) {
      expect((await findSuggestions(app.services.db, 'qzwd', budget)).map((s) => s.title), `budget ${budget}`).to.deep.equal(expected);
    }
  });

  it('answers an empty list when nothing matches', async () => {
    const { response, body } = await suggest(app, 'qzvxqzvxnothing');
    expect(response.status).to.equal(200);
    expect(body).to.deep.equal({ q: 'qzvxqzvxnothing', suggestions: [] });
  });

  for (const [label, query] of [
    ['missing q', ''],
    ['an empty q', '?q='],
    ['a q of only spaces', `?q=${encodeURIComponent('   ')}`],
    ['a q longer than 64 characters', `?q=${'a'.repeat(65)}`],
    ['q given twice', '?q=a&q=b'],
    ['a NUL character', '?q=a%00b'],
  ] as const) {
    it(`refuses ${label} with a problem+json 400`, async () => {
      const response = await app.request(`/api/search/suggest/${query}`);
      expect(response.status).to.equal(400);
      expect(response.headers.get('content-type')).to.match(/^application\/problem\+json/);
      const body = await response.json();
      expect(body).to.include({ status: 400, title: 'Bad Request' });
      expect(body.errors[0].path).to.equal('q');
    });
  }

  it('refuses an unknown query parameter with a 400 naming it (a limit is not taken, so it is not ignored either)', async () => {
    const response = await app.request('/api/search/suggest/?q=app&limit=3');
    expect(response.status).to.equal(400);
    expect((await response.json()).errors).to.deep.equal([{ path: 'limit', message: 'Unknown query parameter' }]);
  });

  it('accepts a q of exactly 64 characters', async () => {
    const { response, body } = await suggest(app, `  ${'q'.repeat(64)}  `);
    expect(response.status).to.equal(200);
    expect(body.q).to.equal('q'.repeat(64));
  });

  it('takes special characters literally: never a 500, never a wildcard', async () => {
    for (const q of ['%', '%%', '_', '__', "'", "''", ':', ':*', '&', '|', '!', '\\', '\\\\', '()', '<->', '*', '"']) {
      const { response, body } = await suggest(app, q);
      expect(response.status, q).to.equal(200);
      // No word in these, so the only matches are titles that start with these very characters.
      for (const title of titlesOf(body)) expect(title.startsWith(q), `${q} → ${title}`).to.equal(true);
    }
    for (const q of ["' OR 1=1 --", 'a:* | b', '!a & !b', '東京', '🙂', 'é', '\u00e9', "qzhyph wi'", "qzhyph wi\\", "qzhyph 'wi':*", "wi-fi':* | 'a", "a\\'b", 'a<->b', '(a|b)']) {
      expect((await suggest(app, q)).response.status, q).to.equal(200);
    }
    expect(titlesOf((await suggest(app, '%qzsp')).body)[0]).to.equal('%Qzsp Percent First');
    expect(titlesOf((await suggest(app, 'qzsp 100%')).body)).to.deep.equal(['Qzsp 100% Cotton']);
    expect(titlesOf((await suggest(app, 'qzsp_u')).body)).to.deep.equal(['Qzsp_under Score']);
    expect(titlesOf((await suggest(app, "qzsp o'b")).body)).to.deep.equal(["Qzsp O'Brien Mug"]);
    expect(titlesOf((await suggest(app, "o'brien")).body)).to.include("Qzsp O'Brien Mug");
    expect(titlesOf((await suggest(app, 'qzpunct c+')).body)).to.deep.equal(['Qzpunct C++ Primer']);
    const cpp = titlesOf((await suggest(app, 'c++')).body);
    expect(cpp).to.include('Qzpunct C++ Primer');
    for (const title of cpp) expect(title.toLowerCase(), title).to.match(/(^|[^\p{L}\p{N}])c\+\+/u);
    expect(titlesOf((await suggest(app, 'qzsp äpfel')).body)).to.deep.equal(['Qzsp äpfelschäler']);
    // Quotes and operators typed inside a word are not tsquery syntax: "'wi':* | 'x" must not find Wi-Fi.
    expect(titlesOf((await suggest(app, "qzhyph 'wi':* | 'x")).body)).to.deep.equal([]);
  });

  it('serves a repeated query from the cache until the catalog version is bumped', async () => {
    const [id] = await insertProducts(app.services.db, ['Qzcache Mixer']);
    await bumpCatalogVersion(app.services);
    expect(titlesOf((await suggest(app, 'qzcache')).body)).to.deep.equal(['Qzcache Mixer']);

    // Changed behind the API's back, without a bump: the cached answer is still served.
    await app.services.db('products').where({ id }).update({ title: 'Qzcache Renamed Mixer' });
    expect(titlesOf((await suggest(app, 'QZCACHE')).body)).to.deep.equal(['Qzcache Mixer']);

    await bumpCatalogVersion(app.services);
    expect(titlesOf((await suggest(app, 'qzcache')).body)).to.deep.equal(['Qzcache Renamed Mixer']);
  });

  it('is described in the OpenAPI document', async () => {
    const document = await (await app.request('/openapi.json')).json();
    const operation = document.paths['/api/search/suggest/'].get;
    expect(operation.parameters.map((p: { name: string }) => p.name)).to.include('q');
    expect(operation.responses).to.have.keys('200', '400', '429', '503');
  });
});

describe('suggestion rate limit', () => {
  let app: TestApp;
  const rateHeaders = (response: Response) => ({
    limit: response.headers.get('ratelimit-limit'),
    remaining: response.headers.get('ratelimit-remaining'),
    reset: response.headers.get('ratelimit-reset'),
  });
  before(async () => {
    app = await startTestApp({ SUGGEST_RATE_LIMIT_PER_MINUTE: '3', REDIS_KEY_PREFIX: freshRedisPrefix() });
  });
  after(() => app.close());

  const token = (userId: number) => signAccessToken({ userId, isStaff: false }, app.services.jwtSecret, 300);

  it('allows the configured number per minute per client IP, then answers 429 problem+json with Retry-After', async () => {
    const remaining = [];
    for (let i = 0; i < 3; i += 1) {
      const { response } = await suggest(app, 'qzrate');
      expect(response.status).to.equal(200);
      remaining.push(rateHeaders(response).remaining);
      // Seconds until the window resets (IETF RateLimit headers), not a Unix time; rounded up, so
      // up to a second past the 60 s window (server/middleware/rate-limit.ts).
      expect(Number(rateHeaders(response).reset)).to.be.within(0, 61);
    }
    expect(remaining).to.deep.equal(['2', '1', '0']);

    const { response, body } = await suggest(app, 'qzrate');
    expect(response.status).to.equal(429);
    expect(response.headers.get('content-type')).to.match(/^application\/problem\+json/);
    expect(body).to.include({ status: 429, title: 'Too Many Requests' });
    expect(Number(response.headers.get('retry-after'))).to.be.within(1, 61);
    expect(rateHeaders(response)).to.include({ limit: '3', remaining: '0' });
    expect(Number(rateHeaders(response).reset)).to.equal(Number(response.headers.get('retry-after')));
  });

  it('gives a user with a valid token a bucket of their own; an invalid token counts against the IP', async () => {
    // This client IP's bucket spent (by the test above, or here when this test runs alone).
    for (let i = 0; i < 4 && (await suggest(app, 'qzrate')).response.status !== 429; i += 1);
    expect((await suggest(app, 'qzrate', { headers: { Authorization: 'Bearer not-a-token' } })).response.status).to.equal(429);
    const forged = signAccessToken({ userId: 424242, isStaff: false }, 'another-secret-that-is-at-least-32-chars', 300);
    expect((await suggest(app, 'qzrate', { token: forged })).response.status).to.equal(429);

    const alice = token(424242);
    for (let i = 0; i < 3; i += 1) expect((await suggest(app, 'qzrate', { token: alice })).response.status).to.equal(200);
    const limited = await suggest(app, 'qzrate', { token: alice });
    expect(limited.response.status).to.equal(429);
    expect(limited.response.headers.get('retry-after')).to.match(/^\d+$/);

    expect((await suggest(app, 'qzrate', { token: token(424243) })).response.status).to.equal(200);
  });
});

describe('suggestions with several app instances sharing one Redis', () => {
  let first: TestApp;
  let second: TestApp;
  before(async function () {
    if (!testEnvironment().redisUrl) this.skip(); // only on a machine without Redis; CI sets REDIS_URL
    const shared = { SUGGEST_RATE_LIMIT_PER_MINUTE: '3', REDIS_KEY_PREFIX: freshRedisPrefix() };
    first = await startTestApp(shared);
    second = await startTestApp(shared);
  });
  after(async () => {
    await first?.close();
    await second?.close();
  });

  it('shares the cache: an answer cached by one instance is served by the other, and one bump invalidates both', async () => {
    const [id] = await insertProducts(first.services.db, ['Qzshared Lamp']);
    await bumpCatalogVersion(first.services);
    expect(titlesOf((await suggest(first, 'qzshared')).body)).to.deep.equal(['Qzshared Lamp']);
    expect(await first.services.redis!.exists('suggest:qzshared')).to.equal(1);

    await first.services.db('products').where({ id }).update({ title: 'Qzshared Renamed Lamp' });
    expect(titlesOf((await suggest(second, 'qzshared')).body)).to.deep.equal(['Qzshared Lamp']);

    // The first instance hears of the bump on its subscriber connection, to which Redis sends the
    // announcement before it answers the PUBLISH: it is there before the next request can be.
    await bumpCatalogVersion(second.services);
    expect(titlesOf((await suggest(first, 'qzshared')).body)).to.deep.equal(['Qzshared Renamed Lamp']);
  });

  it('shares the rate limit: requests split across both instances hit 429 at the limit', async () => {
    const user = signAccessToken({ userId: 515151, isStaff: false }, first.services.jwtSecret, 300);
    const statuses = [];
    for (const app of [first, second, first, second, first]) statuses.push((await suggest(app, 'qzshared', { token: user })).response.status);
    expect(statuses).to.deep.equal([200, 200, 200, 429, 429]);
  });
});

describe('the near copy each process keeps of cached suggestions', () => {
  let app: TestApp;
  // Each test runs an app whose copies live as long as the test needs (CATALOG_NEAR_COPY_MS).
  const startApp = async (nearCopyMs: number) => {
    app = await startTestApp({ SUGGEST_RATE_LIMIT_PER_MINUTE: '10000', REDIS_KEY_PREFIX: freshRedisPrefix(), CATALOG_NEAR_COPY_MS: String(nearCopyMs) });
  };
  before(function () {
    if (!testEnvironment().redisUrl) this.skip(); // without Redis there is no near copy; CI sets REDIS_URL
  });
  afterEach(() => app?.close());

  /** Bumps the version from a connection of its own, as `npm run db:seed` does from its process. */
  async function bumpFromAnotherProcess(): Promise<void> {
    const log = createLogger('silent');
    const redis = connectRedis(testEnvironment().redisUrl, app.services.config.REDIS_KEY_PREFIX, log)!;
    try {
      await redis.connect();
      await bumpCatalogVersion({ redis, log });
    } finally {
      redis.disconnect();
    }
  }

  it('is dropped when another process bumps the version, long before the copy would expire', async () => {
    await startApp(10 * 60_000); // only the announcement can end these copies within the test
    const [id] = await insertProducts(app.services.db, ['Qznear Clock']);
    await bumpCatalogVersion(app.services); // the next request reads the version afresh
    // Computed and cached in Redis, then read from Redis into the near copy, then served from it.
    for (let i = 0; i < 3; i += 1) expect(titlesOf((await suggest(app, 'qznear')).body)).to.deep.equal(['Qznear Clock']);

    await app.services.db('products').where({ id }).update({ title: 'Qznear Renamed Clock' });
    await bumpFromAnotherProcess();
    // The announcement arrives asynchronously; without it the old copy would be served for ten minutes.
    await waitUntil('the renamed title', async () => titlesOf((await suggest(app, 'qznear')).body)[0] === 'Qznear Renamed Clock', 20_000);
  });

  /**
   * `word`'s suggestion (one new product, `title`) computed, cached in Redis and in the near copy;
   * then another process stores a different answer under the same version, which only a read
   * from Redis can see.
   */
  async function cachedThenChangedInRedis(word: string, title: string): Promise<string> {
    await insertProducts(app.services.db, [title]);
    await bumpCatalogVersion(app.services);
    for (let i = 0; i < 3; i += 1) expect(titlesOf((await suggest(app, word)).body)).to.deep.equal([title]);
    const stored = JSON.parse((await app.services.redis!.get(`suggest:${word}`))!);
    stored.value = [{ id: 1, title: `${title} From Redis` }];
    await app.services.redis!.set(`suggest:${word}`, JSON.stringify(stored));
    return `${title} From Redis`;
  }

  it('serves its copy without asking Redis while the copy is fresh', async () => {
    await startApp(10 * 60_000);
    await cachedThenChangedInRedis('qzfresh', 'Qzfresh Lamp');
    expect(titlesOf((await suggest(app, 'qzfresh')).body)).to.deep.equal(['Qzfresh Lamp']);
  });

  it('is re-read from Redis once it is older than CATALOG_NEAR_COPY_MS, even without a bump', async () => {
    const nearCopyMs = 300;
    await startApp(nearCopyMs);
    const inRedis = await cachedThenChangedInRedis('qzexpire', 'Qzexpire Lamp');
    await new Promise((resolve) => setTimeout(resolve, nearCopyMs));
    expect(titlesOf((await suggest(app, 'qzexpire')).body)).to.deep.equal([inRedis]);
  });
});

describe('the JSON cache when Redis fails at runtime', () => {
  it('answers a miss and logs a warning instead of throwing', async () => {
    const warnings: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line).msg) });
    // A client whose server is gone: with the offline queue off, every command fails at once.
    const redis = connectRedis('redis://127.0.0.1:1', 'unreachable:', log);
    try {
      const cache = cacheFor({ log, redis });
      expect(await cache.getMany(['a', 'b'])).to.deep.equal([undefined, undefined]);
      await cache.set('a', { any: 'value' }, 60);
      expect(warnings).to.include.members(['cache read failed; treating it as a miss', 'cache write failed']);
    } finally {
      redis?.disconnect();
    }
  });
});

describe('suggestions without Redis (process memory)', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ REDIS_URL: '', SUGGEST_RATE_LIMIT_PER_MINUTE: '3' });
  });
  after(() => app.close());

  it('serves, caches and rate limits from process memory', async () => {
    expect(app.services.redis).to.equal(null);
    const [id] = await insertProducts(app.services.db, ['Qzmem Fan']);
    await bumpCatalogVersion(app.services);
    expect(titlesOf((await suggest(app, 'qzmem')).body)).to.deep.equal(['Qzmem Fan']);

    await app.services.db('products').where({ id }).update({ title: 'Qzmem Renamed Fan' });
    expect(titlesOf((await suggest(app, 'qzmem')).body)).to.deep.equal(['Qzmem Fan']);
    await bumpCatalogVersion(app.services);
    expect(titlesOf((await suggest(app, 'qzmem')).body)).to.deep.equal(['Qzmem Renamed Fan']);

    const limited = await suggest(app, 'qzmem');
    expect(limited.response.status).to.equal(429);
    expect(limited.response.headers.get('retry-after')).to.match(/^\d+$/);
    expect(limited.response.headers.get('ratelimit-limit')).to.equal('3');
  });
});
