import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // An order is placed PENDING (its decision job commits in the same transaction) and decided
  // once by a worker: CONFIRMED (stock taken) or REJECTED (nothing taken). CANCELLED comes from
  // PENDING or CONFIRMED (stock returned).
  await knex.schema.createTable('orders', (t) => {
    t.increments('id');
    t.integer('user_id').notNullable().references('users.id');
    t.integer('store_id').notNullable().references('stores.id');
    t.text('status').notNullable().defaultTo('PENDING');
    // {reason, items: [{product_id, requested, available}]} when REJECTED.
    t.jsonb('rejection');
    // A client's Idempotency-Key and the sha256 of the canonical body it came with: a repeat with
    // the same key and body is the same order, a different body under that key is a conflict.
    t.string('idempotency_key', 255);
    t.specificType('request_fingerprint', 'char(64)');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('decided_at', { useTz: true });
    t.timestamp('cancelled_at', { useTz: true });
    // NULL keys never collide, so orders without a key are unconstrained.
    t.unique(['user_id', 'idempotency_key'], { indexName: 'orders_user_idempotency_key_unique' });
  });
  await knex.raw(`ALTER TABLE orders ADD CONSTRAINT orders_status_check
    CHECK (status IN ('PENDING', 'CONFIRMED', 'REJECTED', 'CANCELLED'))`);
  // "My orders", newest first.
  await knex.raw('CREATE INDEX orders_user_newest ON orders (user_id, created_at DESC, id DESC)');
  // A store's pending orders, oldest first; small because decided orders leave it.
  await knex.raw(`CREATE INDEX orders_store_pending ON orders (store_id, id) WHERE status = 'PENDING'`);

  await knex.schema.createTable('order_lines', (t) => {
    t.increments('id');
    t.integer('order_id').notNullable().references('orders.id').onDelete('CASCADE');
    t.integer('product_id').notNullable().references('products.id');
    t.integer('quantity_requested').notNullable();
    // The product's price when the order was placed; later price changes do not touch it.
    t.decimal('unit_price', 12, 2).notNullable();
    t.unique(['order_id', 'product_id']);
  });
  await knex.raw(`ALTER TABLE order_lines ADD CONSTRAINT order_lines_quantity_check
    CHECK (quantity_requested BETWEEN 1 AND 1000)`);

  // Every change of a store's stock, one row per product and cause, in the order it happened:
  // the stock of (store, product) is the sum of its deltas, and quantity_after is the running total.
  await knex.schema.createTable('stock_ledger', (t) => {
    t.bigIncrements('id');
    t.integer('store_id').notNullable().references('stores.id');
    t.integer('product_id').notNullable().references('products.id');
    t.integer('delta').notNullable();
    t.integer('quantity_after').notNullable();
    // 'order_confirmed', 'order_cancelled', or a staff reason.
    t.text('reason').notNullable();
    t.integer('order_id').references('orders.id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['store_id', 'product_id', 'id'], 'stock_ledger_store_product');
  });
  await knex.raw('ALTER TABLE stock_ledger ADD CONSTRAINT stock_ledger_delta_check CHECK (delta <> 0)');
  await knex.raw('ALTER TABLE stock_ledger ADD CONSTRAINT stock_ledger_quantity_after_check CHECK (quantity_after >= 0)');
  // The stock movements of one order (and the foreign key's lookups).
  await knex.raw('CREATE INDEX stock_ledger_order ON stock_ledger (order_id) WHERE order_id IS NOT NULL');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('stock_ledger');
  await knex.schema.dropTable('order_lines');
  await knex.schema.dropTable('orders');
}
