import type { Db } from './db.ts';

// Runs hand-written SQL as named prepared statements on knex's pool. A statement PostgreSQL has
// prepared on a connection is not parsed or planned again there: once its plan proves no worse
// than re-planning (PostgreSQL's plan cache decides after five runs), each run skips the planner,
// which for the search's statements costs more than executing them on a small catalog.

/** Statement texts named so far, process-wide; each connection prepares a name on first use. */
const names = new Map<string, string>();
/**
 * Every connection keeps each statement it prepared, with its plans (about 200 kB in PostgreSQL
 * for a search statement), until it closes; so only the first texts seen are named and later ones
 * run unnamed, planned every time. The shapes a client can combine are many, the ones in use few.
 */
const MAX_NAMED_STATEMENTS = 64;

export async function preparedQuery<Row>(db: Db, text: string, values: unknown[]): Promise<Row[]> {
  let name = names.get(text);
  if (name === undefined && names.size < MAX_NAMED_STATEMENTS) {
    name = `prepared_${names.size + 1}`;
    names.set(text, name);
  }
  // knex's own event, so that whatever observes knex's queries (bench/search-plans.ts) sees these.
  db.emit('query', { sql: text, bindings: values });
  const connection = await db.client.acquireConnection();
  try {
    return (await connection.query({ name, text, values })).rows;
  } finally {
    await db.client.releaseConnection(connection);
  }
}
