import pg from 'pg';
import type { Logger } from '../logger.ts';

// Long-polls without polling: each web process holds ONE connection that LISTENs on the channel
// the order worker NOTIFYs (with the order id) when it commits a decision, and wakes the requests
// waiting for that order. A waiting request reads the database when it starts and when it is
// woken, never on a timer.

/** The worker NOTIFYs each decided order's id here, inside its transaction (delivered on commit). */
export const ORDER_EVENTS_CHANNEL = 'order_decided';

const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5000;

export interface OrderEventsOptions {
  /** How long connecting, LISTEN, or a liveness check may take before the connection counts as lost. */
  timeoutMs?: number;
  /**
   * How often the listening connection is checked with a query. A connection whose peer vanished
   * without a reset (a NAT or load balancer that dropped it, a failover) delivers nothing and
   * reports nothing; every long-poll would then wait its full time. Only a query that gets no
   * answer tells.
   */
  heartbeatMs?: number;
}

export class OrderEvents {
  readonly #connectionString: string;
  readonly #log: Logger;
  readonly #waiters = new Map<number, Set<() => void>>();
  #client: pg.Client | null = null;
  #started: Promise<void> | null = null;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #reconnectAttempts = 0;
  #heartbeat: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #timeoutMs: number;
  readonly #heartbeatMs: number;

  constructor(connectionString: string, log: Logger, options: OrderEventsOptions = {}) {
    this.#connectionString = connectionString;
    this.#log = log;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#heartbeatMs = options.heartbeatMs ?? 15_000;
  }

  /** Requests waiting right now (for observability and tests). */
  get waiting(): number {
    let count = 0;
    for (const waiters of this.#waiters.values()) count += waiters.size;
    return count;
  }

  /** Connects and LISTENs (once); resolves when listening. A dropped connection reconnects by itself. */
  start(): Promise<void> {
    this.#started ??= this.#connect().catch((error: unknown) => {
      this.#started = null; // the next caller tries again
      throw error;
    });
    return this.#started;
  }

  /**
   * Resolves with read()'s value as soon as done() accepts it, or with a final read once
   * `timeoutMs` has passed (or `signal` aborts). Subscribes before the first read, so a decision
   * committed between that read and the wait still wakes it.
   */
  async waitFor<T>(orderId: number, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number, signal?: AbortSignal): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    try {
      // Connecting counts against the wait: a database that accepts but does not answer must not
      // hold a request past the time it asked for.
      if (!(await settlesWithin(this.start(), timeoutMs, signal))) return read();
    } catch (error) {
      // Without the listener there is nothing to wait on; answer with the current state.
      this.#log.warn({ err: error }, 'order events: LISTEN connection unavailable; answering without waiting');
      return read();
    }
    const wakeup = new Wakeup();
    const unsubscribe = this.#subscribe(orderId, wakeup.notify);
    try {
      for (;;) {
        wakeup.reset();
        const value = await read();
        const remaining = deadline - Date.now();
        if (done(value) || remaining <= 0 || signal?.aborted || this.#closed) return value;
        await wakeup.wait(remaining, signal);
      }
    } finally {
      unsubscribe();
    }
  }

  /** Stops listening; waiting requests are woken and answer with the current state. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#reconnectTimer);
    clearInterval(this.#heartbeat);
    this.#wakeAll();
    const client = this.#client;
    this.#client = null;
    await client?.end().catch(() => {});
  }

  #subscribe(orderId: number, wake: () => void): () => void {
    let waiters = this.#waiters.get(orderId);
    if (!waiters) this.#waiters.set(orderId, (waiters = new Set()));
    waiters.add(wake);
    return () => {
      waiters.delete(wake);
      if (waiters.size === 0 && this.#waiters.get(orderId) === waiters) this.#waiters.delete(orderId);
    };
  }

  #wakeAll(): void {
    for (const waiters of this.#waiters.values()) for (const wake of waiters) wake();
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.#connectionString,
      application_name: 'shop-order-events',
      keepAlive: true,
      connectionTimeoutMillis: this.#timeoutMs,
      query_timeout: this.#timeoutMs,
    });
    client.on('notification', (message) => {
      const waiters = this.#waiters.get(Number(message.payload));
      if (waiters) for (const wake of waiters) wake();
    });
    client.on('error', (error) => {
      this.#log.warn({ err: error }, 'order events: LISTEN connection failed');
      this.#dropped(client);
    });
    client.on('end', () => this.#dropped(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${ORDER_EVENTS_CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
    if (this.#closed) {
      await client.end().catch(() => {});
      return;
    }
    this.#client = client;
    this.#heartbeat = setInterval(() => {
      client.query('SELECT 1').catch((error: unknown) => {
        this.#log.warn({ err: error }, 'order events: LISTEN connection stopped answering');
        this.#dropped(client);
      });
    }, this.#heartbeatMs).unref();
  }

  #dropped(client: pg.Client): void {
    if (client !== this.#client || this.#closed) return;
    this.#client = null;
    clearInterval(this.#heartbeat);
    client.end().catch(() => {});
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** this.#reconnectAttempts++);
    this.#reconnectTimer = setTimeout(() => {
      this.#connect().then(
        () => {
          this.#reconnectAttempts = 0;
          this.#log.info('order events: listening again');
          // Decisions committed while we were not listening sent notifications nobody heard:
          // every waiting request reads its order again.
          this.#wakeAll();
        },
        (error: unknown) => {
          this.#log.warn({ err: error }, 'order events: reconnect failed; retrying');
          if (!this.#closed) this.#scheduleReconnect();
        },
      );
    }, delay);
  }
}

/** True once `promise` fulfils, false if `ms` pass (or `signal` aborts) first; rejects with it. */
async function settlesWithin(promise: Promise<void>, ms: number, signal?: AbortSignal): Promise<boolean> {
  const gaveUp = new Wakeup();
  return await Promise.race([promise.then(() => true), gaveUp.wait(ms, signal).then(() => false)]).finally(gaveUp.notify);
}

/** A one-waiter wake-up flag: a notify that arrives before wait() is not lost. */
class Wakeup {
  #pending = false;
  #resolve: (() => void) | null = null;

  readonly notify = () => {
    this.#pending = true;
    this.#resolve?.();
  };

  reset(): void {
    this.#pending = false;
  }

  /** Resolves on notify (including one since the last reset), after `ms`, or when `signal` aborts. */
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.#pending) return Promise.resolve();
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', finish);
        this.#resolve = null;
        resolve();
      };
      const timer = setTimeout(finish, ms);
      signal?.addEventListener('abort', finish, { once: true });
      this.#resolve = finish;
    });
  }
}
