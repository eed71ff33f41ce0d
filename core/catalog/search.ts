import type { Db } from '../db.ts';
import { runStatement } from '../prepared-query.ts';
import { notFound } from '../problems.ts';
import type { Services } from '../services.ts';
import { cachedForCatalog } from './catalog-cache.ts';
import { catalogRead } from './catalog-reads.ts';
import { searchStatement, type TextMatch } from './search-statement.ts';

export { typoSimilarityThreshold } from './typo-threshold.ts';

// Product search: GET /api/search/products/. One statement answers a page with its total
// (search-statement.ts); a text that matches nothing exactly takes a second one, the
// typo-tolerant step ("iphnoe"), whose similarity costs several times more per row than the
// exact step's ILIKE, which is why it is the fallback and not the first try.

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
  if (search.text === undefined) return answer(await page(db, search, null), search);
  const [first, ...others] = search.text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  if (first === undefined) return answer(await page(db, search, { kind: 'none' }), search); // only punctuation
  const words: [string, ...string[]] = [first, ...others];
  const exact = await page(db, search, { kind: 'exact', words });
  const [meta] = exact;
  if (meta?.total === 0 && meta.store_known) return answer(await page(db, search, { kind: 'typo', text: words.join(' ') }), search);
  return answer(exact, search);
}

interface Row {
  total: number;
  store_known: boolean;
  /** The product columns are null on the one row of an empty page. */
  id: number | null;
  title: string;
  description: string;
  price: string;
  created_at: Date;
  category_id: number;
  category_name: string;
  store_quantity?: number;
}

function page(db: Db, search: ProductSearch, match: TextMatch | null): Promise<Row[]> {
  return catalogRead(db, () => runStatement<Row>(db, searchStatement(search, match)));
}

function answer(rows: Row[], search: ProductSearch): SearchResult {
  const [first] = rows;
  if (first === undefined) throw new Error('a search statement returns at least one row');
  if (!first.store_known) throw notFound(`There is no store ${search.storeId}.`);
  return { count: first.total, results: first.id === null ? [] : rows.map(toHit) };
}

function toHit(row: Row): ProductHit {
  const hit: ProductHit = {
    id: row.id!,
    title: row.title,
    description: row.description,
    price: row.price,
    category: { id: row.category_id, name: row.category_name },
    created_at: row.created_at,
  };
  if (row.store_quantity !== undefined) hit.store_quantity = row.store_quantity;
  return hit;
}
