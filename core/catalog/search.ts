import type { Knex } from 'knex';
import type { Db } from '../db.ts';
import { notFound } from '../problems.ts';
import type { Services } from '../services.ts';
import { cachedForCatalog } from './catalog-cache.ts';

// Product search: GET /api/search/products/. Every query here is shaped for the indexes of
// db/migrations/20261125000300_search_indexes.ts; docs/query-plans.md shows the plans on a
// million products.
//
// Text matching, in two steps:
// 1. Exact: the search text is split into words, and a product matches when every word occurs in
//    its title or its description (case-insensitive). Trigram GIN indexes answer `ILIKE '%word%'`,
//    whose recheck is cheap. Words of one or two letters ("tv", "4k") have no trigram of their
//    own, so they must start a title word instead, which the title index can still answer.
// 2. Typo-tolerant, only when step 1 finds nothing ("iphnoe"): titles word-similar to the text
//    (pg_trgm `<%`). Similarity costs several times more per row than ILIKE, which is why it is
//    the fallback and not the first try.
//
// Pages: the filtered, sorted query selects only ids and sort keys, so sorting or counting many
// matches moves small rows; the page's 20 ids are then joined back to products, categories and
// the store's stock.
//
// Counts: relevance order scores every match anyway, so one query returns the page and the total
// (count(*) OVER ()). With any other order the page can stop after page_size rows of an ordered
// index, so the count is its own query (and PostgreSQL 15 would cost the window plan as if LIMIT
// stopped it early, picking an ordered index walk over every match). See countMatches for the
// counts that avoid visiting rows.

export const productOrderings = ['relevance', 'price', '-price', 'title', '-title', 'newest'] as const;
export type ProductOrdering = (typeof productOrderings)[number];

export interface ProductSearch {
  text?: string;
  /** A category id, or a category name (case-insensitive). An unknown one matches nothing. */
  category?: number | string;
  /** Decimal strings, compared as numeric by PostgreSQL. */
  priceMin?: string;
  priceMax?: string;
  /** Adds each product's quantity in this store; in_stock then means "in this store". */
  storeId?: number;
  inStock?: boolean;
  /** Default: relevance when there is text, else id. */
  ordering?: ProductOrdering;
  page: number;
  pageSize: number;
}

export interface ProductHit {
  id: number;
  title: string;
  description: string;
  price: string;
  category: { id: number; name: string };
  created_at: Date;
  /** Only when the search names a store. */
  store_quantity?: number;
}

export interface SearchResult {
  count: number;
  results: ProductHit[];
}

/** How similar (pg_trgm word_similarity) a title must be to the text in the typo-tolerant step. */
export const typoSimilarityThreshold = 0.3;

type Querier = Db | Knex.Transaction;
type TextMatch = { kind: 'exact'; words: [string, ...string[]] } | { kind: 'typo'; text: string };

// Result pages are cached per catalog version (catalog-cache.ts) for SEARCH_CACHE_SECONDS. Pages
// that show stock (store_id, in_stock) change with every order, so they live a few seconds at
// most. Orders are always decided against the live inventory, never against these pages.
const STOCK_PAGE_MAX_SECONDS = 5;

/** A search page, from the cache when the same search was answered recently. */
export function searchProductsCached(services: Services, search: ProductSearch): Promise<SearchResult> {
  const showsStock = search.storeId !== undefined || search.inStock !== undefined;
  const ttlSeconds = Math.min(services.config.SEARCH_CACHE_SECONDS, showsStock ? STOCK_PAGE_MAX_SECONDS : Infinity);
  if (ttlSeconds === 0) return searchProducts(services.db, search);
  return cachedForCatalog(services, `search:${JSON.stringify(search, Object.keys(search).sort())}`, ttlSeconds, () =>
    searchProducts(services.db, search),
  );
}

export async function searchProducts(db: Db, search: ProductSearch): Promise<SearchResult> {
  const [storeExists, result] = await Promise.all([
    search.storeId === undefined ? true : storeIsKnown(db, search.storeId),
    search.text === undefined ? filterOnly(db, search) : textSearch(db, search, search.text),
  ]);
  if (!storeExists) throw notFound(`There is no store ${search.storeId}.`);
  return result;
}

async function storeIsKnown(db: Db, storeId: number): Promise<boolean> {
  return (await db('stores').where('id', storeId).first(db.raw('1 AS known'))) !== undefined;
}

async function filterOnly(db: Db, search: ProductSearch): Promise<SearchResult> {
  const order = ordering(db, search.ordering ?? 'id', null);
  const [count, rows] = await Promise.all([countMatches(db, search), pageRows(db, search, null, order)]);
  return { count, results: rows.map(toHit) };
}

