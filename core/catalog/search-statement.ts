import type { Statement } from '../prepared-query.ts';
import type { ProductOrdering, ProductSearch } from './search.ts';

// The one SQL statement that answers a product search: the page (with categories and the store's
// quantities), the exact total and whether the store exists, in a single round trip and a single
// plan. Every query here is shaped for the indexes of db/migrations/20261125000300_search_indexes.ts;
// docs/query-plans.md shows the plans on a million products.
//
// Shape:
//   WITH page AS MATERIALIZED (ids and sort keys of the filtered, sorted products, LIMIT/OFFSET)
//   SELECT meta.total, meta.store_known, r.*
//   FROM (SELECT <count> AS total, <store exists> AS store_known) meta
//   LEFT JOIN (page joined to its products, their categories, the store's inventory) r ON true
// The page sorts and cuts over ids and sort keys only, so sorting or counting many matches moves
// small rows; the joins then cost page_size lookups. The one meta row makes an empty page still
// answer its total.
//
// Counts (the API wants an exact one on every page), cheapest first:
// - no filter at all: the trigger-maintained product_count row;
// - only category and price: the trigger-maintained product_price_counts rows of that range (a
//   few hundred per category), summed;
// - in_stock without store_id, alone or with category and price: the in_stock column of the same
//   product_price_counts rows, kept by the triggers on inventory and products (migration 700);
// - only store_id + in_stock: the store's trigger-maintained store_stock_counts row (its
//   in-stock inventory rows; each is one product: unique (store_id, product_id), and the foreign
//   key guarantees the product exists); in_stock=false is the rest of the catalog. Counting the
//   rows themselves read 68,603 index entries for a store of a million products (3.4 ms). The
//   page of in_stock=true is found as storeStockPage says;
// - text in relevance order: the page scores every match anyway, so it returns the total as
//   count(*) OVER (); only an empty page past the end needs its own count, which PostgreSQL
//   evaluates only then (an uncorrelated sub-select is run when its value is first needed);
// - text in any other order: the matches' ids and sort keys are collected once (a materialized
//   CTE, so through the text indexes), then counted and cut into the page. The exact count has to
//   visit every match anyway; a separate page query walked an ordered index instead, rechecking
//   the text of every product it passed (on a million products, "galaxy" among phones under 900
//   by price skipped 12,924 rows: 71 ms of PostgreSQL CPU per request for both, 36 ms now).
//   With count(*) OVER () in one query instead, PostgreSQL 15 costs the plan as if LIMIT stopped
//   early and walks an ordered index over every match;
// - anything else (stock filters with product filters): count(*) over the filtered products,
//   kept sargable so that it is an index-only range scan where one index covers the filters.
//
// Text matching, in two steps (the second is a statement of its own, run by search.ts only when
// the first counts nothing):
// 1. Exact: a product matches when every word occurs in its title or its description
//    (case-insensitive). Trigram GIN indexes answer `ILIKE '%word%'`. Words of one or two letters
//    ("tv", "4k") have no trigram of their own, so they must start a title word instead, which the
//    title index can still answer.
// 2. Typo-tolerant: titles word-similar to the text (pg_trgm `<%`, whose threshold every
//    connection sets at start-up: core/db.ts).

export type TextMatch =
  | { kind: 'exact'; words: [string, ...string[]] }
  | { kind: 'typo'; text: string }
  /** Text without a single letter or digit: nothing can match. */
  | { kind: 'none' };

/** Numbered parameters ($1, $2, ...), each cast to its type so that a prepared statement is typed. */
class Parameters {
  readonly values: unknown[] = [];
  add(value: unknown, type: string): string {
    this.values.push(value);
    return `$${this.values.length}::${type}`;
  }
}

// The page's products are looked up one by one (OFFSET 0 keeps the lateral sub-select from being
// merged into a join): on a small catalog the planner would rather hash the whole products table
// than probe its primary key page_size times, which costs several times more.
const productColumns = 'p.id, p.title, p.description, p.price, p.created_at, p.category_id';

