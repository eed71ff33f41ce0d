import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw('CREATE EXTENSION IF NOT EXISTS pg_trgm');

  await knex.schema.createTable('categories', (t) => {
    t.increments('id');
    t.string('name', 100).notNullable().unique();
  });

  await knex.schema.createTable('products', (t) => {
    t.increments('id');
    t.string('title', 200).notNullable();
    t.text('description').notNullable().defaultTo('');
    t.decimal('price', 12, 2).notNullable();
    t.integer('category_id').notNullable().references('categories.id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw('ALTER TABLE products ADD CONSTRAINT products_price_non_negative CHECK (price >= 0)');

  await knex.schema.createTable('stores', (t) => {
    t.increments('id');
    t.string('name', 150).notNullable().unique();
    t.string('city', 100).notNullable().defaultTo('');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('inventory', (t) => {
    t.increments('id');
    t.integer('store_id').notNullable().references('stores.id');
    t.integer('product_id').notNullable().references('products.id');
    t.integer('quantity').notNullable().defaultTo(0);
    t.unique(['store_id', 'product_id']); // also the index for "this store's inventory"
  });
  await knex.raw('ALTER TABLE inventory ADD CONSTRAINT inventory_quantity_non_negative CHECK (quantity >= 0)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('inventory');
  await knex.schema.dropTable('stores');
  await knex.schema.dropTable('products');
  await knex.schema.dropTable('categories');
}