async function textSearch(db: Db, search: ProductSearch, text: string): Promise<SearchResult> {
  const [first, ...others] = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  if (first === undefined) return { count: 0, results: [] }; // only punctuation: nothing can match
  const words: [string, ...string[]] = [first, ...others];
  const exact = await textPage(db, search, { kind: 'exact', words });
  if (exact.count > 0) return exact;
  // The threshold is a setting of pg_trgm's `<%` operator (the indexable form), so it is set for
  // this one transaction only.
  return db.transaction(async (trx) => {
    await trx.raw(`SELECT set_config('pg_trgm.word_similarity_threshold', ?, true)`, [String(typoSimilarityThreshold)]);
    return textPage(trx, search, { kind: 'typo', text: words.join(' ') });
  });
}

/** A text search's page and its total. */
async function textPage(db: Querier, search: ProductSearch, match: TextMatch): Promise<SearchResult> {
  const order = ordering(db, search.ordering ?? 'relevance', match);
  if (!order.scoresEveryMatch) {
    const count = await countOf(filtered(db, search, match));
    return { count, results: count === 0 ? [] : (await pageRows(db, search, match, order)).map(toHit) };
  }
  const rows = await pageRows(db, search, match, order, true);
  if (rows.length > 0) return { count: Number(rows[0]!.total), results: rows.map(toHit) };
  // An empty page: either nothing matches or the page is past the end; only the latter needs a count.
  return { count: search.page === 1 ? 0 : await countOf(filtered(db, search, match)), results: [] };
}

/**
 * Counts without text. Two common shapes have an exact answer that visits no product rows:
 * - no filter at all (browsing the whole catalog): the trigger-maintained product_count row;
 * - only store_id + in_stock: that store's in-stock inventory rows, an index-only scan of the
 *   partial index (each row is one product: unique (store_id, product_id), and the foreign key
 *   guarantees the product exists); in_stock=false is the rest of the catalog.
 * Anything else counts the filtered products, through the same indexes as the page.
 */
async function countMatches(db: Db, search: ProductSearch): Promise<number> {
  const productFilters = search.category !== undefined || search.priceMin !== undefined || search.priceMax !== undefined;
  if (!productFilters && search.inStock === undefined) return allProducts(db);
  if (!productFilters && search.storeId !== undefined) {
    const inStock = countOf(db('inventory').where('store_id', search.storeId).where('quantity', '>', 0));
    if (search.inStock) return inStock;
    const [all, stocked] = await Promise.all([allProducts(db), inStock]);
    return all - stocked;
  }
  return countOf(filtered(db, search, null));
}

async function allProducts(db: Db): Promise<number> {
  const row = (await db('product_count').first('n')) as { n: number | string };
  return Number(row.n);
}

async function countOf(query: Knex.QueryBuilder): Promise<number> {
  const row = (await query.count({ count: '*' }).first()) as { count: number | string };
  return Number(row.count);
}

/** products AS p, narrowed by every filter of the search. */
function filtered(db: Querier, search: ProductSearch, match: TextMatch | null): Knex.QueryBuilder {
  const query = db('products as p');
  if (match?.kind === 'exact') {
    for (const word of match.words) {
      // Descriptions are searched for words long enough to have trigrams (the index needs them).
      query.where((either) => {
        either.whereRaw(titleHas(word), titleHasBindings(word));
        if (word.length >= 3) either.orWhereRaw('p.description ILIKE ?', [`%${word}%`]);
      });
    }
  }
  if (match?.kind === 'typo') query.whereRaw('? <% p.title', [match.text]);
  if (typeof search.category === 'number') query.where('p.category_id', search.category);
  if (typeof search.category === 'string') {
    query.whereRaw('p.category_id = (SELECT c.id FROM categories c WHERE lower(c.name) = lower(?))', [search.category]);
  }
  if (search.priceMin !== undefined) query.where('p.price', '>=', search.priceMin);
  if (search.priceMax !== undefined) query.where('p.price', '<=', search.priceMax);
  if (search.inStock !== undefined) {
    const stocked = (sub: Knex.QueryBuilder) => {
      sub.select(db.raw('1')).from('inventory as i').whereRaw('i.product_id = p.id').where('i.quantity', '>', 0);
      if (search.storeId !== undefined) sub.where('i.store_id', search.storeId);
    };
    if (search.inStock) query.whereExists(stocked);
    else query.whereNotExists(stocked);
  }
  return query;
}

/** "The title contains this word": anywhere for 3+ characters, at the start of a title word otherwise. */
function titleHas(word: string): string {
  return word.length >= 3 ? 'p.title ILIKE ?' : '(p.title ILIKE ? OR p.title ILIKE ?)';
}
function titleHasBindings(word: string): string[] {
  // Words are letters and digits only, so they carry no LIKE wildcards to escape.
  return word.length >= 3 ? [`%${word}%`] : [`${word}%`, `% ${word}%`];
}

