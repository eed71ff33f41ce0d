import type { JobResult, PgBoss } from 'pg-boss';
import { createMailer, type Mailer } from '../core/email/mailer.ts';
import { sendOrderConfirmations } from '../core/email/order-confirmation.ts';
import { EMAIL_QUEUE, type ConfirmationEmailJob } from '../core/email/queue.ts';
import type { Services } from '../core/services.ts';

// Job handler for confirmation emails. Jobs are fetched in small batches and sent in parallel,
// each settled on its own: a send that fails marks only its job failed, so pg-boss retries that
// job with backoff (core/email/queue.ts) and dead-letters it once the retries are spent.
//
// Delivery is at-least-once, not exactly-once: SMTP is not part of the database transaction, so
// a worker that dies after the server accepted the message but before pg-boss recorded the job
// as complete sends the email again when the job is redelivered. The Message-ID is stable per
// order, which lets mail clients that de-duplicate by Message-ID hide the second copy.

// Up to POLLERS × BATCH_SIZE sends in flight (queued on the mailer's pooled connections). A batch
// costs one fetch, one query for all its orders and one completion, so a backlog (a flash sale
// confirms hundreds of orders a second) drains without a database round trip per email. With
// full batches pg-boss fetches again at once. Two pollers keep one slow batch from stalling every
// email. A batch's sends run in parallel over the pool; the queue's expireInSeconds leaves room
// for a slow SMTP server (core/email/queue.ts).
const POLLERS = 2;
const BATCH_SIZE = 50;

export async function startEmailWorker(
  boss: PgBoss,
  services: Services,
  mailer: Mailer = createMailer({ smtpUrl: services.config.SMTP_URL, from: services.config.MAIL_FROM, log: services.log }),
): Promise<void> {
  boss.once('stopped', () => mailer.close());
  await boss.work<ConfirmationEmailJob>(
    EMAIL_QUEUE,
    { localConcurrency: POLLERS, batchSize: BATCH_SIZE, perJobResults: true, burstWhenBatchFull: true, pollingIntervalSeconds: 1 },
    async (jobs) => {
      const outcomes = await sendOrderConfirmations(services.db, mailer, jobs.map((job) => job.data.orderId), services.config.MAIL_FROM);
      return jobs.map((job, index): JobResult => {
        const { orderId } = job.data;
        const attempt = job.retryCount + 1;
        const outcome = outcomes[index]!;
        if (outcome.status === 'fulfilled') {
          services.log.info({ orderId, outcome: outcome.value, attempt }, 'confirmation email');
          return { id: job.id, status: 'completed' };
        }
        // Only the message and SMTP code: a mailer error object can carry connection details.
        const { message, responseCode } = outcome.reason as { message?: string; responseCode?: number };
        services.log.warn({ orderId, attempt, error: message, responseCode }, 'confirmation email failed; pg-boss retries it');
        return { id: job.id, status: 'failed', output: { message, responseCode } };
      });
    },
  );
}
