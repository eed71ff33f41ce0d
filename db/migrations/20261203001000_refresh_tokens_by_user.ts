import type { Knex } from 'knex';

// A login deletes its user's sessions that have wholly expired (core/auth/refresh-tokens.ts), found
// by user; deleting a user cascades to its refresh tokens the same way. Both scanned the whole
// table without this index.
export async function up(knex: Knex): Promise<void> {
  await knex.raw('CREATE INDEX refresh_tokens_user_id ON refresh_tokens (user_id)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX refresh_tokens_user_id');
}
