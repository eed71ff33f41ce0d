import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { typoSimilarityThreshold } from './catalog/typo-threshold.ts';
import type { Logger } from './logger.ts';

// PostgreSQL returns bigint (COUNT, SUM, bigserial) as strings because they may exceed 2^53.
// Our counts and ids stay far below that, and JSON clients expect numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number.parseInt(value, 10));
// numeric stays a string on purpose: money is a decimal string ("49999.00"), never a float.

export type Db = Knex;

/**
 * Settings of every session, sent when a connection opens: the threshold of pg_trgm's `<%` for
 * the search's typo step; and no JIT compilation, which PostgreSQL starts for any plan estimated
 * above jit_above_cost, even when most of that estimate is a branch that will not run (130 ms
 * compiling a 6 ms search).
 */
export const sessionOptions = `-c pg_trgm.word_similarity_threshold=${typoSimilarityThreshold} -c jit=off`;

/**
 * knex over node-postgres. With `log`, knex's own warnings (a pooled connection that broke, one
 * that could not be opened) go to the process's structured log instead of plain console lines.
 */
export function createDb(connectionString: string, poolMax = 10, log?: Logger): Db {
  return knexFactory({
    client: 'pg',
    connection: { connectionString, application_name: 'shop', options: sessionOptions },
    pool: { min: 0, max: poolMax },
    migrations: { directory: migrationsDir, loadExtensions: ['.ts'] },
    ...(log ? { log: knexLog(log) } : {}),
  });
}

function knexLog(log: Logger): Knex.Logger {
  const child = log.child({ component: 'knex' });
  return {
    warn: (message: unknown) => child.warn(String(message)),
    error: (message: unknown) => child.error(String(message)),
    deprecate: (method: string, alternative: string) => child.warn(`knex: ${method} is deprecated, use ${alternative}`),
    debug: (message: unknown) => child.debug(String(message)),
  };
}

export const migrationsDir = new URL('../db/migrations', import.meta.url).pathname;
export const seedsDir = new URL('../db/seeds', import.meta.url).pathname;