interface Ordering {
  /** Sort keys selected next to the id in the page: `expression AS name`. */
  keys: string[];
  /** Keys computed per match (relevance), carried out of the page to sort the joined rows. */
  scores: string[];
  /** ORDER BY over the keys' names and id; the tie-break follows the sort's direction. */
  orderBy: string;
  /** The keys read p.title_lower, which the page's source then provides. */
  scoresLowerTitle?: boolean;
}

/** The statement for one page of `search`, text matched as `match` (null: no text). */
export function searchStatement(search: ProductSearch, match: TextMatch | null): Statement {
  const parameters = new Parameters();
  const store = search.storeId === undefined ? null : parameters.add(search.storeId, 'int');
  const words = wordTests(parameters, match);
  const catalogFilters = catalogConditions(parameters, search);
  const where = [...textConditions(parameters, match, words), ...catalogFilters, ...stockConditions(search, store)].join(' AND ') || 'true';
  const order = ordering(parameters, match === null ? (search.ordering ?? 'id') : (search.ordering ?? 'relevance'), match, words);
  const scoresEveryMatch = order.scores.length > 0;
  const filteredCount = `(SELECT count(*) FROM products p WHERE ${where})`;

  // LIMIT and OFFSET are written into the text, not bound: with parameters there, a prepared
  // statement's generic plan assumes 10% of the matches are wanted, never wins over re-planning,
  // and every run pays the planner. They are integers, checked here, so nothing else can get in.
  if (!Number.isInteger(search.page) || !Number.isInteger(search.pageSize) || search.page < 1 || search.pageSize < 1) {
    throw new RangeError('page and pageSize are positive integers');
  }
  const cut = `ORDER BY ${order.orderBy} LIMIT ${search.pageSize} OFFSET ${(search.page - 1) * search.pageSize}`;

  const keys = order.keys.map((key) => `, ${key}`).join('');
  let count: string;
  let ctes = '';
  let page = `SELECT p.id${keys}${scoresEveryMatch ? ', count(*) OVER () AS total' : ''} FROM products p WHERE ${where} ${cut}`;
  if (order.scoresLowerTitle) {
    // Scoring reads the lowered title several times per match: the innermost sub-select lowers it
    // once, the next computes the scores, so that the window keeps only ids and scores of every
    // match (with the titles, "iphone"'s 51,024 matches spilled to disk). OFFSET 0 keeps
    // PostgreSQL from merging the levels, which would copy lower(title) into every reference.
    const lowered = `SELECT p.id, lower(p.title) AS title_lower FROM products p WHERE ${where} OFFSET 0`;
    page = `SELECT p.*, count(*) OVER () AS total FROM (SELECT p.id${keys} FROM (${lowered}) p OFFSET 0) p ${cut}`;
  }
  if (store !== null && onlyStoreStock(search, match, catalogFilters)) {
    ({ ctes, page, count } = storeStockPage(store, keys, cut, search.page * search.pageSize));
  } else if (match === null) {
    count = filterOnlyCount(search, store, catalogFilters, filteredCount);
  } else if (scoresEveryMatch) {
    // An empty first page means no match; an empty later page may be past the end.
    count = `coalesce((SELECT total FROM page LIMIT 1), ${search.page === 1 ? '0' : filteredCount})`;
  } else {
    ctes = `matches AS MATERIALIZED (SELECT p.id${keys} FROM products p WHERE ${where}), `;
    page = `SELECT * FROM matches ${cut}`;
    count = '(SELECT count(*) FROM matches)';
  }

  const quantity = store === null ? '' : ', coalesce(i.quantity, 0) AS store_quantity';
  const stock = store === null ? '' : ` LEFT JOIN inventory i ON i.product_id = p.id AND i.store_id = ${store}`;
  const rows =
    `SELECT ${productColumns}, c.name AS category_name` +
    `${order.scores.map((score) => `, page.${score}`).join('')}${quantity} ` +
    `FROM page CROSS JOIN LATERAL (SELECT ${productColumns} FROM products p WHERE p.id = page.id OFFSET 0) p ` +
    `JOIN categories c ON c.id = p.category_id${stock}`;
  const storeKnown = store === null ? 'true' : `EXISTS (SELECT FROM stores WHERE id = ${store})`;
  const text =
    `WITH ${ctes}page AS MATERIALIZED (${page}) ` +
    `SELECT meta.total, meta.store_known, r.* FROM (SELECT ${count} AS total, ${storeKnown} AS store_known) meta ` +
    `LEFT JOIN (${rows}) r ON true ORDER BY ${order.orderBy.replace(/(^|, )(\w+)/g, '$1r.$2')}`;
  return { text, values: parameters.values, prepare: planSuitsEveryValue(search, match, catalogFilters), rare: !isCommonPage(search) };
}

