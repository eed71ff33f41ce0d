import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import type { Logger } from '../logger.ts';
import { dataDir } from '../paths.ts';

// Sends email over SMTP (SMTP_URL), or, in development without SMTP, writes each message as an
// .eml file that any mail client opens. Callers see one interface either way.

export interface OutgoingEmail {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** A stable Message-ID (`<...@...>`) lets mail clients drop the duplicate of a resent message. */
  messageId: string;
}

export interface Mailer {
  /** Resolves once the SMTP server accepted the message (or the file is written); rejects otherwise. */
  send(email: OutgoingEmail): Promise<void>;
  /** Closes the pooled SMTP connections; a no-op for the file mailer. */
  close(): void;
}

export interface MailerOptions {
  /** e.g. `smtp://user:pass@smtp.example.com:587`; unset: write .eml files to `mailDir`. */
  smtpUrl: string | undefined;
  from: string;
  log: Logger;
  mailDir?: string;
}

export const defaultMailDir = join(dataDir, 'mail');

export function createMailer(options: MailerOptions): Mailer {
  return options.smtpUrl
    ? smtpMailer(options.smtpUrl, options.from, options.log)
    : fileMailer(options.mailDir ?? defaultMailDir, options.from, options.log);
}

function smtpMailer(smtpUrl: string, from: string, log: Logger): Mailer {
  // nodemailer's defaults wait minutes for a dead server; fail fast and let the queue retry.
  // Pooled: a worker sends a steady stream, and a new connection (TCP + greeting + EHLO) per
  // message cost more than the message. Query parameters in SMTP_URL (e.g. `?pool=false`) override these.
  const transport = nodemailer.createTransport(
    { url: smtpUrl, pool: true, maxConnections: 5, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 },
    { from },
  );
  // The URL carries the SMTP password: log where we send, never the URL itself.
  const url = new URL(smtpUrl);
  log.info({ smtpHost: url.hostname, smtpPort: url.port || null }, 'mailer: sending over SMTP');
  return {
    async send(email) {
      await transport.sendMail(email);
    },
    close() {
      transport.close();
    },
  };
}

function fileMailer(mailDir: string, from: string, log: Logger): Mailer {
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' }, { from });
  log.info({ mailDir }, 'mailer: SMTP_URL is unset, writing messages to files');
  return {
    async send(email) {
      const info = await transport.sendMail(email);
      await mkdir(mailDir, { recursive: true });
      // Sortable by time; the random part keeps a resend of the same message from overwriting it.
      const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(3).toString('hex')}.eml`;
      const path = join(mailDir, name);
      await writeFile(path, info.message as Buffer);
      log.info({ path, subject: email.subject }, 'mailer: message written to file');
    },
    close() {},
  };
}
