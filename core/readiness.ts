import { ORDERS_QUEUE } from './queue.ts';
import type { Services } from './services.ts';

type Check = 'ok' | 'down' | 'not configured';

export interface Readiness {
  status: 'ok' | 'degraded';
  checks: Record<string, Check>;
}

const TIMEOUT_MS = 2000;

// Each dependency is probed with a short timeout so a hung dependency makes /readyz answer
// "degraded" quickly instead of hanging the load balancer's probe.
export async function checkReadiness(services: Services): Promise<Readiness> {
  const probes: Record<string, (() => Promise<unknown>) | null> = {
    database: () => services.db.raw('SELECT 1'),
    // pg-boss has its own pool and schema: the orders queue must be readable through it.
    queue: async () => {
      if (!(await services.boss.getQueue(ORDERS_QUEUE))) throw new Error('orders queue missing');
    },
    redis: services.redis ? () => services.redis!.ping() : null,
  };
  const entries = await Promise.all(
    Object.entries(probes).map(async ([name, probe]): Promise<[string, Check]> => {
      if (!probe) return [name, 'not configured'];
      try {
        await withTimeout(probe(), TIMEOUT_MS);
        return [name, 'ok'];
      } catch {
        return [name, 'down'];
      }
    }),
  );
  const checks = Object.fromEntries(entries);
  return { status: entries.some(([, check]) => check === 'down') ? 'degraded' : 'ok', checks };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
