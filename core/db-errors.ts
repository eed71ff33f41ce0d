import pg from 'pg';

// Which database errors are worth retrying, and which say something about the data.

// SQLSTATE classes and codes that say "try again later": nothing about the data is wrong.
const TRANSIENT_CLASSES = new Set([
  '08', // connection exception
  '53', // insufficient resources (too many connections, out of memory, disk full)
  '57', // operator intervention (admin shutdown, crash shutdown, query cancelled by timeout)
  '58', // system error (I/O)
]);
const TRANSIENT_CODES = new Set([
  '40001', // serialization failure
  '40P01', // deadlock detected
  '55P03', // lock not available (lock_timeout)
]);

/**
 * True for errors that a retry may cure: the database is unreachable, overloaded, restarting, or
 * a lock wait gave up. False for errors that would happen again on the same data (a constraint,
 * a bad value, a bug), which must not be retried forever.
 */
export function isTransientError(error: unknown): boolean {
  error = unwrapped(error);
  if (error instanceof pg.DatabaseError) {
    const code = error.code ?? '';
    return TRANSIENT_CODES.has(code) || TRANSIENT_CLASSES.has(code.slice(0, 2));
  }
  // A JavaScript error is a bug that meets this data again on a retry.
  if (error instanceof TypeError || error instanceof RangeError || error instanceof ReferenceError || error instanceof SyntaxError) {
    return false;
  }
  // Anything else comes from the plumbing with no SQLSTATE: a dropped connection ("Connection
  // terminated unexpectedly", ECONNRESET), a pool timeout (KnexTimeoutError).
  return true;
}

// What says that the database cannot be reached or will not take us now, as opposed to a
// statement that failed: a connection refused, reset or timed out, the server shutting down or
// full, or no pooled connection free in time.
const UNREACHABLE_CODES = new Set([
  '53300', // too many connections
  '57P01', // admin shutdown
  '57P02', // crash shutdown
  '57P03', // cannot connect now (starting up, recovering)
]);
const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** True when the database is down or out of reach: worth a 503 with Retry-After, not a 500. */
export function isDatabaseUnreachable(error: unknown): boolean {
  error = unwrapped(error);
  if (error instanceof pg.DatabaseError) {
    const code = error.code ?? '';
    // 08P01 (protocol violation) is ours: a statement sent with the wrong number of values.
    return (code.startsWith('08') && code !== '08P01') || UNREACHABLE_CODES.has(code);
  }
  if (!(error instanceof Error)) return false;
  if (NETWORK_ERRORS.has((error as NodeJS.ErrnoException).code ?? '')) return true;
  // knex found no pooled connection in time; node-postgres lost or could not open its socket
  // (knex puts the statement in front of that message: "COMMIT; - Connection terminated ...").
  return error.name === 'KnexTimeoutError' || /Connection terminated/.test(error.message);
}

/** True when `error` is a foreign-key violation (a referenced row is missing). */
export function isForeignKeyViolation(error: unknown): boolean {
  error = unwrapped(error);
  return error instanceof pg.DatabaseError && error.code === '23503';
}

/**
 * The driver's own error. Objection wraps every database error of a model query in a DBError of
 * its own (db-errors) and keeps node-postgres's as `nativeError`: without this, a failover during
 * a login would read as a bug (500) instead of the database being away (503).
 */
function unwrapped(error: unknown): unknown {
  const native = (error as { nativeError?: unknown } | null)?.nativeError;
  return native instanceof Error ? native : error;
}
