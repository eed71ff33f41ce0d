import type { Knex } from 'knex';

// Indexes for GET /api/search/suggest/ (core/catalog/suggest.ts), which asks two questions:
//
// 1. "Titles that start with q", best first. A b-tree on lower(title) in the C collation answers
//    `lower(title) COLLATE "C" ^@ q` as a range scan that is already in the order we return
//    (title, then id), so the query stops after 10 index entries however many titles match.
// 2. "Titles with a word that starts with q" (asked only when (1) found fewer than 10). A GIN
//    index on the title's words answers the prefix tsquery `'q':*` when the word is too rare to
//    turn up among the first products in id order (the primary key serves that scan). The
//    'simple' configuration lowercases but does not stem or drop stop words: a suggestion must
//    match what was typed.
//
// The expressions here must stay identical to the ones in suggest.ts, or the planner will not
// use the indexes.
export async function up(knex: Knex): Promise<void> {
  await knex.raw('CREATE INDEX products_title_prefix ON products ((lower(title) COLLATE "C"), id)');
  await knex.raw("CREATE INDEX products_title_words ON products USING gin (to_tsvector('simple', title))");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX products_title_words');
  await knex.raw('DROP INDEX products_title_prefix');
}
