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
    // The seed announces the new catalog to the Redis caches of its configuration's key prefix:
    // this run's, not a development server's that shares the Redis.
    const prefix = process.env.REDIS_KEY_PREFIX;
    process.env.REDIS_KEY_PREFIX = environment.redisKeyPrefix;
    try {
      await migrateToLatest(db, createLogger('silent'));
      await db.seed.run({ directory: seedsDir, loadExtensions: ['.ts'] });
    } finally {
      if (prefix === undefined) delete process.env.REDIS_KEY_PREFIX;
      else process.env.REDIS_KEY_PREFIX = prefix;
      await db.destroy();
    }
  },
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await tearDownEnvironment();
  },
};
