import type { Db } from '../db.ts';
import type { Services } from '../services.ts';
import { cachedForCatalog } from './catalog-cache.ts';
import { catalogRead } from './catalog-reads.ts';

// Title suggestions for a search box, at most 10: titles that start with what was typed first
// (alphabetical, then by id), then titles with a word that starts with it (by id).
// Answers are cached per normalized query and catalog version (catalog-cache.ts).

export interface Suggestion {
  id: number;
  title: string;
}

export const SUGGESTION_LIMIT = 10;
// Only a safety net: product changes invalidate through the catalog version, not through expiry.
const CACHE_TTL_SECONDS = 600;

/** Same answer for "Apple", " apple " and "APPLE  ": one cache entry and one query for all. */
export function normalizeQuery(q: string): string {
  return q.trim().replace(/\s+/g, ' ').toLowerCase();
}

/** Suggestions for `q` (already validated: 1–64 characters after trimming), cached per catalog version. */
export function suggestTitles(services: Services, q: string): Promise<Suggestion[]> {
  const query = normalizeQuery(q);
  return cachedForCatalog(services, `suggest:${query}`, CACHE_TTL_SECONDS, () => catalogRead(services.db, () => findSuggestions(services.db, query)));
}

// These expressions must match the indexes in db/migrations/20261125000310_suggest_index.ts.
const TITLE_KEY = 'lower(title) COLLATE "C"';
// `^@` (starts with) takes q literally: unlike LIKE there are no wildcards to escape.
const STARTS_WITH = `${TITLE_KEY} ^@ lower(:query)`;
// Every word of q as a prefix, in order: "espresso mach" finds "Espresso Machine 2000". A word
// typed with punctuation must also appear as typed (see punctuatedWordPatterns).
const WORD_PREFIX = `to_tsvector('simple', title) @@ to_tsquery('simple', :phrase)`;
const AS_TYPED = `lower(title) ~ ALL(CAST(:patterns AS text[]))`;

/**
 * q as the tsquery text `'espresso':* <-> 'mach':*`, or null when q has no words. Each word typed
 * (split at spaces) is one quoted operand, so PostgreSQL splits it into parts exactly as it split
 * the title: "wi-fi" becomes ('wi-fi':* <-> 'wi':* <-> 'fi':*), matching the title's 'wi-fi', 'wi'
 * and 'fi' at consecutive positions, and "wi-f" the same way. Split here into letters and digits
 * instead ('wi':* <-> 'fi':*), the parts would not follow the word before them, which is followed
 * by 'wi-fi'. Inside quotes only ' and \ are special (doubled and escaped below); & | ! : * ( ) <->
 * are text that the parser drops as it drops them from titles.
 */
function phrasePrefixQuery(query: string): string | null {
  const words = query.split(' ').filter((word) => /[\p{L}\p{N}]/u.test(word));
  if (words.length === 0) return null;
  return words.map((word) => `'${word.replace(/\\/g, '\\\\').replace(/'/g, "''")}':*`).join(' <-> ');
}

/**
 * A regular expression for each word of q that carries punctuation ("c++", "qzvx-p", "o'b"): the
 * tsquery keeps only its letters and digits ('c':*), which alone would suggest every title with a
 * word starting with c; the word must also start a title word (or the title) as it was typed.
 */
function punctuatedWordPatterns(query: string): string[] {
  return query
    .split(' ')
    .filter((word) => /[^\p{L}\p{N}]/u.test(word))
    .map((word) => `(^|[^[:alnum:]])${word.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&')}`);
}

// How many products (lowest ids first) the word search tests one by one before it asks the GIN
// index for every match instead; see wordPrefixMatches.
const WORD_SCAN_BUDGET = 1000;

/** The best `SUGGESTION_LIMIT` products for the normalized query, straight from the database. */
export async function findSuggestions(db: Db, query: string, wordScanBudget = WORD_SCAN_BUDGET): Promise<Suggestion[]> {
  // Walks the title index in order and stops after 10 entries, however many titles match.
  const titleMatches: Suggestion[] = (
    await db.raw(`SELECT id, title FROM products WHERE ${STARTS_WITH} ORDER BY ${TITLE_KEY}, id LIMIT :limit`, {
      query,
      limit: SUGGESTION_LIMIT,
    })
  ).rows;
  const phrase = phrasePrefixQuery(query);
  if (titleMatches.length === SUGGESTION_LIMIT || !phrase) return titleMatches;
  const patterns = punctuatedWordPatterns(query);
  const wordMatches = await wordPrefixMatches(db, { query, phrase, patterns, limit: SUGGESTION_LIMIT - titleMatches.length }, wordScanBudget);
  return [...titleMatches, ...wordMatches];
}

/**
 * Products with a word that starts with q (and that do not start with q), by id. Both steps give
 * the same answer; they differ in cost, which on a million products is what matters:
 * 1. A common word is found among the first products: test the first `budget` products in id
 *    order one by one, which stops as soon as `limit` match (a few rows for a word in 1 title
 *    of 10). Ids, unlike titles, do not cluster by product line, so common words show up early.
 * 2. Otherwise the word is rare (or only in later products): collect every match from the GIN
 *    index, at a cost in proportion to how many there are, and keep the lowest ids.
 *    MATERIALIZED stops the planner from walking the whole id index instead, testing each row,
 *    which it may pick on a bad estimate and which takes seconds on a million products.
 */
async function wordPrefixMatches(
  db: Db,
  bindings: { query: string; phrase: string; patterns: string[]; limit: number },
  budget: number,
): Promise<Suggestion[]> {
  // Without punctuated words the test is left out, not run against an empty list: it would still
  // lower every candidate's title.
  const wordPrefix = bindings.patterns.length > 0 ? `${WORD_PREFIX} AND ${AS_TYPED}` : WORD_PREFIX;
  const early: Suggestion[] = (
    await db.raw(
      `SELECT id, title FROM (SELECT id, title FROM products ORDER BY id LIMIT :budget) AS first_products
       WHERE ${wordPrefix} AND NOT (${STARTS_WITH})
       ORDER BY id LIMIT :limit`,
      { ...bindings, budget },
    )
  ).rows;
  if (early.length === bindings.limit) return early;
  return (
    await db.raw(
      `WITH matches AS MATERIALIZED (SELECT id, title FROM products WHERE ${wordPrefix})
       SELECT id, title FROM matches WHERE NOT (${STARTS_WITH})
       ORDER BY id LIMIT :limit`,
      bindings,
    )
  ).rows;
}
