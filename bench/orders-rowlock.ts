import pg from 'pg';

// Baseline (a), the row-lock ceiling: how many times per second PostgreSQL can decrement ONE
// inventory row when every decrement is its own autocommit transaction. Any design that takes
// the row lock once per order (the naive design, or a worker deciding orders one by one) cannot
// beat this number for a single hot product; deciding many orders per transaction can.

export interface RowLockResult {
  updates: number;
  seconds: number;
  perSecond: number;
}

export async function measureRowLockCeiling(
  databaseUrl: string,
  target: { storeId: number; productId: number },
  concurrency: number,
  seconds: number,
): Promise<RowLockResult> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: concurrency, application_name: 'bench-rowlock' });
  try {
    // Open every connection before the clock starts: the baseline measures locking, not connecting.
    const clients = await Promise.all(Array.from({ length: concurrency }, () => pool.connect()));
    const sql = 'UPDATE inventory SET quantity = quantity - 1 WHERE store_id = $1 AND product_id = $2 AND quantity > 0';
    const params = [target.storeId, target.productId];
    let updates = 0;
    const started = performance.now();
    const deadline = started + seconds * 1000;
    await Promise.all(
      clients.map(async (client) => {
        while (performance.now() < deadline) {
          const result = await client.query(sql, params);
          if (result.rowCount !== 1) throw new Error('row-lock baseline: the row ran out of stock; give it more');
          updates++;
        }
        client.release();
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    return { updates, seconds: elapsed, perSecond: updates / elapsed };
  } finally {
    await pool.end();
  }
}
