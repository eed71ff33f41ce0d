import { isDatabaseUnreachable } from '../db-errors.ts';
import type { Logger } from '../logger.ts';
import { recordPlacementBatch } from './metrics.ts';
import { explainUnplaced, placeOrder, placeOrders, type PlaceDeps, type Placed, type Placement } from './place-order.ts';
import { toOrderView } from './read-orders.ts';

// Group commit for placements. Under load, a web process receives orders faster than it can
// commit them one transaction at a time (each commit is several round trips and a WAL flush). The
// batcher lets orders that arrive while earlier transactions are in flight wait, and places them
// together in the next transaction: one insert statement, one job insert, one commit for all.
// Nobody waits for a timer: a lone order starts its transaction at once, and batches grow only
// as fast as orders queue up behind busy transactions. Each order is still answered only once
// its own transaction has committed.

interface Waiting {
  placement: Placement;
  resolve: (placed: Placed) => void;
  reject: (error: unknown) => void;
}

export interface BatcherOptions {
  /** Placement transactions running at once; further orders wait and go in together. */
  inFlight: number;
  /** Most orders in one transaction (bounds the statement and the time a batch holds locks). */
  maxBatch: number;
}

export class PlacementBatcher {
  readonly #deps: PlaceDeps;
  readonly #log: Logger;
  readonly #options: BatcherOptions;
  #waiting: Waiting[] = [];
  #running = 0;
  #flushScheduled = false;

  constructor(deps: PlaceDeps, log: Logger, options: BatcherOptions) {
    this.#deps = deps;
    this.#log = log;
    this.#options = options;
  }

  /** Places the order (possibly with others in the same transaction); resolves once committed. */
  place(placement: Placement): Promise<Placed> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ placement, resolve, reject });
      // Orders whose requests are parsed in the same turn of the event loop go in together.
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => {
          this.#flushScheduled = false;
          this.#flush();
        });
      }
    });
  }

  #flush(): void {
    while (this.#running < this.#options.inFlight && this.#waiting.length > 0) {
      const batch = this.#waiting.splice(0, this.#options.maxBatch);
      recordPlacementBatch(batch.length);
      this.#running++;
      void this.#placeBatch(batch)
        // Only a bug gets here; its orders get the error (an answered one ignores it).
        .catch((error: unknown) => batch.forEach((waiting) => waiting.reject(error)))
        .finally(() => {
          this.#running--;
          this.#flush();
        });
    }
  }

  /**
   * Resolves once the batch's transaction is over; the answers of orders it did not place (a
   * replay, an unknown id) are worked out after that, outside the batch's slot.
   */
  async #placeBatch(batch: Waiting[]): Promise<void> {
    if (batch.length === 1) return settle(batch[0]!, placeOrder(this.#deps, batch[0]!.placement));
    const placed = await placeOrders(this.#deps, batch.map((waiting) => waiting.placement)).catch((error: unknown) => {
      // A connection lost while the batch ran may have been lost after the server committed it:
      // placing its orders again could place each twice. They are answered with the error (a
      // 503); a client that sent an Idempotency-Key can retry safely and gets its order back.
      if (isDatabaseUnreachable(error)) {
        batch.forEach((waiting) => waiting.reject(error));
        return undefined;
      }
      // The batch rolled back, and one order's problem must not become the others': each is
      // placed again on its own and gets its own answer.
      this.#log.warn({ err: error, orders: batch.length }, 'placing a batch of orders failed; placing them one at a time');
      return null;
    });
    if (placed === undefined) return;
    batch.forEach((waiting, index) => {
      const order = placed?.[index];
      if (order) waiting.resolve({ order: toOrderView(order), replayed: false });
      else void settle(waiting, placed ? explainUnplaced(this.#deps, waiting.placement) : placeOrder(this.#deps, waiting.placement));
    });
  }
}

async function settle(waiting: Waiting, outcome: Promise<Placed>): Promise<void> {
  try {
    waiting.resolve(await outcome);
  } catch (error) {
    waiting.reject(error);
  }
}
