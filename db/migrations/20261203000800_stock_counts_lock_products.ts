import type { Knex } from 'knex';

// Two fixes to the "in stock in any store" counts of migration 700, and a recount of them.
//
// 1. A stock change that crosses zero moves its product's pair (product_price_counts.in_stock),
//    which it finds through products. It read the product row without a lock, so a concurrent
//    product update (a rename is enough) whose trigger had read product_stock_counts before the
//    stock change committed applied the same product's move a second time: the pair's in_stock
//    stayed one off (or the statement failed its check). The stock change now takes the crossing
//    products' rows FOR SHARE, in id order, before their pairs: a product update waits for it, or
//    it for the update, and each then reads the other's committed result. Lock order stays
//    products before pairs, as the products trigger takes them, so no deadlock is added.
// 2. product_stock_counts referred to products ON DELETE CASCADE. A product with stock cannot be
//    deleted (inventory refers to it), except by one statement that also deletes its inventory,
//    where the cascade removed the count row before the triggers could count it out. Without the
//    cascade that one statement is refused; deleting the inventory first, then the product, works.
//
// Counts that drifted before this migration are made exact again: it recounts both, with writes
// to products and inventory held off meanwhile (as the other counting migrations should have).

const FUNCTION = 'product_stock_counts_add(int[], int[])';
/** Where the pairs are locked in migration 700's function body; the product lock goes before it. */
const PAIR_LOCK = '      PERFORM 1 FROM product_price_counts c\n';
const PRODUCT_LOCK = '      PERFORM 1 FROM products WHERE id = ANY(crossed) ORDER BY id FOR SHARE;\n';

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
  await editFunction(knex, (definition) => definition.replace(PAIR_LOCK, PRODUCT_LOCK + PAIR_LOCK));
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
  await editFunction(knex, (definition) => definition.replace(PRODUCT_LOCK, ''));
}
