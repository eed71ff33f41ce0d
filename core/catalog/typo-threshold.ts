// How similar (pg_trgm word_similarity) a title must be to the text in the search's typo-tolerant
// step. pg_trgm's indexable `<%` reads it from a setting, which every connection sets when it
// opens (core/db.ts), so the step needs no transaction of its own to set it.
export const typoSimilarityThreshold = 0.3;
