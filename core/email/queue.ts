import type { Db as BossDb, PgBoss } from 'pg-boss';

// The confirmation-email queue. Emails are not latency-critical and SMTP servers fail in
// transient ways (greylisting, 4xx "try again later", a restart), so the queue retries with
// exponential backoff and, once the retries are spent, moves the job to a dead-letter queue
// where an operator can inspect it and `boss.redrive()` it back.
export const EMAIL_QUEUE = 'email';
export const EMAIL_DEAD_LETTER_QUEUE = 'email-dead-letter';

export interface EmailQueueOptions {
  /** Retries after the first attempt before the job is dead-lettered. */
  retryLimit: number;
  /** First retry delay in seconds; with backoff it roughly doubles on every retry. */
  retryDelay: number;
  /** Cap on a single retry delay, in seconds. */
  retryDelayMax: number;
}

// 6 attempts spread over ~1 + 2 + 4 + 8 + 16 minutes: long enough to ride out an SMTP outage
// of half an hour, short enough that a customer still gets the email the same day.
export const DEFAULT_EMAIL_QUEUE_OPTIONS: EmailQueueOptions = { retryLimit: 5, retryDelay: 60, retryDelayMax: 30 * 60 };

/**
 * Creates the email queue (standard policy, retries with backoff) and its dead-letter queue.
 * Safe to call from every process at start-up. createQueue leaves an existing queue alone, so the
 * settings are applied again with updateQueue: a changed retry policy takes effect on deploy.
 * Jobs copy the queue's settings when they are sent, so a change never affects queued jobs.
 */
export async function createEmailQueues(boss: PgBoss, options: EmailQueueOptions = DEFAULT_EMAIL_QUEUE_OPTIONS): Promise<void> {
  // Dead letters are kept for 30 days (in created state) so there is time to redrive them.
  await boss.createQueue(EMAIL_DEAD_LETTER_QUEUE, { retentionSeconds: 30 * 24 * 3600 });
  const settings = {
    retryLimit: options.retryLimit,
    retryDelay: options.retryDelay,
    retryBackoff: true,
    retryDelayMax: options.retryDelayMax,
    // A dead mailer's jobs are noticed by their heartbeat lapsing (pg-boss's smallest, 10 s) and
    // retried, so the expiry only has to bound a live mailer: a batch of 50 sends queues on the 5
    // pooled SMTP connections (workers/email.ts, core/email/mailer.ts), each send bounded by a 30 s
    // socket timeout, so a slow or throttling SMTP server can keep one batch busy for minutes. An
    // expiry inside that would fail the whole batch, and sent messages would go out again.
    heartbeatSeconds: 10,
    expireInSeconds: 15 * 60,
    deadLetter: EMAIL_DEAD_LETTER_QUEUE,
  };
  await boss.createQueue(EMAIL_QUEUE, { policy: 'standard', ...settings });
  await boss.updateQueue(EMAIL_QUEUE, settings);
}

export interface ConfirmationEmailJob {
  orderId: number;
}

/**
 * Queues the confirmation emails of confirmed orders inside the caller's transaction (`db`), in
 * ONE statement: a worker that confirms a batch of orders pays one round trip for all their emails.
 */
export async function enqueueConfirmationEmails(boss: PgBoss, orderIds: number[], db: BossDb): Promise<void> {
  if (orderIds.length === 0) return;
  const jobs = orderIds.map((orderId): { data: ConfirmationEmailJob } => ({ data: { orderId } }));
  await boss.insert(EMAIL_QUEUE, jobs, { db });
}
