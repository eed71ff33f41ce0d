import type { PgBoss } from 'pg-boss';
import { createMailer, type Mailer } from '../core/email/mailer.ts';
import { sendOrderConfirmation } from '../core/email/order-confirmation.ts';
import { EMAIL_QUEUE, type ConfirmationEmailJob } from '../core/email/queue.ts';
import type { Services } from '../core/services.ts';

// Job handler for confirmation emails. A send that fails throws, so pg-boss retries the job with
// backoff (core/email/queue.ts) and dead-letters it once the retries are spent.
//
// Delivery is at-least-once, not exactly-once: SMTP is not part of the database transaction, so
// a worker that dies after the server accepted the message but before pg-boss recorded the job
// as complete sends the email again when the job is redelivered. The Message-ID is stable per
// order, which lets mail clients that de-duplicate by Message-ID hide the second copy.

// SMTP round trips dominate an email job; a few at a time keep the queue moving without opening
// many connections to the mail server.
const CONCURRENCY = 4;

export async function startEmailWorker(
  boss: PgBoss,
  services: Services,
  mailer: Mailer = createMailer({ smtpUrl: services.config.SMTP_URL, from: services.config.MAIL_FROM, log: services.log }),
): Promise<void> {
  boss.once('stopped', () => mailer.close());
  await boss.work<ConfirmationEmailJob>(EMAIL_QUEUE, { localConcurrency: CONCURRENCY, pollingIntervalSeconds: 1 }, async (jobs) => {
    for (const job of jobs) {
      const { orderId } = job.data;
      try {
        const outcome = await sendOrderConfirmation(services.db, mailer, orderId, services.config.MAIL_FROM);
        services.log.info({ orderId, outcome, attempt: job.retryCount + 1 }, 'confirmation email');
      } catch (error) {
        // Only the message and SMTP code: a mailer error object can carry connection details.
        const { message, responseCode } = error as { message?: string; responseCode?: number };
        services.log.warn({ orderId, attempt: job.retryCount + 1, error: message, responseCode }, 'confirmation email failed; pg-boss retries it');
        throw error;
      }
    }
  });
}