// LIMIT and OFFSET in the text make every page and page size a statement of its own, and the
// process names only so many (core/prepared-query.ts): a crawler asking for page 1, 2, ... 64
// took every name, and then no search was prepared any more. The pages shoppers mostly ask for
// are common: the first few, at the API's default size (20, server/openapi.ts) or a round one a
// page-size picker offers. The rest are rare: named only from a small share of the names.
const PREPARED_PAGES = 3;
const PREPARED_PAGE_SIZES: ReadonlySet<number> = new Set([10, 20, 50, 100]);

function isCommonPage(search: ProductSearch): boolean {
  return search.page <= PREPARED_PAGES && PREPARED_PAGE_SIZES.has(search.pageSize);
}

/**
 * Whether one plan serves every value of the statement's parameters (core/prepared-query.ts):
 * - text: the text indexes find the matches in every plan, whatever the words and filters;
 * - no filter: the ordering's index is walked for page_size rows (store_id only adds quantities);
 * - category and price in price order: the (category_id, price, id) or (price, id) index is read
 *   over exactly the filtered range;
 * - a store's products in stock: storeStockPage chooses its way by the store's count;
 * - in stock in any store (or in none), with the cases above: a primary-key probe of each product
 *   the walk passes, and in_stock=true and =false are statements of their own, each with its one
 *   selectivity.
 * Any other filter is checked row by row along an ordered index walk in a plan made for typical
 * values, which for a rare value reads the whole index; those statements are planned every time.
 */
function planSuitsEveryValue(search: ProductSearch, match: TextMatch | null, catalogFilters: string[]): boolean {
  if (match !== null) return true;
  if (onlyStoreStock(search, match, catalogFilters)) return true;
  if (search.inStock !== undefined && search.storeId !== undefined) return false;
  return catalogFilters.length === 0 || search.ordering === 'price' || search.ordering === '-price';
}

// The filters of the search as conditions on products AS p.

function textConditions(parameters: Parameters, match: TextMatch | null, words: WordTest[]): string[] {
  if (match?.kind === 'none') return ['false'];
  if (match?.kind === 'typo') return [`${parameters.add(match.text, 'text')} <% p.title`];
  return words.map((word) => (word.inDescription ? `(${word.inTitle} OR ${word.inDescription})` : word.inTitle));
}

/** Category and price: columns that product_price_counts has too, so they also apply to it as p. */
function catalogConditions(parameters: Parameters, search: ProductSearch): string[] {
  const where: string[] = [];
  if (typeof search.category === 'number') where.push(`p.category_id = ${parameters.add(search.category, 'int')}`);
  if (typeof search.category === 'string') {
    where.push(`p.category_id = (SELECT c.id FROM categories c WHERE lower(c.name) = lower(${parameters.add(search.category, 'text')}))`);
  }
  if (search.priceMin !== undefined) where.push(`p.price >= ${parameters.add(search.priceMin, 'numeric')}`);
  if (search.priceMax !== undefined) where.push(`p.price <= ${parameters.add(search.priceMax, 'numeric')}`);
  return where;
}

