import type { Redis } from 'ioredis';
import type { Config } from './config.ts';
import { createDb, type Db } from './db.ts';
import { developmentSecret } from './dev-secret.ts';
import type { Logger } from './logger.ts';
import { join } from 'node:path';
import { dataDir } from './paths.ts';
import { connectRedis } from './redis.ts';

// The long-lived connections a process needs, opened once and closed in reverse order.
export interface Services {
  config: Config;
  log: Logger;
  db: Db;
  redis: Redis | null;
  jwtSecret: string;
}

export interface OpenServices extends Services {
  close(): Promise<void>;
}

export async function openServices(config: Config, log: Logger, databaseUrl: string): Promise<OpenServices> {
  const db = createDb(databaseUrl, config.DATABASE_POOL_MAX);
  const redis = connectRedis(config.REDIS_URL, config.REDIS_KEY_PREFIX, log);
  try {
    await db.raw('SELECT 1');
    await redis?.connect();
  } catch (error) {
    await db.destroy();
    redis?.disconnect();
    throw error;
  }
  const jwtSecret = config.JWT_SECRET ?? developmentSecret(join(dataDir, 'jwt-secret'));
  return {
    config,
    log,
    db,
    redis,
    jwtSecret,
    async close() {
      await redis?.quit().catch(() => redis.disconnect());
      await db.destroy();
    },
  };
}
