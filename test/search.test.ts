import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { bumpCatalogVersion } from '../core/catalog/catalog-cache.ts';
import { waitUntil } from './orders/fixtures.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';

// GET /api/search/products/ against the seeded catalog (db/seeds/01_catalog.ts) plus a few
// fixture products with a made-up word ("quokkatron") in a category and store of their own, for
// assertions that need exact prices and stock. Expected counts and orders come from plain SQL
// over the same database, so the tests do not depend on the seed's exact numbers.

interface Hit {
  id: number;
  title: string;
  description: string;
  price: string;
  category: { id: number; name: string };
  created_at: string;
  store_quantity?: number;
}
interface Page {
  count: number;
  next: string | null;
  previous: string | null;
  results: Hit[];
}

describe('GET /api/search/products/', () => {
  let app: TestApp;
  const suffix = randomBytes(4).toString('hex');
  const fixture = { categoryId: 0, storeId: 0, alpha: 0, beta: 0, widget: 0, gamma: 0 };

  async function get(query: Record<string, string | number> = {}): Promise<{ status: number; body: Page; type: string | null }> {
    const params = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]));
    const response = await app.request(`/api/search/products/?${params}`);
    return { status: response.status, body: await response.json(), type: response.headers.get('content-type') };
  }
  async function ok(query: Record<string, string | number> = {}): Promise<Page> {
    const { status, body } = await get(query);
    expect(status, JSON.stringify(body)).to.equal(200);
    return body;
  }
  async function badRequest(query: Record<string, string | number>, field: string) {
    const { status, body, type } = await get(query);
    expect(status).to.equal(400);
    expect(type).to.match(/^application\/problem\+json/);
    expect((body as unknown as { errors: { path: string }[] }).errors.map((e) => e.path)).to.include(field);
  }
  const db = () => app.services.db;
  const ids = (page: Page) => page.results.map((hit) => hit.id);

  before(async () => {
    app = await startTestApp();
    const [category] = await db()('categories').insert({ name: `Search Fixture ${suffix}` }).returning('id');
    const [store] = await db()('stores').insert({ name: `Search Fixture Store ${suffix}`, city: 'Testville' }).returning('id');
    fixture.categoryId = category.id;
    fixture.storeId = store.id;
    const insert = async (title: string, description: string, price: string) => {
      const [row] = await db()('products').insert({ title, description, price, category_id: fixture.categoryId }).returning('id');
      return row.id as number;
    };
    fixture.alpha = await insert('Quokkatron Alpha', 'The first of its kind.', '10.00');
    fixture.beta = await insert('Quokkatron Beta', 'The second of its kind.', '10.00');
    fixture.widget = await insert('Plain Widget', 'Fits every Quokkatron ever made.', '25.50');
    fixture.gamma = await insert('Deluxe Quokkatron Gamma', 'The third of its kind.', '99.99');
    await db()('inventory').insert([
      { store_id: fixture.storeId, product_id: fixture.alpha, quantity: 5 },
      { store_id: fixture.storeId, product_id: fixture.beta, quantity: 0 },
      { store_id: fixture.storeId, product_id: fixture.gamma, quantity: 2 },
    ]);
    await bumpCatalogVersion(app.services); // what a staff catalog change does: cached pages go stale
  });

  after(async () => {
    await db()('inventory').where('store_id', fixture.storeId).delete();
    await db()('products').where('category_id', fixture.categoryId).delete();
    await db()('stores').where('id', fixture.storeId).delete();
    await db()('categories').where('id', fixture.categoryId).delete();
    await app.close();
  });

  describe('without parameters', () => {
    it('lists every product in id order, 20 per page, with the documented fields', async () => {
      const page = await ok();
      const { count } = (await db()('products').count({ count: '*' }).first()) as { count: number };
      expect(page.count).to.equal(count);
      expect(page.results).to.have.length(20);
      expect(ids(page)).to.deep.equal([...ids(page)].sort((a, b) => a - b));
      expect(page.previous).to.equal(null);
      const hit = page.results[0]!;
      expect(hit).to.have.all.keys('id', 'title', 'description', 'price', 'category', 'created_at');
      expect(hit.price).to.match(/^\d+\.\d{2}$/);
      expect(new Date(hit.created_at).toISOString()).to.equal(hit.created_at);
      const row = await db()('products as p').join('categories as c', 'c.id', 'p.category_id').where('p.id', hit.id).first('p.title', 'p.price', 'c.id', 'c.name');
      expect(hit.title).to.equal(row.title);
      expect(hit.price).to.equal(row.price);
      expect(hit.category).to.deep.equal({ id: row.id, name: row.name });
    });

    it('the total follows products being added and removed', async () => {
      const before = (await ok()).count;
      const [row] = await db()('products').insert({ title: `Counted ${suffix}`, price: '1.00', category_id: fixture.categoryId }).returning('id');
      expect((await ok()).count).to.equal(before, 'served from the cache until the catalog version changes');
      await bumpCatalogVersion(app.services);
      expect((await ok()).count).to.equal(before + 1);
      await db()('products').where('id', row.id).delete();
      await bumpCatalogVersion(app.services);
      expect((await ok()).count).to.equal(before);
    });

    it('a category name names one category: another that differs only in case is refused', async () => {
      const name = `Qzcase ${Date.now()}`;
      await db()('categories').insert({ name });
      let error: unknown;
      await db()('categories').insert({ name: name.toUpperCase() }).catch((e: unknown) => (error = e));
      expect(error).to.have.property('code', '23505');
      expect((await ok({ category: name.toLowerCase() })).count).to.equal(0); // found, and empty
    });

    it('refuses unknown query parameters, naming them', async () => {
      await badRequest({ pricemax: '10' }, 'pricemax');
    });
  });

  describe('pagination', () => {
    it('next and previous are working absolute URLs that keep the filters', async () => {
      const first = await ok({ category: 'Phones', page_size: 7 });
      expect(first.next).to.be.a('string');
      const nextUrl = new URL(first.next!);
      expect(nextUrl.searchParams.get('category')).to.equal('Phones');
      const second = (await (await fetch(first.next!)).json()) as Page;
      expect(second.count).to.equal(first.count);
      expect(second.results).to.have.length(7);
      expect(Math.min(...ids(second))).to.be.greaterThan(Math.max(...ids(first)));
      const back = (await (await fetch(second.previous!)).json()) as Page;
      expect(ids(back)).to.deep.equal(ids(first));
    });

    it('the last page has no next; a page past the end is empty with the right count', async () => {
      const { count } = (await db()('products').where('category_id', 1).count({ count: '*' }).first()) as { count: number };
      const last = Math.ceil(count / 10);
      const lastPage = await ok({ category: 1, page_size: 10, page: last });
      expect(lastPage.next).to.equal(null);
      expect(lastPage.results).to.have.length(count - (last - 1) * 10);
      const beyond = await ok({ category: 1, page_size: 10, page: last + 5 });
      expect(beyond.count).to.equal(count);
      expect(beyond.results).to.deep.equal([]);
      expect(beyond.next).to.equal(null);
      // The same with text search, whose count comes with the rows.
      const textBeyond = await ok({ search: 'iphone', page: 1000 });
      expect(textBeyond.results).to.deep.equal([]);
      expect(textBeyond.count).to.equal((await ok({ search: 'iphone' })).count);
    });

    it('page_size goes up to 100; page starts at 1', async () => {
      expect((await ok({ page_size: 100 })).results).to.have.length(100);
      await badRequest({ page_size: 101 }, 'page_size');
      await badRequest({ page_size: 0 }, 'page_size');
      await badRequest({ page: 0 }, 'page');
      await badRequest({ page: 'two' }, 'page');
      // Numbers only as decimal digits: Number() would take these, and the links would echo 16, 10, 1.
      for (const page of ['0x10', '1e1', '1.0', ' 1', '+1']) await badRequest({ page }, 'page');
      await badRequest({ page_size: '1e1' }, 'page_size');
    });
  });

  describe('search', () => {
    it('finds every product with the word in its title or description, title matches first', async () => {
      const page = await ok({ search: 'iPhone', page_size: 100 });
      const { count } = (await db()('products')
        .whereILike('title', '%iphone%')
        .orWhereILike('description', '%iphone%')
        .count({ count: '*' })
        .first()) as { count: number };
      expect(page.count).to.equal(count).and.to.be.greaterThan(20);
      for (const hit of page.results) expect(`${hit.title} ${hit.description}`.toLowerCase()).to.contain('iphone');
      // "Apple iPhone ..." (word early in the title) before "... Case for iPhone 15".
      expect(page.results[0]!.title).to.match(/^Apple iPhone/);
      const firstCase = page.results.findIndex((hit) => /case for iphone/i.test(hit.title));
      const lastPhone = page.results.findLastIndex((hit) => /^apple iphone/i.test(hit.title));
      expect(firstCase).to.be.greaterThan(lastPhone);
    });

    it('requires every word, in any order', async () => {
      const page = await ok({ search: 'watch apple', page_size: 100 });
      expect(page.count).to.be.greaterThan(0);
      for (const hit of page.results) {
        const text = `${hit.title} ${hit.description}`.toLowerCase();
        expect(text).to.contain('apple').and.to.contain('watch');
      }
    });

    it('ranks title matches above description-only matches', async () => {
      const page = await ok({ search: 'quokkatron' });
      expect(page.count).to.equal(4);
      expect(ids(page)).to.deep.equal([fixture.alpha, fixture.beta, fixture.gamma, fixture.widget]);
    });

    it('is typo-tolerant: "iphnoe" finds iPhones, "quokkatrom" finds Quokkatrons', async () => {
      const iphones = await ok({ search: 'iphnoe' });
      expect(iphones.count).to.be.greaterThan(0);
      expect(iphones.results[0]!.title).to.match(/iPhone/);
      const quokkas = await ok({ search: 'quokkatrom' });
      expect(ids(quokkas)).to.include.members([fixture.alpha, fixture.beta, fixture.gamma]);
    });

    it('matches short words at the start of a title word ("tv")', async () => {
      const page = await ok({ search: 'tv', page_size: 100 });
      expect(page.count).to.be.greaterThan(0);
      for (const hit of page.results) expect(hit.title).to.match(/(^|\s)tv/i);
    });

    it('treats a blank search as no search, and punctuation alone matches nothing', async () => {
      expect((await ok({ search: '   ' })).count).to.equal((await ok()).count);
      expect(await ok({ search: '!!!' })).to.include({ count: 0 });
    });

    it('refuses a search over 100 characters', async () => {
      await badRequest({ search: 'x'.repeat(101) }, 'search');
    });
  });

  describe('category', () => {
    it('takes an id or a case-insensitive name', async () => {
      const phones = (await db()('categories').where('name', 'Phones').first('id')) as { id: number };
      const byId = await ok({ category: phones.id, page_size: 100 });
      const byName = await ok({ category: 'pHoNeS', page_size: 100 });
      expect(ids(byName)).to.deep.equal(ids(byId));
      const { count } = (await db()('products').where('category_id', phones.id).count({ count: '*' }).first()) as { count: number };
      expect(byId.count).to.equal(count);
      for (const hit of byId.results) expect(hit.category).to.deep.equal({ id: phones.id, name: 'Phones' });
    });

    it('refuses a category name PostgreSQL cannot hold (NUL)', async () => {
      await badRequest({ category: 'pho\0nes' }, 'category');
    });

    it('an unknown category matches nothing', async () => {
      expect(await ok({ category: 'No Such Category' })).to.include({ count: 0 });
      expect(await ok({ category: 999999 })).to.include({ count: 0 });
    });
  });

  describe('price range', () => {
    it('keeps prices within both bounds, inclusive', async () => {
      const page = await ok({ price_min: '100', price_max: '250.5', page_size: 100 });
      const { count } = (await db()('products').whereBetween('price', ['100', '250.5']).count({ count: '*' }).first()) as { count: number };
      expect(page.count).to.equal(count).and.to.be.greaterThan(0);
      for (const hit of page.results) expect(Number(hit.price)).to.be.within(100, 250.5);
      const exact = await ok({ category: fixture.categoryId, price_min: '10.00', price_max: '10' });
      expect(ids(exact)).to.deep.equal([fixture.alpha, fixture.beta]);
    });

    it('counts category and price ranges from product_price_counts, which follows every change to products', async () => {
      const range = { category: fixture.categoryId, price_min: '10', price_max: '30' };
      expect((await ok(range)).count).to.equal(3); // alpha and beta at 10.00, the widget at 25.50
      const [added] = await db()('products').insert({ title: `Priced ${suffix}`, price: '20.00', category_id: fixture.categoryId }).returning('id');
      await db()('products').where('id', fixture.gamma).update({ price: '15.00' }); // repriced into the range
      await db()('products').where('id', fixture.beta).update({ title: 'Quokkatron Beta' }); // neither: the pairs stay
      await bumpCatalogVersion(app.services);
      try {
        expect((await ok(range)).count).to.equal(5); // alpha, beta, the widget, the new one, gamma
        await db()('products').where('id', fixture.widget).update({ category_id: 1 }); // moved out of the category
        await bumpCatalogVersion(app.services);
        expect((await ok(range)).count).to.equal(4);
        const summed = await db()('product_price_counts').where('n', '>', 0).orderBy(['category_id', 'price']).select('category_id', 'price', 'n');
        const counted = await db()('products').groupBy('category_id', 'price').orderBy(['category_id', 'price']).select('category_id', 'price', db().raw('count(*) AS n'));
        expect(summed).to.deep.equal(counted);
      } finally {
        await db()('products').where('id', added.id).delete();
        await db()('products').where('id', fixture.gamma).update({ price: '99.99' });
        await db()('products').where('id', fixture.widget).update({ category_id: fixture.categoryId });
        await bumpCatalogVersion(app.services);
      }
      expect((await ok(range)).count).to.equal(3);
      const pairs = await db()('product_price_counts').where({ category_id: fixture.categoryId }).orderBy('price').select('price', 'n');
      expect(pairs).to.deep.equal([{ price: '10.00', n: 2 }, { price: '25.50', n: 1 }, { price: '99.99', n: 1 }], 'emptied pairs are removed');
    });

    it('refuses malformed and negative amounts, and a minimum above the maximum', async () => {
      await badRequest({ price_min: 'cheap' }, 'price_min');
      await badRequest({ price_min: '-1' }, 'price_min');
      await badRequest({ price_max: '1e3' }, 'price_max');
      await badRequest({ price_max: '10.999' }, 'price_max');
      await badRequest({ price_min: '20', price_max: '10' }, 'price_max');
    });
  });

  describe('ordering', () => {
    const expectedIds = (orderBy: { column: string; order: 'asc' | 'desc' }[]) =>
      db()('products').where('category_id', 3).orderBy(orderBy).limit(20).pluck('id');

    it('price and -price sort by price, ties by id in the same direction', async () => {
      const up = await ok({ category: 3, ordering: 'price' });
      const prices = up.results.map((hit) => Number(hit.price));
      expect(prices).to.deep.equal([...prices].sort((a, b) => a - b));
      expect(ids(up)).to.deep.equal(await expectedIds([{ column: 'price', order: 'asc' }, { column: 'id', order: 'asc' }]));
      const down = await ok({ category: 3, ordering: '-price' });
      expect(ids(down)).to.deep.equal(await expectedIds([{ column: 'price', order: 'desc' }, { column: 'id', order: 'desc' }]));
      const ties = await ok({ category: fixture.categoryId, ordering: '-price' });
      expect(ids(ties)).to.deep.equal([fixture.gamma, fixture.widget, fixture.beta, fixture.alpha]);
    });

    it('title and -title sort by title (the database collation), newest by created_at', async () => {
      expect(ids(await ok({ category: 3, ordering: 'title' }))).to.deep.equal(
        await expectedIds([{ column: 'title', order: 'asc' }, { column: 'id', order: 'asc' }]),
      );
      expect(ids(await ok({ category: 3, ordering: '-title' }))).to.deep.equal(
        await expectedIds([{ column: 'title', order: 'desc' }, { column: 'id', order: 'desc' }]),
      );
      const newest = await ok({ category: 3, ordering: 'newest' });
      const times = newest.results.map((hit) => Date.parse(hit.created_at));
      expect(times).to.deep.equal([...times].sort((a, b) => b - a));
    });

    it('applies to search results too, and refuses unknown orderings', async () => {
      const page = await ok({ search: 'galaxy', ordering: 'price', page_size: 100 });
      const prices = page.results.map((hit) => Number(hit.price));
      expect(prices).to.deep.equal([...prices].sort((a, b) => a - b));
      await badRequest({ ordering: 'cheapest' }, 'ordering');
    });
  });

  describe('store stock', () => {
    it('store_id adds each product\'s quantity in that store (0 when it has none)', async () => {
      const page = await ok({ category: fixture.categoryId, store_id: fixture.storeId });
      const quantities = Object.fromEntries(page.results.map((hit) => [hit.id, hit.store_quantity]));
      expect(quantities).to.deep.equal({ [fixture.alpha]: 5, [fixture.beta]: 0, [fixture.widget]: 0, [fixture.gamma]: 2 });
      const seeded = await ok({ store_id: 1, page_size: 100 });
      const stock = await db()('inventory').where('store_id', 1).whereIn('product_id', ids(seeded)).select('product_id', 'quantity');
      const byProduct = new Map(stock.map((row: { product_id: number; quantity: number }) => [row.product_id, row.quantity]));
      for (const hit of seeded.results) expect(hit.store_quantity).to.equal(byProduct.get(hit.id) ?? 0);
    });

    it('in_stock=true/false with store_id splits that store\'s catalog by quantity > 0', async () => {
      const inStock = await ok({ category: fixture.categoryId, store_id: fixture.storeId, in_stock: 'true' });
      expect(ids(inStock)).to.deep.equal([fixture.alpha, fixture.gamma]);
      const outOfStock = await ok({ category: fixture.categoryId, store_id: fixture.storeId, in_stock: 'false' });
      expect(ids(outOfStock)).to.deep.equal([fixture.beta, fixture.widget]);

      const seededIn = await ok({ store_id: 2, in_stock: 'true', page_size: 100 });
      const seededOut = await ok({ store_id: 2, in_stock: 'false', page_size: 100 });
      const { count } = (await db()('inventory').where('store_id', 2).where('quantity', '>', 0).count({ count: '*' }).first()) as { count: number };
      expect(seededIn.count).to.equal(count);
      expect(seededIn.count + seededOut.count).to.equal((await ok()).count);
      for (const hit of seededIn.results) expect(hit.store_quantity).to.be.greaterThan(0);
      for (const hit of seededOut.results) expect(hit.store_quantity).to.equal(0);
    });

    it('store_id + in_stock=true alone pages a small store (its products looked up) and a big one (an ordered walk) alike', async () => {
      // The fixture store has 2 products in stock in a catalog of 1,200: the statement looks them up.
      const small = await ok({ store_id: fixture.storeId, in_stock: 'true', ordering: '-price' });
      expect(small.count).to.equal(2);
      expect(ids(small)).to.deep.equal([fixture.gamma, fixture.alpha]);
      expect(small.results.map((hit) => hit.store_quantity)).to.deep.equal([2, 5]);
      expect(ids(await ok({ store_id: fixture.storeId, in_stock: 'true', page_size: 1, page: 2 }))).to.deep.equal([fixture.gamma]);
      expect(await ok({ store_id: fixture.storeId, in_stock: 'true', page: 2 })).to.include({ count: 2 });
      // Store 3 carries most of the seeded catalog: the statement walks the price index.
      const big = await ok({ store_id: 3, in_stock: 'true', ordering: '-price', page: 2, page_size: 30 });
      const expected = await db()('products as p')
        .join('inventory as i', 'i.product_id', 'p.id')
        .where('i.store_id', 3)
        .where('i.quantity', '>', 0)
        .orderBy([{ column: 'p.price', order: 'desc' }, { column: 'p.id', order: 'desc' }])
        .offset(30)
        .limit(30)
        .pluck('p.id');
      expect(ids(big)).to.deep.equal(expected);
    });

    it('in_stock without store_id means stock in any store', async () => {
      const soldOut = await ok({ in_stock: 'false', page_size: 100 });
      expect(soldOut.count).to.be.greaterThan(0);
      const stocked = await db()('inventory').whereIn('product_id', ids(soldOut)).where('quantity', '>', 0).count({ count: '*' }).first();
      expect(stocked).to.deep.equal({ count: 0 });
      const available = await ok({ in_stock: 'true' });
      expect(available.count + soldOut.count).to.equal((await ok()).count);
      const inStockAnywhere = db()('products as p').whereExists((q) => q.select(db().raw('1')).from('inventory as i').whereRaw('i.product_id = p.id AND i.quantity > 0'));
      const recount = async (query: typeof inStockAnywhere) => Number(((await query.count({ n: '*' }).first()) as { n: string }).n);
      expect(available.count).to.equal(await recount(inStockAnywhere.clone()));
      const inCategory = await ok({ category: fixture.categoryId, in_stock: 'true' });
      expect(ids(inCategory)).to.deep.equal([fixture.alpha, fixture.gamma]);
      expect(inCategory.count).to.equal(2);
      const cheap = await ok({ in_stock: 'true', price_max: '100' });
      expect(cheap.count).to.equal(await recount(inStockAnywhere.clone().where('p.price', '<=', 100)));
    });

    it('an unknown store is 404; malformed store ids and in_stock values are 400', async () => {
      const { status, type } = await get({ store_id: 99999999 });
      expect(status).to.equal(404);
      expect(type).to.match(/^application\/problem\+json/);
      await badRequest({ store_id: 'first' }, 'store_id');
      await badRequest({ store_id: '-3' }, 'store_id');
      await badRequest({ in_stock: 'yes' }, 'in_stock');
    });
  });

  it('combines every filter', async () => {
    const page = await ok({
      search: 'quokkatron',
      category: `search fixture ${suffix}`,
      price_min: '5',
      price_max: '50',
      store_id: fixture.storeId,
      in_stock: 'true',
      ordering: 'price',
    });
    expect(page.count).to.equal(1);
    expect(page.results[0]).to.include({ id: fixture.alpha, store_quantity: 5, price: '10.00' });
  });

  it('answers a page, its total and the store check in one statement; a typo takes a second one', async () => {
    const statements: string[] = [];
    const record = (query: { sql: string }) => statements.push(query.sql);
    db().on('query', record);
    try {
      // page_size 13: searches no other test sends, so none is answered from the cache.
      await ok({ search: 'quokkatron', category: fixture.categoryId, price_max: '50', store_id: fixture.storeId, in_stock: 'true', page_size: 13 });
      expect(statements).to.have.length(1);
      statements.length = 0;
      expect((await ok({ search: 'quokkatrom', page_size: 13 })).count).to.be.greaterThan(0);
      expect(statements).to.have.length(2);
    } finally {
      db().off('query', record);
    }
  });

  it('is described in the OpenAPI document with its query parameters', async () => {
    const document = await (await app.request('/openapi.json')).json();
    const operation = document.paths['/api/search/products/'].get;
    const names = operation.parameters.map((parameter: { name: string }) => parameter.name);
    expect(names).to.include.members(['search', 'category', 'price_min', 'price_max', 'store_id', 'in_stock', 'ordering', 'page', 'page_size']);
    expect(operation.responses).to.have.keys('200', '400', '404', '503');
  });
});

