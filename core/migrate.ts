import type { Db } from './db.ts';
import { migrationsDir, seedsDir } from './db.ts';
import type { Logger } from './logger.ts';

export async function migrateToLatest(db: Db, log: Logger): Promise<void> {
  const [, applied] = (await db.migrate.latest({ directory: migrationsDir, loadExtensions: ['.ts'] })) as [number, string[]];
  if (applied.length > 0) log.info({ migrations: applied }, 'applied migrations');
}

/** Development convenience: an empty catalog gets the default seed, a seeded one is left alone. */
export async function seedIfEmpty(db: Db, log: Logger): Promise<void> {
  const row = await db('products').first(db.raw('1 AS present'));
  if (row) return;
  log.info('empty database: loading the default seed');
  await db.seed.run({ directory: seedsDir, loadExtensions: ['.ts'] });
}
