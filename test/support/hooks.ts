import { createDb } from '../../core/db.ts';
import { createLogger } from '../../core/logger.ts';
import { migrateToLatest } from '../../core/migrate.ts';
import { seedsDir } from '../../core/db.ts';
import { setUpEnvironment, tearDownEnvironment } from './environment.ts';

// Mocha root hooks: one migrated, seeded database for the whole run.
export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(180_000); // first run on a fresh machine initialises the embedded server
    const environment = await setUpEnvironment();
    const db = createDb(environment.databaseUrl);
    try {
      await migrateToLatest(db, createLogger('silent'));
      await db.seed.run({ directory: seedsDir, loadExtensions: ['.ts'] });
    } finally {
      await db.destroy();
    }
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await tearDownEnvironment();
  },
};
