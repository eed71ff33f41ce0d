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
  /** Prepare the statement and keep its plan: one plan serves every value of the parameters. */
  prepare: boolean;
  /**
   * The text is one of very many a client can ask for (search-statement.ts: a deep page): it is
   * named only from a small share of the names, so that such texts cannot use up the names the
   * common ones need.
   */
  rare: boolean;
}

interface Names {
  /** Statement texts named so far, and their names. */
  byText: Map<string, string>;
  /** How many of them are rare. */
  rare: number;
}

/**
 * The names given so far, per pool (a process has one; each test app has its own, as it has its
 * own connections); each connection prepares a name on first use.
 */
const namesByDb = new WeakMap<Db, Names>();
/**
 * Every connection keeps each statement it prepared, with its plans (about 200 kB in PostgreSQL
 * for a search statement), until it closes; so only the first texts seen are named and later ones
 * run unnamed, planned every time. The shapes a client can combine are many, the ones in use few.
 * A crawler asking for page 1, 2, ... 64 of one search took every name, and then no search was
 * prepared any more: rare texts get at most MAX_RARE of the names.
 */
const MAX_NAMED_STATEMENTS = 64;
const MAX_RARE = 16;

function namesOf(db: Db): Names {
  let names = namesByDb.get(db);
  if (names === undefined) namesByDb.set(db, (names = { byText: new Map(), rare: 0 }));
  return names;
}

/** The statement's name: the one it was given, a new one while names are left for it, else none. */
function nameFor(db: Db, statement: Statement): string | undefined {
  if (!statement.prepare) return undefined;
  const names = namesOf(db);
  const given = names.byText.get(statement.text);
  if (given !== undefined) return given;
  if (names.byText.size >= MAX_NAMED_STATEMENTS || (statement.rare && names.rare >= MAX_RARE)) return undefined;
  const name = `prepared_${names.byText.size + 1}`;
  names.byText.set(statement.text, name);
  if (statement.rare) names.rare += 1;
  return name;
}

export async function runStatement<Row>(db: Db, statement: Statement): Promise<Row[]> {
  const { text, values } = statement;
  const name = nameFor(db, statement);
  // knex's own event, so that whatever observes knex's queries (bench/search-plans.ts) sees these.
  db.emit('query', { sql: text, bindings: values, prepared: name !== undefined });
  const connection = await db.client.acquireConnection();
  try {
    return (await connection.query({ name, text, values })).rows;
  } finally {
    await db.client.releaseConnection(connection);
  }
}
