import type { Db as BossDb, PgBoss } from 'pg-boss';

// CONTRACT (filled in by the email work): the confirmation-email queue.
export const EMAIL_QUEUE = 'email';

/** Creates the email queue (standard policy, retries with backoff) and its dead-letter queue. */
export async function createEmailQueues(_boss: PgBoss): Promise<void> {}

/** Queues the confirmation email for a confirmed order, inside the caller's transaction (`db`). */
export async function enqueueConfirmationEmail(boss: PgBoss, orderId: number, db: BossDb): Promise<void> {
  await boss.send(EMAIL_QUEUE, { orderId }, { db });
}
