import type { Knex } from 'knex';

// Indexes for GET /api/search/products/ (core/catalog/search.ts). docs/query-plans.md shows each
// one at work on a million products.
//
// - Text: trigram GIN indexes answer both the typo-tolerant title match (`q <% title`) and the
//   substring match on descriptions (`description ILIKE '%q%'`).
// - Orderings: one b-tree per sort key, each ending in id (our tie-break), so "cheapest first" or
//   "newest first" reads 20 index entries instead of sorting every match.
// - Category: (category_id, price) serves "category X" alone and "category X between two prices,
//   cheapest first" as one range scan.
// - Stock: partial indexes over the rows with quantity > 0, the only ones in_stock asks about;
//   unique (store_id, product_id) already answers a store's quantity for one product.
// - product_count: the exact number of products, kept by statement-level triggers, so browsing
//   the whole catalog does not count a million index entries per page. One row updated once per
//   INSERT/DELETE statement (not per row): writers of products serialise on it, which is fine for
//   a catalog edited by staff.
export async function up(knex: Knex): Promise<void> {
  await knex.raw('CREATE INDEX products_title_trgm ON products USING gin (title gin_trgm_ops)');
  await knex.raw('CREATE INDEX products_description_trgm ON products USING gin (description gin_trgm_ops)');
  await knex.raw('CREATE INDEX products_price_id ON products (price, id)');
  await knex.raw('CREATE INDEX products_created_at_id ON products (created_at, id)');
  await knex.raw('CREATE INDEX products_title_id ON products (title, id)');
  await knex.raw('CREATE INDEX products_category_price ON products (category_id, price, id)');
  await knex.raw('CREATE INDEX inventory_in_stock_by_store ON inventory (store_id, product_id) WHERE quantity > 0');
  await knex.raw('CREATE INDEX inventory_in_stock_by_product ON inventory (product_id) WHERE quantity > 0');

  await knex.raw('CREATE TABLE product_count (singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton), n bigint NOT NULL)');
  await knex.raw('INSERT INTO product_count (n) SELECT count(*) FROM products');
  await knex.raw(`
    CREATE FUNCTION product_count_track() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        UPDATE product_count SET n = n + (SELECT count(*) FROM changed_rows);
      ELSIF TG_OP = 'DELETE' THEN
        UPDATE product_count SET n = n - (SELECT count(*) FROM changed_rows);
      ELSE -- TRUNCATE, also when it cascades from another table
        UPDATE product_count SET n = 0;
      END IF;
      RETURN NULL;
    END $$`);
  await knex.raw(`CREATE TRIGGER product_count_insert AFTER INSERT ON products
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION product_count_track()`);
  await knex.raw(`CREATE TRIGGER product_count_delete AFTER DELETE ON products
    REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION product_count_track()`);
  await knex.raw('CREATE TRIGGER product_count_truncate AFTER TRUNCATE ON products FOR EACH STATEMENT EXECUTE FUNCTION product_count_track()');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE product_count');
  await knex.raw('DROP TRIGGER product_count_truncate ON products');
  await knex.raw('DROP TRIGGER product_count_delete ON products');
  await knex.raw('DROP TRIGGER product_count_insert ON products');
  await knex.raw('DROP FUNCTION product_count_track()');
  for (const index of [
    'inventory_in_stock_by_product',
    'inventory_in_stock_by_store',
    'products_category_price',
    'products_title_id',
    'products_created_at_id',
    'products_price_id',
    'products_description_trgm',
    'products_title_trgm',
  ]) {
    await knex.raw(`DROP INDEX ${index}`);
  }
}
