import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { createDatabaseIfMissing, startEmbeddedPostgres, type EmbeddedDatabase } from '../../core/embedded-postgres.ts';
import { dataDir } from '../../core/paths.ts';

// Where the test run's PostgreSQL and Redis are. Each run gets a database of its own, created
// here and dropped at the end, on DATABASE_URL's server when it is set (CI) or on an embedded
// server otherwise (a fresh machine). Redis keys get a per-run prefix for the same reason.

export interface TestEnvironment {
  databaseUrl: string;
  /** A real Redis when REDIS_URL is set; Redis-only tests need it. */
  redisUrl: string | undefined;
  redisKeyPrefix: string;
}

const runId = `${process.pid}_${randomBytes(3).toString('hex')}`;
const databaseName = `shop_test_${runId}`;
let embedded: EmbeddedDatabase | null = null;
let serverUrl: string | null = null;
let current: TestEnvironment | null = null;

export async function setUpEnvironment(): Promise<TestEnvironment> {
  if (process.env.CI && !process.env.REDIS_URL) {
    throw new Error('CI must run the Redis-backed tests: set REDIS_URL');
  }
  if (process.env.DATABASE_URL) {
    serverUrl = process.env.DATABASE_URL;
    await createDatabaseIfMissing(serverUrl, databaseName);
  } else {
    embedded = await startEmbeddedPostgres({
      dataDir: join(dataDir, 'test-postgres'),
      port: 0,
      database: databaseName,
      log: (message) => console.log(message),
    });
    serverUrl = embedded.serverUrl;
  }
  const url = new URL(serverUrl);
  url.pathname = `/${databaseName}`;
  current = { databaseUrl: url.toString(), redisUrl: process.env.REDIS_URL, redisKeyPrefix: `shop_test:${runId}:` };
  return current;
}

export function testEnvironment(): TestEnvironment {
  if (!current) throw new Error('the test environment is not set up (test/support/hooks.ts)');
  return current;
}

export async function tearDownEnvironment(): Promise<void> {
  if (serverUrl) {
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    // Only the database this run created is dropped.
    await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(databaseName)} WITH (FORCE)`);
    await client.end();
  }
  await embedded?.stop();
}