interface Ordering {
  /** The sort keys, selected next to the id: column names or scoring expressions. */
  keys: (string | Knex.Raw)[];
  /** ORDER BY over the keys' output names (and id), valid inside the page query and around it. */
  orderBy: string;
  /** True when the keys are computed per match (relevance), so no index can deliver the order. */
  scoresEveryMatch: boolean;
}

/**
 * Each ordering ends in id, so pages never overlap or skip rows; the tie-break follows the sort's
 * direction so that one backward index scan serves the descending orders.
 */
function ordering(db: Querier, name: ProductOrdering | 'id', match: TextMatch | null): Ordering {
  const byColumn = (column: string | null, orderBy: string): Ordering => ({ keys: column ? [column] : [], orderBy, scoresEveryMatch: false });
  switch (name) {
    case 'price': return byColumn('p.price', 'price ASC, id ASC');
    case '-price': return byColumn('p.price', 'price DESC, id DESC');
    case 'title': return byColumn('p.title', 'title ASC, id ASC');
    case '-title': return byColumn('p.title', 'title DESC, id DESC');
    case 'newest': return byColumn('p.created_at', 'created_at DESC, id DESC');
    case 'id': return byColumn(null, 'id ASC');
    case 'relevance': return relevance(db, match);
  }
}

/**
 * Exact matches: products with more of the words in their title first (description-only matches
 * last), then those whose title mentions the first word earlier ("Apple iPhone 15" before "Case
 * for iPhone 15"), then id. Both are cheap per row, which matters: every match is scored.
 * Typo-tolerant matches: most similar title first. Without text there is nothing to rank: id order.
 */
function relevance(db: Querier, match: TextMatch | null): Ordering {
  if (match === null) return { keys: [], orderBy: 'id ASC', scoresEveryMatch: false };
  if (match.kind === 'typo') {
    return {
      keys: [db.raw('word_similarity(?, p.title) AS similarity', [match.text])],
      orderBy: 'similarity DESC, id ASC',
      scoresEveryMatch: true,
    };
  }
  const inTitle = match.words.map((word) => `(${titleHas(word)})::int`).join(' + ');
  return {
    keys: [
      db.raw(`${inTitle} AS words_in_title`, match.words.flatMap(titleHasBindings)),
      db.raw('nullif(strpos(lower(p.title), ?), 0) AS first_word_at', [match.words[0]]),
    ],
    orderBy: 'words_in_title DESC, first_word_at ASC NULLS LAST, id ASC',
    scoresEveryMatch: true,
  };
}

interface Row {
  id: number;
  title: string;
  description: string;
  price: string;
  created_at: Date;
  category_id: number;
  category_name: string;
  store_quantity?: number;
  total?: number | string;
}

/**
 * One page of matches with their categories (and the store's quantity). The inner query sorts
 * and cuts the page over ids and sort keys only; the joins then cost page_size lookups.
 */
function pageRows(db: Querier, search: ProductSearch, match: TextMatch | null, order: Ordering, withTotal = false): Promise<Row[]> {
  const page = filtered(db, search, match)
    .select('p.id', ...order.keys)
    .orderByRaw(order.orderBy)
    .limit(search.pageSize)
    .offset((search.page - 1) * search.pageSize);
  if (withTotal) page.select(db.raw('count(*) OVER () AS total'));
  const query = db
    .from(page.as('page'))
    .join('products as p', 'p.id', 'page.id')
    .join('categories as c', 'c.id', 'p.category_id')
    .select('p.id', 'p.title', 'p.description', 'p.price', 'p.created_at', 'p.category_id', 'c.name as category_name')
    // The same sort, on the page's columns: joins do not keep the subquery's order.
    .orderByRaw(order.orderBy.replace(/(^|, )(\w+)/g, '$1page.$2'));
  if (withTotal) query.select('page.total');
  const storeId = search.storeId;
  if (storeId !== undefined) {
    query
      .leftJoin('inventory as i', (on) => on.on('i.product_id', 'p.id').andOnVal('i.store_id', '=', storeId))
      .select(db.raw('coalesce(i.quantity, 0) AS store_quantity'));
  }
  return query;
}

function toHit(row: Row): ProductHit {
  const hit: ProductHit = {
    id: row.id,
    title: row.title,
    description: row.description,
    price: row.price,
    category: { id: row.category_id, name: row.category_name },
    created_at: row.created_at,
  };
  if (row.store_quantity !== undefined) hit.store_quantity = row.store_quantity;
  return hit;
}