/** In stock in the store, or, without one, in any store: a product_stock_counts row (migration 700). */
function stockConditions(search: ProductSearch, store: string | null): string[] {
  if (search.inStock === undefined) return [];
  const inStock =
    store === null
      ? 'EXISTS (SELECT FROM product_stock_counts s WHERE s.product_id = p.id)'
      : `EXISTS (SELECT FROM inventory i WHERE i.product_id = p.id AND i.quantity > 0 AND i.store_id = ${store})`;
  return [search.inStock ? inStock : `NOT ${inStock}`];
}

interface WordTest {
  /** "The title contains this word": anywhere for 3+ characters, at the start of a title word otherwise. */
  inTitle: string;
  /**
   * The same test on p.title_lower, the title lowered once per match for scoring. In a UTF-8
   * database `a ILIKE b` is `lower(a) LIKE lower(b)`, so this is the same test without lowering
   * the title again for every word.
   */
  inLowerTitle: string;
  /** Only for words long enough to have trigrams (the description index needs them). */
  inDescription: string | null;
}

function wordTests(parameters: Parameters, match: TextMatch | null): WordTest[] {
  if (match?.kind !== 'exact') return [];
  // Words are letters and digits only, so they carry no LIKE wildcards to escape.
  return match.words.map((word) => {
    if (word.length < 3) {
      const [start, afterSpace] = [parameters.add(`${word}%`, 'text'), parameters.add(`% ${word}%`, 'text')];
      return {
        inTitle: `(p.title ILIKE ${start} OR p.title ILIKE ${afterSpace})`,
        inLowerTitle: `(p.title_lower LIKE lower(${start}) OR p.title_lower LIKE lower(${afterSpace}))`,
        inDescription: null,
      };
    }
    const pattern = parameters.add(`%${word}%`, 'text');
    return { inTitle: `p.title ILIKE ${pattern}`, inLowerTitle: `p.title_lower LIKE lower(${pattern})`, inDescription: `p.description ILIKE ${pattern}` };
  });
}

/** store_id + in_stock=true and nothing else: storeStockPage. */
function onlyStoreStock(search: ProductSearch, match: TextMatch | null, catalogFilters: string[]): boolean {
  return match === null && search.storeId !== undefined && search.inStock === true && catalogFilters.length === 0;
}

/**
 * One page of the products in stock in a store (store_id + in_stock=true, nothing else), in any
 * order, with one plan that suits every store. Two ways to find the page, each right for some
 * stores: walk the ordering's index and probe the store's stock (stops after a page when most
 * products are in stock there; reads the whole index for a store with nothing in stock), or look
 * up the store's in-stock products and sort them (cheap for a small store; 68,603 lookups for a
 * big one). The statement holds both, each behind a one-time test on the store's count k, which it
 * computes anyway. With N products and r = OFFSET + LIMIT rows wanted, the walk probes about
 * r * N / k products and the lookup reads k: the walk when k * k >= r * N. Either way a page costs
 * at most about sqrt(r * N) probes or lookups (4,500 for a first page of a million products).
 */
function storeStockPage(store: string, keys: string, cut: string, rowsWanted: number): { ctes: string; page: string; count: string } {
  const walk = `(SELECT n FROM in_stock)::float8 * (SELECT n FROM in_stock) >= ${rowsWanted}::float8 * (SELECT n FROM product_count)`;
  return {
    ctes:
      `in_stock AS MATERIALIZED (SELECT ${storeInStockCount(store)} AS n), ` +
      `stocked AS MATERIALIZED (SELECT product_id FROM inventory WHERE store_id = ${store} AND quantity > 0), `,
    page:
      `(SELECT p.id${keys} FROM products p WHERE ${walk} ` +
      `AND EXISTS (SELECT FROM inventory i WHERE i.product_id = p.id AND i.quantity > 0 AND i.store_id = ${store}) ${cut}) ` +
      // Looked up one by one (OFFSET 0), so that no plan hashes the whole catalog for a few rows.
      `UNION ALL (SELECT p.* FROM stocked CROSS JOIN LATERAL (SELECT p.id${keys} FROM products p WHERE p.id = stocked.product_id OFFSET 0) p ` +
      `WHERE NOT (${walk}) ${cut})`,
    count: '(SELECT n FROM in_stock)',
  };
}

