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

/** True when `error` is a foreign-key violation (a referenced row is missing). */
export function isForeignKeyViolation(error: unknown): boolean {
  return error instanceof pg.DatabaseError && error.code === '23503';
}
