import type { Db } from '../db.ts';
import { notFound } from '../problems.ts';
import { catalogRead } from './catalog-reads.ts';

// The store list and one store's inventory, one page at a time.

export interface PageRequest {
  page: number; // from 1
  pageSize: number;
}

export interface PageOf<T> {
  count: number;
  results: T[];
}

export interface StoreSummary {
  id: number;
  name: string;
  city: string;
  created_at: Date;
}

export async function listStores(db: Db, { page, pageSize }: PageRequest): Promise<PageOf<StoreSummary>> {
  // One connection (a catalog read's share of the pool), one snapshot for the count and the page.
  const [counted, results] = await catalogRead(db, () => db.transaction((trx) => Promise.all([
    trx('stores').count({ count: '*' }).first(),
    trx('stores')
      .select('id', 'name', 'city', 'created_at')
      .orderBy('id')
      .limit(pageSize)
      .offset((page - 1) * pageSize),
  ]), { isolationLevel: 'repeatable read', readOnly: true }));
  return { count: Number(counted?.count ?? 0), results };
}

export interface InventoryFilters extends PageRequest {
  /** true: quantity > 0; false: quantity = 0; undefined: every product the store lists. */
  inStock: boolean | undefined;
  /** Case-insensitive substring of the title; taken literally (no wildcards). */
  search: string | undefined;
}

export interface InventoryLine {
  product_id: number;
  title: string;
  category: { id: number; name: string };
  price: string;
  quantity: number;
}

/** The store's inventory lines sorted by title (then product id); 404 if the store does not exist. */
export async function storeInventory(db: Db, storeId: number, filters: InventoryFilters): Promise<PageOf<InventoryLine>> {
  // The count and the page are read from one snapshot, so that stock selling out meanwhile cannot
  // give a count that the pages do not add up to.
  return await catalogRead(db, () => db.transaction((trx) => inventoryPage(trx, storeId, filters), { isolationLevel: 'repeatable read', readOnly: true }));
}

async function inventoryPage(db: Db, storeId: number, filters: InventoryFilters): Promise<PageOf<InventoryLine>> {
  // Products are joined only when the search needs their titles: counting a large store's lines
  // is then an index-only scan of inventory instead of a join over every line.
  const filtered = (withProducts: boolean) => {
    const query = db('inventory').where('inventory.store_id', storeId);
    if (withProducts) query.join('products', 'products.id', 'inventory.product_id');
    if (filters.inStock !== undefined) query.where('inventory.quantity', filters.inStock ? '>' : '=', 0);
    if (filters.search) query.whereILike('products.title', `%${escapeLike(filters.search)}%`);
    return query;
  };
  const store = await db('stores').where({ id: storeId }).first('id');
  if (!store) throw notFound(`Store ${storeId} does not exist.`);
  const [counted, rows] = await Promise.all([ // one connection: they run one after the other
    filtered(Boolean(filters.search)).count({ count: '*' }).first(),
    filtered(true)
      .join('categories', 'categories.id', 'products.category_id')
      .select(
        'inventory.product_id',
        'products.title',
        'categories.id as category_id',
        'categories.name as category_name',
        'products.price',
        'inventory.quantity',
      )
      .orderBy([{ column: 'products.title' }, { column: 'inventory.product_id' }])
      .limit(filters.pageSize)
      .offset((filters.page - 1) * filters.pageSize),
  ]);
  return {
    count: Number(counted?.count ?? 0),
    results: rows.map((row) => ({
      product_id: row.product_id,
      title: row.title,
      category: { id: row.category_id, name: row.category_name },
      price: row.price,
      quantity: row.quantity,
    })),
  };
}

/** Makes % _ and \ match themselves in a LIKE pattern (backslash is PostgreSQL's default escape). */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (character) => `\\${character}`);
}
