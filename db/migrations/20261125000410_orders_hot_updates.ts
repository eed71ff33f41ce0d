import type { Knex } from 'knex';

// Deciding an order updates its row once (status, decided_at). PostgreSQL can do that in place
// (a HOT update: no new entry in any of the table's indexes) only when no indexed column changes
// and the row's page has room. orders_store_pending's predicate names `status`, so it made every
// decision a full update touching every index of the table; no query of the app uses it (workers
// find orders through their jobs). A fillfactor of 90 keeps room on each page for the decision.
export async function up(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS orders_store_pending');
  await knex.raw('ALTER TABLE orders SET (fillfactor = 90)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE orders RESET (fillfactor)');
  await knex.raw(`CREATE INDEX orders_store_pending ON orders (store_id, id) WHERE status = 'PENDING'`);
}
