import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import type { Db } from '../core/db.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';

// Fixtures live in stores of their own (unique names), so the seeded catalog and other test files
// cannot change what these stores hold.

interface Line {
  title: string;
  price: string;
  quantity: number;
}

// Listed out of order on purpose; "Qzst Epsilon" twice to exercise the product-id tie-break.
const lines: Line[] = [
  { title: 'Qzst Gamma 100%', price: '3.00', quantity: 3 },
  { title: 'Qzst Epsilon', price: '5.00', quantity: 4 },
  { title: 'Qzst Alpha', price: '1.50', quantity: 5 },
  { title: 'Qzst Delta_x', price: '4.00', quantity: 1 },
  { title: 'Qzst Epsilon', price: '5.00', quantity: 0 },
  { title: 'Qzst Beta', price: '49999.00', quantity: 0 },
  { title: 'Qzst Delta9x', price: '4.00', quantity: 2 }, // would match "delta_" if _ were a wildcard
];
const sortedTitles = ['Qzst Alpha', 'Qzst Beta', 'Qzst Delta9x', 'Qzst Delta_x', 'Qzst Epsilon', 'Qzst Epsilon', 'Qzst Gamma 100%'];

async function createStore(db: Db, name: string): Promise<number> {
  const [store] = await db('stores').insert({ name: `${name} ${randomBytes(4).toString('hex')}`, city: 'Testville' }).returning('id');
  return store.id;
}