// Search statements are named (prepared) per text, and a process names only so many texts. The
// app here has one connection, so pg_prepared_statements (which lists a connection's own) shows
// what PostgreSQL prepared for its searches, and no result cache, so every request runs SQL.
describe('prepared search statements after a crawler pages deep', function () {
  this.timeout(60_000);
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ DATABASE_POOL_MAX: '1', SEARCH_CACHE_SECONDS: '0' });
  });
  after(() => app.close());

  /** Whether the one statement that `path` runs is one PostgreSQL holds prepared. */
  async function runsPrepared(path: string): Promise<boolean> {
    const statements: string[] = [];
    const record = (query: { sql: string }) => statements.push(query.sql);
    app.services.db.on('query', record);
    try {
      expect((await app.request(path)).status).to.equal(200);
    } finally {
      app.services.db.off('query', record);
    }
    expect(statements).to.have.length(1);
    const prepared = await app.services.db.raw('SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement = ANY(?)', [statements]);
    return prepared.rows[0].n === 1;
  }

  it('prepares a deep page too while names are left for them, and a common first-page search after any crawl', async () => {
    expect(await runsPrepared('/api/search/products/?ordering=-price&page=50')).to.equal(true);
    // More pages than the process has names; each page's LIMIT/OFFSET makes a text of its own.
    for (let page = 1; page <= 80; page += 1) {
      expect((await app.request(`/api/search/products/?ordering=title&page=${page}`)).status).to.equal(200);
    }
    expect(await runsPrepared('/api/search/products/?search=iphone&ordering=price')).to.equal(true);
    expect(await runsPrepared('/api/search/products/?ordering=newest&page=77')).to.equal(false); // the deep pages' share is spent
  });
});