/** Counts without text: see the comment at the top. */
function filterOnlyCount(search: ProductSearch, store: string | null, catalogFilters: string[], filteredCount: string): string {
  if (search.inStock === undefined) {
    if (catalogFilters.length === 0) return '(SELECT n FROM product_count)';
    return `(SELECT coalesce(sum(p.n), 0)::bigint FROM product_price_counts p WHERE ${catalogFilters.join(' AND ')})`;
  }
  if (catalogFilters.length === 0 && store !== null) {
    const inStock = storeInStockCount(store);
    return search.inStock ? inStock : `(SELECT n FROM product_count) - ${inStock}`;
  }
  if (store === null) {
    const where = catalogFilters.length === 0 ? '' : ` WHERE ${catalogFilters.join(' AND ')}`;
    return `(SELECT coalesce(sum(${search.inStock ? 'p.in_stock' : 'p.n - p.in_stock'}), 0)::bigint FROM product_price_counts p${where})`;
  }
  return filteredCount;
}

/** How many products the store has in stock: one row (db/migrations/20261125000600_store_stock_counts.ts). */
function storeInStockCount(store: string): string {
  return `coalesce((SELECT in_stock FROM store_stock_counts WHERE store_id = ${store}), 0)`;
}

/**
 * Each ordering ends in id, so pages never overlap or skip rows; the tie-break follows the sort's
 * direction so that one backward index scan serves the descending orders.
 */
function ordering(parameters: Parameters, name: ProductOrdering | 'id', match: TextMatch | null, words: WordTest[]): Ordering {
  const byColumn = (column: string | null, orderBy: string): Ordering => ({ keys: column ? [column] : [], scores: [], orderBy });
  switch (name) {
    case 'price': return byColumn('p.price', 'price ASC, id ASC');
    case '-price': return byColumn('p.price', 'price DESC, id DESC');
    case 'title': return byColumn('p.title', 'title ASC, id ASC');
    case '-title': return byColumn('p.title', 'title DESC, id DESC');
    case 'newest': return byColumn('p.created_at', 'created_at DESC, id DESC');
    case 'id': return byColumn(null, 'id ASC');
    case 'relevance': return relevance(parameters, match, words);
  }
}

/**
 * Exact matches: products with more of the words in their title first (description-only matches
 * last), then those whose title mentions the first word earlier ("Apple iPhone 15" before "Case
 * for iPhone 15"), then id. Both are cheap per row, which matters: every match is scored.
 * Typo-tolerant matches: most similar title first. Without text there is nothing to rank: id order.
 */
function relevance(parameters: Parameters, match: TextMatch | null, words: WordTest[]): Ordering {
  if (match === null || match.kind === 'none') return { keys: [], scores: [], orderBy: 'id ASC' };
  if (match.kind === 'typo') {
    return {
      keys: [`word_similarity(${parameters.add(match.text, 'text')}, p.title) AS similarity`],
      scores: ['similarity'],
      orderBy: 'similarity DESC, id ASC',
    };
  }
  const inTitle = words.map((word) => `(${word.inLowerTitle})::int`).join(' + ');
  return {
    keys: [`${inTitle} AS words_in_title`, `nullif(strpos(p.title_lower, ${parameters.add(match.words[0], 'text')}), 0) AS first_word_at`],
    scores: ['words_in_title', 'first_word_at'],
    orderBy: 'words_in_title DESC, first_word_at ASC NULLS LAST, id ASC',
    scoresLowerTitle: true,
  };
}
