import type { Knex } from 'knex';

// How many products each store has in stock (quantity > 0), kept exact by statement-level
// triggers on inventory, so that the exact count of "store X, in stock" is one row instead of
// every entry of the store's partial index: 68,603 entries cost 3.4 ms of PostgreSQL per request
// on a million products, where the page itself costs 0.1 ms.
//
// Inventory is the order path's hottest table: every order turn updates its stock rows in one
// statement. The trigger runs once per statement, nets each store's changes, and writes only
// when a row crossed zero (sold out, or restocked), which few turns do. Order turns never wait on
// each other for a counter: a store's orders are decided one turn at a time, and a turn holds
// the store's stock rows (locked before its update) whenever it writes the store's counter.
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE store_stock_counts (
      store_id integer PRIMARY KEY REFERENCES stores (id) ON DELETE CASCADE,
      in_stock bigint NOT NULL CHECK (in_stock >= 0)
    )`);
  await knex.raw(`
    INSERT INTO store_stock_counts (store_id, in_stock)
    SELECT store_id, count(*) FROM inventory WHERE quantity > 0 GROUP BY store_id`);
  await knex.raw(`
    CREATE FUNCTION store_stock_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'TRUNCATE' THEN -- also when it cascades from stores or products
        DELETE FROM store_stock_counts;
      ELSIF TG_OP = 'INSERT' THEN
        PERFORM store_stock_counts_add(ARRAY(SELECT store_id FROM new_rows WHERE quantity > 0), ARRAY[]::int[]);
      ELSIF TG_OP = 'UPDATE' THEN
        PERFORM store_stock_counts_add(
          ARRAY(SELECT store_id FROM new_rows WHERE quantity > 0),
          ARRAY(SELECT store_id FROM old_rows WHERE quantity > 0));
      ELSE
        PERFORM store_stock_counts_add(ARRAY[]::int[], ARRAY(SELECT store_id FROM old_rows WHERE quantity > 0));
      END IF;
      RETURN NULL;
    END $$`);
  // One store id per row in stock after the statement (gained) and before it (lost); a store
  // whose rows only changed quantity nets to zero and is not written. A store that lost rows has
  // its counter already (an INSERT's proposed row would fail the CHECK before ON CONFLICT).
  await knex.raw(`
    CREATE FUNCTION store_stock_counts_add(gained int[], lost int[]) RETURNS void LANGUAGE sql AS $$
      WITH net AS (
        SELECT store_id, sum(change) AS change
        FROM (SELECT unnest(gained) AS store_id, 1 AS change UNION ALL SELECT unnest(lost), -1) AS changes
        GROUP BY store_id
        HAVING sum(change) <> 0
      ), lost AS (
        UPDATE store_stock_counts c SET in_stock = c.in_stock + net.change
        FROM net WHERE c.store_id = net.store_id AND net.change < 0
      )
      INSERT INTO store_stock_counts AS c (store_id, in_stock)
      SELECT store_id, change FROM net WHERE change > 0 ORDER BY store_id
      ON CONFLICT (store_id) DO UPDATE SET in_stock = c.in_stock + EXCLUDED.in_stock
    $$`);
  await knex.raw(`CREATE TRIGGER store_stock_counts_insert AFTER INSERT ON inventory
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION store_stock_counts_track()`);
  await knex.raw(`CREATE TRIGGER store_stock_counts_update AFTER UPDATE ON inventory
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION store_stock_counts_track()`);
  await knex.raw(`CREATE TRIGGER store_stock_counts_delete AFTER DELETE ON inventory
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION store_stock_counts_track()`);
  await knex.raw(`CREATE TRIGGER store_stock_counts_truncate AFTER TRUNCATE ON inventory
    FOR EACH STATEMENT EXECUTE FUNCTION store_stock_counts_track()`);
}

export async function down(knex: Knex): Promise<void> {
  for (const trigger of ['truncate', 'delete', 'update', 'insert']) {
    await knex.raw(`DROP TRIGGER store_stock_counts_${trigger} ON inventory`);
  }
  await knex.raw('DROP FUNCTION store_stock_counts_track()');
  await knex.raw('DROP FUNCTION store_stock_counts_add(int[], int[])');
  await knex.raw('DROP TABLE store_stock_counts');
}
