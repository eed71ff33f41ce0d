import type { Knex } from 'knex';

// Search takes a category by name case-insensitively (category=phones is Phones), so two names
// that differ only in case ("Phones", "phones") would name two categories at once: the search's
// category lookup then returned two rows where it expects one, a 500. A name is now unique
// ignoring case, as usernames are; the index also serves that lookup. (The migration fails, and
// says which name, if a database already has such a pair: which of them is meant is for an
// operator to decide.)
export async function up(knex: Knex): Promise<void> {
  await knex.raw('CREATE UNIQUE INDEX categories_name_lower_unique ON categories (lower(name))');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX categories_name_lower_unique');
}
