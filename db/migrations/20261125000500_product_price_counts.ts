import type { Knex } from 'knex';

// How many products each (category, price) pair has, kept exact by statement-level triggers on
// products, so that the exact count of "category X between two prices" (or of a price range, or
// of a category) sums a few hundred rows instead of reading every matching index entry: 85,711
// entries cost 3-6 ms of PostgreSQL per request on a million products, and the page itself
// costs 0.1 ms. Prices cluster (a catalog has far fewer prices than products: 625 pairs for the
// million-product seed), and in the worst case, every product its own price, the table is no
// bigger than the (category_id, price, id) index the count read before.
//
// Only products are watched: stock filters still count through inventory's own indexes (nothing
// here writes on the order path). Writers of products update the pairs they touch; catalog edits
// by staff are few and small, so that waiting on a pair costs nothing that matters.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE product_price_counts (
      category_id integer NOT NULL,
      price numeric(12, 2) NOT NULL,
      n bigint NOT NULL CHECK (n >= 0),
      PRIMARY KEY (category_id, price)
    )`);
  await knex.raw(`
    INSERT INTO product_price_counts (category_id, price, n)
    SELECT category_id, price, count(*) FROM products GROUP BY category_id, price`);
  await knex.raw(`
    CREATE FUNCTION product_price_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'TRUNCATE' THEN -- also when it cascades from another table
        DELETE FROM product_price_counts;
        RETURN NULL;
      END IF;
      IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE product_price_counts c SET n = c.n - gone.n
        FROM (SELECT category_id, price, count(*) AS n FROM old_rows GROUP BY 1, 2) gone
        WHERE c.category_id = gone.category_id AND c.price = gone.price;
      END IF;
      IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO product_price_counts AS c (category_id, price, n)
        SELECT category_id, price, count(*) FROM new_rows GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (category_id, price) DO UPDATE SET n = c.n + EXCLUDED.n;
      END IF;
      IF TG_OP IN ('DELETE', 'UPDATE') THEN
        DELETE FROM product_price_counts c USING (SELECT DISTINCT category_id, price FROM old_rows) gone
        WHERE c.category_id = gone.category_id AND c.price = gone.price AND c.n = 0;
      END IF;
      RETURN NULL;
    END $$`);
  await knex.raw(`CREATE TRIGGER product_price_counts_insert AFTER INSERT ON products
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION product_price_counts_track()`);
  await knex.raw(`CREATE TRIGGER product_price_counts_update AFTER UPDATE ON products
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION product_price_counts_track()`);
  await knex.raw(`CREATE TRIGGER product_price_counts_delete AFTER DELETE ON products
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION product_price_counts_track()`);
  await knex.raw(`CREATE TRIGGER product_price_counts_truncate AFTER TRUNCATE ON products
    FOR EACH STATEMENT EXECUTE FUNCTION product_price_counts_track()`);
}

export async function down(knex: Knex): Promise<void> {
  for (const trigger of ['truncate', 'delete', 'update', 'insert']) {
    await knex.raw(`DROP TRIGGER product_price_counts_${trigger} ON products`);
  }
  await knex.raw('DROP FUNCTION product_price_counts_track()');
  await knex.raw('DROP TABLE product_price_counts');
}
