import type { Db } from './db.ts';

// Runs hand-written SQL on knex's pool, as a named prepared statement when one plan suits every
// value of its parameters. A statement PostgreSQL has prepared on a connection is not parsed or
// planned again there: once its generic plan (made without the values) proves no dearer than
// re-planning (PostgreSQL's plan cache decides after five runs), each run skips the planner,
// which for the search's statements costs more than executing them on a small catalog.
//
// The generic plan is the trap: it is chosen on the estimates of typical values and then used
// for all. "category=X&ordering=newest" walks the created_at index and filters on the category,
// which is right for a category of 80,000 products in a million and takes 2 s for an unknown or
// tiny one (measured), where a plan for that value reads the category's few rows and sorts them.
// So only statements whose plan cannot turn on a value are prepared; the caller says which.

export interface Statement {
  text: string;
  values: unknown[];
  /**
   * Prepare the statement and keep its plan: one plan serves every value of the parameters, and
   * the text is one of the few run often (a name, once given, is kept by the process).
   */
  prepare: boolean;
}

/**
 * Statement texts named so far, per pool (a process has one; each test app has its own, as it
 * has its own connections); each connection prepares a name on first use.
 */
const namesByDb = new WeakMap<Db, Map<string, string>>();
/**
 * Every connection keeps each statement it prepared, with its plans (about 200 kB in PostgreSQL
 * for a search statement), until it closes; so only the first texts seen are named and later ones
 * run unnamed, planned every time. The shapes a client can combine are many, the ones in use few;
 * callers leave rare texts unprepared (search-statement.ts: deep pages) so they cannot use up names.
 */
const MAX_NAMED_STATEMENTS = 64;

function namesOf(db: Db): Map<string, string> {
  let names = namesByDb.get(db);
  if (names === undefined) namesByDb.set(db, (names = new Map()));
  return names;
}

export async function runStatement<Row>(db: Db, statement: Statement): Promise<Row[]> {
  const { text, values } = statement;
  const names = namesOf(db);
  let name = statement.prepare ? names.get(text) : undefined;
  if (name === undefined && statement.prepare && names.size < MAX_NAMED_STATEMENTS) {
    name = `prepared_${names.size + 1}`;
    names.set(text, name);
  }
  // knex's own event, so that whatever observes knex's queries (bench/search-plans.ts) sees these.
  db.emit('query', { sql: text, bindings: values, prepared: name !== undefined });
  const connection = await db.client.acquireConnection();
  try {
    return (await connection.query({ name, text, values })).rows;
  } finally {
    await db.client.releaseConnection(connection);
  }
}
