import type { Redis } from 'ioredis';
import type { PgBoss } from 'pg-boss';
import type { Config } from './config.ts';
import { createDb, type Db } from './db.ts';
import { developmentSecret } from './dev-secret.ts';
import type { Logger } from './logger.ts';
import { join } from 'node:path';
import { dataDir } from './paths.ts';
import { OrderEvents } from './orders/order-events.ts';
import { PlacementBatcher } from './orders/placement-batcher.ts';
import { createBoss, createQueues } from './queue.ts';
import { connectRedis } from './redis.ts';

// The long-lived connections a process needs, opened once and closed in reverse order.
export interface Services {
  config: Config;
  log: Logger;
  db: Db;
  redis: Redis | null;
  jwtSecret: string;
  /** pg-boss, started, every queue created. Web processes send jobs with it; workers run them. */
  boss: PgBoss;
  /** Wakes long-polling requests when their order is decided (LISTEN; connects on first use). */
  orderEvents: OrderEvents;
  /** Places orders, several per transaction under load (core/orders/placement-batcher.ts). */
  placements: PlacementBatcher;
}

/** Most orders per placement transaction: bounds one statement's size (50 lines each at most). */
const PLACEMENT_BATCH_MAX = 200;

export interface ServiceOptions {
  /** This process runs job workers (workers/main.ts, `npm start`); see core/queue.ts. */
  runsWorkers?: boolean;
}

export interface OpenServices extends Services {
  close(): Promise<void>;
}

export async function openServices(config: Config, log: Logger, databaseUrl: string, options: ServiceOptions = {}): Promise<OpenServices> {
  const db = createDb(databaseUrl, config.DATABASE_POOL_MAX, log);
  const redis = connectRedis(config.REDIS_URL, config.REDIS_KEY_PREFIX, log);
  const boss = createBoss(databaseUrl, log, { runsWorkers: options.runsWorkers ?? false, turnStores: config.ORDER_TURN_STORES });
  const orderEvents = new OrderEvents(databaseUrl, log);
  try {
    await db.raw('SELECT 1');
    await redis?.connect();
    await boss.start();
    await createQueues(boss);
  } catch (error) {
    await boss.stop({ graceful: false }).catch(() => {});
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
    boss,
    orderEvents,
    placements: new PlacementBatcher({ db, boss }, log, { inFlight: config.ORDER_PLACEMENT_TRANSACTIONS, maxBatch: PLACEMENT_BATCH_MAX }),
    async close() {
      // Waiting long-polls answer with the current state instead of holding the shutdown.
      await orderEvents.close();
      // Running jobs finish first (their work uses db); what is still running after the
      // timeout is failed and retried by another worker.
      await boss.stop({ graceful: true, timeout: 30_000 });
      await redis?.quit().catch(() => redis.disconnect());
      await db.destroy();
    },
  };
}
