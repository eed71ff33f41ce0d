import pLimit, { type LimitFunction } from 'p-limit';
import type { Db } from '../db.ts';
import { unavailable } from '../problems.ts';

// Catalog reads (search, suggestions, stores and inventory) are public, need no account, and
// some cost seconds on a large catalog (a popular word's every match is scored). A burst of
// them, from one client varying a page number, would hold every pooled connection, and order
// placements, long-poll reads and logins would queue behind them. So a process runs at most
// pool size - RESERVED_CONNECTIONS catalog reads at once; the rest wait here, first come first
// served, and the reserved connections stay free for everything else.
const RESERVED_CONNECTIONS = 4;
// Beyond this many waiting, a read is refused at once (503 with Retry-After) rather than queued
// without bound: each waiting one holds its request, and those behind a slow burst would wait
// for the whole burst. A hundred is over three times what the benchmark's 32 clients queue.
export const MOST_WAITING_CATALOG_READS = 100;

const limits = new WeakMap<Db, LimitFunction>();

/** Runs `read` on `db` once fewer than its share of the pool are busy with catalog reads. */
export function catalogRead<T>(db: Db, read: () => Promise<T>): Promise<T> {
  let limit = limits.get(db);
  if (!limit) {
    const poolMax = (db.client.config as { pool?: { max?: number } }).pool?.max ?? 10;
    limits.set(db, (limit = pLimit(Math.max(1, poolMax - RESERVED_CONNECTIONS))));
  }
  if (limit.pendingCount >= MOST_WAITING_CATALOG_READS) throw unavailable('The catalog is busier than it can answer right now; try again shortly.', 1);
  return limit(read);
}