// Result pages are cached for SEARCH_CACHE_SECONDS, but a page that shows stock changes with
// every order, so it is served from the cache for a few seconds at most (core/catalog/search.ts).
describe('search pages that show stock, with a long result cache', function () {
  this.timeout(60_000);
  let app: TestApp;
  before(async () => {
    app = await startTestApp({ SEARCH_CACHE_SECONDS: '3600' });
  });
  after(() => app.close());

  it('stop listing a product as in stock within seconds of it selling out, not after the cache TTL', async () => {
    const db = app.services.db;
    const word = `qzsellout${randomBytes(4).toString('hex')}`;
    const [category] = await db('categories').insert({ name: `Sell-out ${word}` }).returning('id');
    const [store] = await db('stores').insert({ name: `Sell-out ${word}`, city: 'Testville' }).returning('id');
    const [product] = await db('products').insert({ title: `Lamp ${word}`, price: '5.00', category_id: category.id }).returning('id');
    await db('inventory').insert({ store_id: store.id, product_id: product.id, quantity: 1 });
    await bumpCatalogVersion(app.services); // a new product: pages cached before it are stale
    const inStock = async () => {
      const response = await app.request(`/api/search/products/?search=${word}&store_id=${store.id}&in_stock=true`);
      return ((await response.json()) as Page).results.map((hit) => hit.id);
    };
    expect(await inStock()).to.deep.equal([product.id]);
    expect(await inStock()).to.deep.equal([product.id]); // now cached

    // The last unit is sold (no catalog change: the catalog version stays as it is).
    await db('inventory').where({ store_id: store.id, product_id: product.id }).update({ quantity: 0 });
    // Without the cap on stock pages, it would stay listed for the hour of SEARCH_CACHE_SECONDS.
    await waitUntil('the sold-out product to leave the in-stock page', async () => (await inStock()).length === 0, 30_000);
  });
});