describe('stores and inventory', () => {
  let app: TestApp;
  let storeId: number;
  let otherStoreId: number;
  let category: { id: number; name: string };

  before(async () => {
    app = await startTestApp();
    const db = app.services.db;
    category = (await db('categories').insert({ name: `Qzst Category ${randomBytes(4).toString('hex')}` }).returning(['id', 'name']))[0];
    storeId = await createStore(db, 'Qzst Store');
    otherStoreId = await createStore(db, 'Qzst Other Store');
    for (const line of lines) {
      const [product] = await db('products').insert({ title: line.title, price: line.price, category_id: category.id }).returning('id');
      await db('inventory').insert({ store_id: storeId, product_id: product.id, quantity: line.quantity });
      // The other store stocks everything too; none of it may leak into the first store's lines.
      await db('inventory').insert({ store_id: otherStoreId, product_id: product.id, quantity: 99 });
    }
  });
  after(() => app.close());

  const get = async (path: string) => {
    const response = await app.request(path);
    return { response, body: await response.json() };
  };
  const inventory = (query = '') => get(`/stores/${storeId}/inventory/${query}`);
  /** A 400 problem+json that names exactly `names` as unknown query parameters. */
  const expectUnknownParameters = async (path: string, names: string[]) => {
    const { response, body } = await get(path);
    expect(response.status, path).to.equal(400);
    expect(response.headers.get('content-type'), path).to.match(/^application\/problem\+json/);
    expect(body.errors, path).to.deep.equal(names.map((name) => ({ path: name, message: 'Unknown query parameter' })));
  };

  describe('GET /stores/', () => {
    it('lists stores by id, paginated with absolute next/previous links', async () => {
      const first = await get('/stores/?page_size=1');
      expect(first.response.status).to.equal(200);
      expect(first.body.count).to.be.at.least(2);
      expect(first.body.results).to.have.length(1);
      expect(first.body.previous).to.equal(null);
      const next = new URL(first.body.next);
      expect(next.origin).to.equal(app.url);
      expect(next.pathname).to.equal('/stores/');
      expect(next.searchParams.get('page')).to.equal('2');
      expect(next.searchParams.get('page_size')).to.equal('1');

      const second = await get('/stores/?page=2&page_size=1');
      expect(second.body.results[0].id).to.be.above(first.body.results[0].id);
      expect(new URL(second.body.previous).searchParams.get('page')).to.equal('1');
    });

    it('includes every store exactly once across the pages, in id order, with its fields', async () => {
      const stores: { id: number; name: string; city: string; created_at: string }[] = [];
      let url: string | null = `${app.url}/stores/?page_size=7`;
      while (url) {
        const body: { next: string | null; results: typeof stores } = await (await fetch(url)).json();
        stores.push(...body.results);
        url = body.next;
      }
      const ids = stores.map((store) => store.id);
      expect(ids).to.deep.equal([...ids].sort((a, b) => a - b));
      expect(new Set(ids).size).to.equal(ids.length);
      expect(ids).to.include.members([storeId, otherStoreId]);

      const store = stores.find((s) => s.id === storeId)!;
      expect(store).to.have.all.keys('id', 'name', 'city', 'created_at');
      expect(store.name).to.match(/^Qzst Store /);
      expect(store.city).to.equal('Testville');
      expect(new Date(store.created_at).toISOString()).to.equal(store.created_at);
    });

    it('refuses bad paging parameters with 400', async () => {
      for (const query of ['page=0', 'page=abc', 'page_size=0', 'page_size=101', 'page=1.5']) {
        const { response, body } = await get(`/stores/?${query}`);
        expect(response.status, query).to.equal(400);
        expect(response.headers.get('content-type')).to.match(/^application\/problem\+json/);
        expect(body.errors).to.be.an('array').that.is.not.empty;
      }
    });

    it('refuses an unknown query parameter with 400 naming it, instead of ignoring it', async () => {
      await expectUnknownParameters('/stores/?instock=true', ['instock']);
      await expectUnknownParameters('/stores/?page=1&pagesize=5', ['pagesize']);
    });
  });

  describe('GET /stores/{id}/inventory/', () => {
    it("lists the store's lines sorted by title, then product id", async () => {
      const { response, body } = await inventory();
      expect(response.status).to.equal(200);
      expect(body.count).to.equal(lines.length);
      expect(body.next).to.equal(null);
      expect(body.previous).to.equal(null);
      expect(body.results.map((line: Line) => line.title)).to.deep.equal(sortedTitles);
      const epsilons = body.results.filter((line: Line) => line.title === 'Qzst Epsilon');
      expect(epsilons[0].product_id).to.be.below(epsilons[1].product_id);
      expect(epsilons.map((line: Line) => line.quantity)).to.deep.equal([4, 0]);

      const beta = body.results[1];
      expect(beta).to.have.all.keys('product_id', 'title', 'category', 'price', 'quantity');
      expect(beta).to.deep.include({ title: 'Qzst Beta', price: '49999.00', quantity: 0, category });
      expect(body.results[0].price).to.equal('1.50');
    });

    it('filters with in_stock=true and in_stock=false', async () => {
      const inStock = await inventory('?in_stock=true');
      expect(inStock.body.count).to.equal(5);
      expect(inStock.body.results.every((line: Line) => line.quantity > 0)).to.equal(true);
      const outOfStock = await inventory('?in_stock=false');
      expect(outOfStock.body.results.map((line: Line) => [line.title, line.quantity])).to.deep.equal([
        ['Qzst Beta', 0],
        ['Qzst Epsilon', 0],
      ]);
      expect(outOfStock.body.count).to.equal(2);
    });

    it('searches titles case-insensitively, taking % and _ literally', async () => {
      const titles = async (query: string) => (await inventory(`?search=${encodeURIComponent(query)}`)).body.results.map((line: Line) => line.title);
      expect(await titles('ALPHA')).to.deep.equal(['Qzst Alpha']);
      expect(await titles('delta')).to.deep.equal(['Qzst Delta9x', 'Qzst Delta_x']);
      expect(await titles('delta_')).to.deep.equal(['Qzst Delta_x']);
      expect(await titles('100%')).to.deep.equal(['Qzst Gamma 100%']);
      expect(await titles('%')).to.deep.equal(['Qzst Gamma 100%']);
      expect(await titles('\\')).to.deep.equal([]);
      expect(await titles("'; DROP TABLE products; --")).to.deep.equal([]);
      expect(await titles('')).to.deep.equal(sortedTitles);
      const combined = await inventory('?search=epsilon&in_stock=true');
      expect(combined.body.count).to.equal(1);
      expect(combined.body.results[0]).to.include({ title: 'Qzst Epsilon', quantity: 4 });
    });

    it('paginates with count and next/previous links that keep the filters', async () => {
      const { body } = await inventory('?page=2&page_size=3');
      expect(body.count).to.equal(7);
      expect(body.results.map((line: Line) => line.title)).to.deep.equal(sortedTitles.slice(3, 6));
      expect(new URL(body.next).searchParams.get('page')).to.equal('3');
      expect(new URL(body.previous).searchParams.get('page')).to.equal('1');

      const last = await inventory('?page=3&page_size=3&in_stock=true');
      expect(last.body.count).to.equal(5);
      expect(last.body.results).to.deep.equal([]);
      expect(last.body.next).to.equal(null);
      const previous = new URL(last.body.previous);
      expect(previous.searchParams.get('in_stock')).to.equal('true');
      expect(previous.searchParams.get('page')).to.equal('2');
    });

    it('reads the count and the page from one snapshot while stock sells out and comes back', async () => {
      const db = app.services.db;
      const busyStoreId = await createStore(db, 'Qzst Busy Store');
      const products = await db('products')
        .insert(Array.from({ length: 40 }, (_, i) => ({ title: `Qzst Busy ${i}`, price: '1.00', category_id: category.id })))
        .returning('id');
      await db('inventory').insert(products.map((product: { id: number }) => ({ store_id: busyStoreId, product_id: product.id, quantity: 1 })));
      // Stock keeps crossing zero, one committed change after another, while pages are read: a
      // count and a page from two snapshots would disagree about how many lines are in stock.
      let reading = true;
      const churn = (async () => {
        for (let i = 0; reading; i++) {
          await db('inventory').where({ store_id: busyStoreId, product_id: products[i % products.length].id }).update({ quantity: db.raw('1 - quantity') });
        }
      })();
      const disagreements: string[] = [];
      const read = async () => {
        for (let i = 0; i < 150; i++) {
          const page = await get(`/stores/${busyStoreId}/inventory/?in_stock=true&page_size=100`);
          if (page.body.count !== page.body.results.length) disagreements.push(`count ${page.body.count}, ${page.body.results.length} lines`);
        }
      };
      try {
        await Promise.all([read(), read(), read()]);
      } finally {
        reading = false;
        await churn;
      }
      expect(disagreements).to.deep.equal([]);
    });

    it('answers 404 problem+json for a store that does not exist', async () => {
      const { response, body } = await get('/stores/2147483647/inventory/');
      expect(response.status).to.equal(404);
      expect(response.headers.get('content-type')).to.match(/^application\/problem\+json/);
      expect(body).to.include({ status: 404, title: 'Not Found' });
    });

    it('refuses a malformed store id or query with 400, never a 500', async () => {
      const paths = [
        '/stores/abc/inventory/',
        '/stores/0/inventory/',
        '/stores/-1/inventory/',
        '/stores/1.5/inventory/',
        '/stores/1e3/inventory/',
        '/stores/99999999999/inventory/',
        '/stores/2147483648/inventory/',
        `/stores/${storeId}/inventory/?in_stock=yes`,
        `/stores/${storeId}/inventory/?in_stock=1`,
        `/stores/${storeId}/inventory/?page=0`,
        `/stores/${storeId}/inventory/?page_size=101`,
        `/stores/${storeId}/inventory/?search=a%00b`,
        `/stores/${storeId}/inventory/?search=${'x'.repeat(201)}`,
      ];
      for (const path of paths) {
        const { response, body } = await get(path);
        expect(response.status, path).to.equal(400);
        expect(response.headers.get('content-type'), path).to.match(/^application\/problem\+json/);
        expect(body.errors, path).to.be.an('array').that.is.not.empty;
      }
    });

    it('refuses a misspelt filter with 400 naming it, instead of listing lines out of stock', async () => {
      await expectUnknownParameters(`/stores/${storeId}/inventory/?instock=true`, ['instock']);
      await expectUnknownParameters(`/stores/${storeId}/inventory/?in_stock=true&serach=alpha&Page=2`, ['serach', 'Page']);
    });

    it('is described in the OpenAPI document', async () => {
      const { body } = await get('/openapi.json');
      for (const path of ['/stores/', '/stores/{id}/inventory/']) expect(body.paths[path].get.description, path).to.include('Unknown query parameters are refused with 400');
      expect(body.paths['/stores/'].get.responses).to.have.keys('200', '400', '503');
      const operation = body.paths['/stores/{id}/inventory/'].get;
      expect(operation.parameters.map((p: { name: string }) => p.name)).to.include.members(['id', 'in_stock', 'search', 'page', 'page_size']);
      expect(operation.responses).to.have.keys('200', '400', '404', '503');
    });
  });
});
