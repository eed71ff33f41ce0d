import type { Knex } from 'knex';

// Two fixes to the "in stock in any store" counts of migration 700, and a recount of them.
//
// 1. A product update (a rename is enough) moves its products' in-stock counts between
//    (category, price) pairs, reading product_stock_counts to know which products are in stock.
//    It read them before it locked the pairs, so a stock change crossing zero that was still
//    uncommitted then (an order turn holding the pair) was counted on the old snapshot, and its
//    committed change applied once more on top: the pair's in_stock stayed one off for good (or
//    the statement failed its check). The products trigger now locks its pairs first, old and new
//    in key order, and reads the counts only then, in statements of their own: a stock change
//    holding a pair has committed by then. Neither side takes a new kind of lock (the stock
//    change locks counts, then pairs; the product update its rows, then pairs), so no deadlock is
//    added; locking products from the stock change instead would have one with a transaction that
//    updates two products in the other order.
// 2. product_stock_counts referred to products ON DELETE CASCADE. A product with stock cannot be
//    deleted (inventory refers to it), except by one statement that also deletes its inventory,
//    where the cascade removed the count row before the triggers could count it out. Without the
//    cascade that one statement is refused; deleting the inventory first, then the product, works.
//
// Counts that drifted before this migration are made exact again: it recounts both, with writes
// to products and inventory held off meanwhile.

const FUNCTION = 'product_price_counts_track_with_stock()';
/** Where migration 700's function body first reads product_stock_counts; the pair lock goes before it. */
const FIRST_READ = "      IF TG_OP IN ('DELETE', 'UPDATE') THEN\n        UPDATE product_price_counts c SET n = c.n - gone.n";
const PAIR_LOCK = `      IF TG_OP = 'UPDATE' THEN
        PERFORM 1 FROM product_price_counts c
        WHERE (c.category_id, c.price) IN (SELECT category_id, price FROM old_rows UNION SELECT category_id, price FROM new_rows)
        ORDER BY c.category_id, c.price FOR UPDATE;
      ELSIF TG_OP = 'DELETE' THEN
        PERFORM 1 FROM product_price_counts c
        WHERE (c.category_id, c.price) IN (SELECT category_id, price FROM old_rows)
        ORDER BY c.category_id, c.price FOR UPDATE;
      END IF;
`;

/** Replaces the function with its own definition, edited: the body is kept in one place, migration 700. */
async function editFunction(knex: Knex, edit: (definition: string) => string): Promise<void> {
  const { rows } = await knex.raw<{ rows: { definition: string }[] }>(`SELECT pg_get_functiondef(?::regprocedure) AS definition`, [FUNCTION]);
  const definition = rows[0]!.definition;
  const edited = edit(definition);
  if (edited === definition) throw new Error(`${FUNCTION} is not the one migration 700 created; not changed`);
  // Through the driver directly: knex.raw would take the body's `?` characters, if any, for bindings.
  const connection = await knex.client.acquireConnection();
  try {
    await connection.query(edited);
  } finally {
    await knex.client.releaseConnection(connection);
  }
}

async function setCascade(knex: Knex, cascade: boolean): Promise<void> {
  await knex.raw(`
    ALTER TABLE product_stock_counts
      DROP CONSTRAINT product_stock_counts_product_id_fkey,
      ADD CONSTRAINT product_stock_counts_product_id_fkey FOREIGN KEY (product_id) REFERENCES products (id)${cascade ? ' ON DELETE CASCADE' : ''}`);
}

export async function up(knex: Knex): Promise<void> {
  await knex.raw('LOCK TABLE products, inventory IN SHARE ROW EXCLUSIVE MODE');
  await editFunction(knex, (definition) => definition.replace(FIRST_READ, PAIR_LOCK + FIRST_READ));
  await setCascade(knex, false);
  await knex.raw(`
    MERGE INTO product_stock_counts c
    USING (SELECT product_id, count(*)::int AS n FROM inventory WHERE quantity > 0 GROUP BY product_id) s ON s.product_id = c.product_id
    WHEN MATCHED AND c.stores_in_stock <> s.n THEN UPDATE SET stores_in_stock = s.n
    WHEN NOT MATCHED THEN INSERT (product_id, stores_in_stock) VALUES (s.product_id, s.n)`);
  await knex.raw('DELETE FROM product_stock_counts c WHERE NOT EXISTS (SELECT FROM inventory i WHERE i.product_id = c.product_id AND i.quantity > 0)');
  await knex.raw(`
    UPDATE product_price_counts c SET in_stock = s.in_stock
    FROM (SELECT p.category_id, p.price, count(s.product_id) AS in_stock FROM products p LEFT JOIN product_stock_counts s ON s.product_id = p.id GROUP BY 1, 2) s
    WHERE c.category_id = s.category_id AND c.price = s.price AND c.in_stock <> s.in_stock`);
}

export async function down(knex: Knex): Promise<void> {
  await setCascade(knex, true);
  await editFunction(knex, (definition) => definition.replace(PAIR_LOCK, ''));
}
