import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fromKnex, type PgBoss } from 'pg-boss';
import { pino } from 'pino';
import { SMTPServer } from 'smtp-server';
import { signAccessToken } from '../core/auth/access-tokens.ts';
import { loadConfig } from '../core/config.ts';
import type { Db } from '../core/db.ts';
import { createMailer } from '../core/email/mailer.ts';
import { sendOrderConfirmations } from '../core/email/order-confirmation.ts';
import { createEmailQueues, EMAIL_DEAD_LETTER_QUEUE, EMAIL_QUEUE, enqueueConfirmationEmails } from '../core/email/queue.ts';
import { createLogger } from '../core/logger.ts';
import { everyInstance } from '../core/queue-metrics.ts';
import { openServices, type OpenServices } from '../core/services.ts';
import { startEmailWorker } from '../workers/email.ts';
import { parseWorkerQueues } from '../workers/start.ts';
import { testEnvironment } from './support/environment.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';
import { spawnWorkerProcess, startWorkersInProcess, type InProcessWorkers, type WorkerProcess } from './support/workers.ts';
import { waitUntil } from './orders/fixtures.ts';

// Confirmation emails against a real SMTP server (smtp-server on an ephemeral port), a real
// PostgreSQL and a real pg-boss. The SMTP server can be told to answer 451 ("try again later")
// to a recipient, the way a greylisting or overloaded server does.

const MAIL_FROM = 'Shop Test <orders@shop.test>';
const RETRIES = 2; // small, so the dead-letter case finishes in seconds

interface ReceivedMail {
  to: string[];
  raw: string;
}

class TestSmtpServer {
  readonly messages: ReceivedMail[] = [];
  /** Recipient → how many more RCPT attempts get a 451. Infinity: always. */
  readonly failures = new Map<string, number>();
  readonly attempts = new Map<string, number>();
  /** Recipients whose next message is taken in and never answered, as if it were still being sent. */
  readonly holds = new Set<string>();
  /** Recipients of the messages held so far. */
  readonly held: string[] = [];
  readonly server: SMTPServer;
  port = 0;

  constructor() {
    this.server = new SMTPServer({
      authOptional: true,
      secure: false,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onRcptTo: (address, _session, callback) => {
        const recipient = address.address.toLowerCase();
        this.attempts.set(recipient, (this.attempts.get(recipient) ?? 0) + 1);
        const left = this.failures.get(recipient) ?? 0;
        if (left > 0) {
          this.failures.set(recipient, left - 1);
          callback(Object.assign(new Error('Mailbox busy, try again later'), { responseCode: 451 }));
          return;
        }
        callback();
      },
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        const to = session.envelope.rcptTo.map((a) => a.address.toLowerCase());
        stream.on('end', () => {
          const hold = to.find((recipient) => this.holds.delete(recipient));
          if (hold !== undefined) {
            this.held.push(hold);
            return;
          }
          this.messages.push({ to, raw: Buffer.concat(chunks).toString('utf8') });
          callback();
        });
      },
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
  }

  messagesTo(email: string): ReceivedMail[] {
    return this.messages.filter((m) => m.to.includes(email.toLowerCase()));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Headers (lower-cased names, unfolded) and the decoded text/plain part of a raw message. */
function parseMessage(raw: string): { headers: Map<string, string>; text: string; html: string } {
  const [head = '', ...rest] = raw.split(/\r?\n\r?\n/);
  const headers = new Map<string, string>();
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  const body = rest.join('\n\n');
  return { headers, text: partOf(body, 'text/plain'), html: partOf(body, 'text/html') };
}

function partOf(body: string, type: string): string {
  const part = body.split(/\r?\n--/).find((p) => p.includes(`Content-Type: ${type}`));
  if (!part) return '';
  const content = part.split(/\r?\n\r?\n/).slice(1).join('\n\n');
  const quotedPrintable = /Content-Transfer-Encoding: quoted-printable/i.test(part);
  return quotedPrintable
    ? content.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)))
    : content;
}

const unique = () => randomBytes(4).toString('hex');

interface Fixture {
  userEmail: string;
  storeId: number;
  products: { id: number; price: string }[];
}

/** A user, a store and two products of our own, so no other test's data is touched. */
async function createFixture(db: Db): Promise<Fixture> {
  const tag = unique();
  const [user] = await db('users')
    .insert({ username: `email_${tag}`, email: `email_${tag}@example.test`, password_hash: 'not-a-real-hash' })
    .returning(['id', 'email']);
  const [category] = await db('categories').insert({ name: `Email test ${tag}` }).returning('id');
  const [store] = await db('stores').insert({ name: `Email store ${tag}`, city: 'Testville' }).returning('id');
  // 0.10 and 0.20 are not exact binary fractions: 3 × 0.10 + 1 × 0.20 is 0.5000000000000001 in
  // floating point, 0.50 in decimal arithmetic.
  const products = await db('products')
    .insert([
      { title: `Paper clip ${tag}`, price: '0.10', category_id: category.id },
      { title: `Rubber band ${tag}`, price: '0.20', category_id: category.id },
    ])
    .returning(['id', 'price']);
  return { userEmail: user.email, storeId: store.id, products };
}

/** An order row with its lines (3 paper clips, 1 rubber band) in `status`, as the order worker leaves it. */
async function insertOrder(db: Db, fixture: Fixture, status: string): Promise<number> {
  const user = await db('users').where({ email: fixture.userEmail }).first('id');
  const [order] = await db('orders')
    .insert({
      user_id: user.id,
      store_id: fixture.storeId,
      status,
      decided_at: db.fn.now(),
      cancelled_at: status === 'CANCELLED' ? db.fn.now() : null,
    })
    .returning('id');
  await db('order_lines').insert([
    { order_id: order.id, product_id: fixture.products[0]!.id, quantity_requested: 3, unit_price: fixture.products[0]!.price },
    { order_id: order.id, product_id: fixture.products[1]!.id, quantity_requested: 1, unit_price: fixture.products[1]!.price },
  ]);
  return order.id as number;
}

/** Queues the email the way the order worker does: inside a transaction, with pg-boss's `db` option. */
async function enqueueInTransaction(db: Db, boss: PgBoss, orderId: number): Promise<void> {
  await db.transaction(async (trx) => {
    await enqueueConfirmationEmails(boss, [orderId], fromKnex(trx));
  });
}

async function jobOf(boss: PgBoss, queue: string, orderId: number) {
  const [job] = await boss.findJobs<{ orderId: number }>(queue, { data: { orderId } });
  return job;
}

/** The order's email job once it has completed. */
function completedJob(boss: PgBoss, orderId: number) {
  return waitUntil('the job to complete', async () => {
    const job = await jobOf(boss, EMAIL_QUEUE, orderId);
    return job?.state === 'completed' && job;
  });
}

describe('confirmation emails', function () {
  this.timeout(60_000);
  const smtp = new TestSmtpServer();
  let services: OpenServices;
  let boss: PgBoss;
  let fixture: Fixture;

  before(async () => {
    await smtp.start();
    const { databaseUrl } = testEnvironment();
    const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_URL: databaseUrl, SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, MAIL_FROM });
    // The services' pg-boss, as the worker process opens it; only the email worker runs on it.
    services = await openServices(config, createLogger('silent'), databaseUrl, { runsWorkers: true });
    boss = services.boss;
    await createEmailQueues(boss, { retryLimit: RETRIES, retryDelay: 1, retryDelayMax: 2 });
    await startEmailWorker(boss, services);
    fixture = await createFixture(services.db);
  });

  after(async () => {
    await services?.close();
    await smtp.close();
  });

  it('emails a confirmed order to its customer with every line and the exact total', async () => {
    const orderId = await insertOrder(services.db, fixture, 'CONFIRMED');
    await enqueueInTransaction(services.db, boss, orderId);

    const mail = await waitUntil('the confirmation email', () => smtp.messagesTo(fixture.userEmail).map((m) => parseMessage(m.raw)).find((m) => m.headers.get('subject')?.includes(`#${orderId} `)));
    expect(mail.headers.get('to')).to.equal(fixture.userEmail);
    expect(mail.headers.get('from')).to.equal(MAIL_FROM);
    expect(mail.headers.get('subject')).to.equal(`Order #${orderId} confirmed`);
    expect(mail.headers.get('message-id')).to.equal(`<order-${orderId}-confirmation@shop.test>`);
    expect(mail.text).to.match(/3 x Paper clip \w+ @ 0\.10 = 0\.30/);
    expect(mail.text).to.match(/1 x Rubber band \w+ @ 0\.20 = 0\.20/);
    expect(mail.text).to.include('TOTAL: 0.50');
    expect(mail.html).to.include('<th align="right">0.50</th>');
  });

  it('escapes titles and store names in the HTML part, and keeps them as written in the text part', async () => {
    const marked = await createFixture(services.db);
    await services.db('products').where({ id: marked.products[0]!.id }).update({ title: 'Cable <b>"A&B"</b>' });
    await services.db('stores').where({ id: marked.storeId }).update({ name: `Store <img src=x> ${unique()}` });
    const orderId = await insertOrder(services.db, marked, 'CONFIRMED');
    await enqueueInTransaction(services.db, boss, orderId);

    const mail = await waitUntil('the confirmation email', () => smtp.messagesTo(marked.userEmail).map((m) => parseMessage(m.raw))[0]);
    expect(mail.html).to.include('Cable &#60;b&#62;&#34;A&#38;B&#34;&#60;/b&#62;');
    expect(mail.html).to.include('Store &#60;img src=x&#62;');
    expect(mail.html).not.to.match(/<b>|<img/);
    expect(mail.text).to.include('3 x Cable <b>"A&B"</b> @ 0.10 = 0.30');
  });

  it('retries a send the SMTP server refuses for now, and delivers it', async () => {
    const flaky = await createFixture(services.db);
    smtp.failures.set(flaky.userEmail, 2); // the first two attempts get "451 try again later"
    const orderId = await insertOrder(services.db, flaky, 'CONFIRMED');
    await enqueueInTransaction(services.db, boss, orderId);

    await waitUntil('the email after two refusals', () => smtp.messagesTo(flaky.userEmail)[0]);
    expect(smtp.attempts.get(flaky.userEmail)).to.equal(3);
    const job = await completedJob(boss, orderId);
    expect(job.retryCount).to.equal(2);
  });

  it('settles each email of a batch on its own: one refusal does not resend the others', async () => {
    const steady = await createFixture(services.db);
    const flaky = await createFixture(services.db);
    smtp.failures.set(flaky.userEmail, 1);
    const steadyOrders = [await insertOrder(services.db, steady, 'CONFIRMED'), await insertOrder(services.db, steady, 'CONFIRMED')];
    const flakyOrder = await insertOrder(services.db, flaky, 'CONFIRMED');
    // One statement in one transaction (as a worker confirming a batch queues them), so the three
    // jobs become visible together and are fetched as one batch.
    await services.db.transaction(async (trx) => {
      await enqueueConfirmationEmails(boss, [...steadyOrders, flakyOrder], fromKnex(trx));
    });

    await waitUntil('the retried email', () => smtp.messagesTo(flaky.userEmail)[0]);
    await waitUntil('both other emails', () => (smtp.messagesTo(steady.userEmail).length === 2 ? true : undefined));
    for (const orderId of steadyOrders) {
      const job = await completedJob(boss, orderId);
      expect(job.retryCount).to.equal(0);
    }
    expect(smtp.messagesTo(steady.userEmail)).to.have.length(2);
  });

  it('moves the job to the dead-letter queue once the retries are spent', async () => {
    const doomed = await createFixture(services.db);
    smtp.failures.set(doomed.userEmail, Infinity);
    const orderId = await insertOrder(services.db, doomed, 'CONFIRMED');
    await enqueueInTransaction(services.db, boss, orderId);

    const dead = await waitUntil('the dead letter', () => jobOf(boss, EMAIL_DEAD_LETTER_QUEUE, orderId));
    expect(dead.data).to.deep.equal({ orderId });
    const original = await jobOf(boss, EMAIL_QUEUE, orderId);
    expect(original?.state).to.equal('failed');
    expect(original?.retryCount).to.equal(RETRIES);
    expect(smtp.attempts.get(doomed.userEmail)).to.equal(RETRIES + 1);
    expect(smtp.messagesTo(doomed.userEmail)).to.have.length(0);
  });

  it('skips the email of an order cancelled before the job ran', async () => {
    const cancelled = await createFixture(services.db);
    const orderId = await insertOrder(services.db, cancelled, 'CANCELLED');
    await enqueueInTransaction(services.db, boss, orderId);

    await completedJob(boss, orderId);
    expect(smtp.messagesTo(cancelled.userEmail)).to.have.length(0);
  });

  it('writes the message to an .eml file when SMTP is not configured', async () => {
    const mailDir = await mkdtemp(join(tmpdir(), 'shop-mail-'));
    try {
      const lines: string[] = [];
      const log = pino({ level: 'info' }, new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) }));
      const mailer = createMailer({ smtpUrl: undefined, from: MAIL_FROM, log, mailDir });
      const orderId = await insertOrder(services.db, fixture, 'CONFIRMED');

      expect(await sendOrderConfirmations(services.db, mailer, [orderId], MAIL_FROM)).to.deep.equal([{ status: 'fulfilled', value: 'sent' }]);
      const files = await readdir(mailDir);
      expect(files).to.have.length(1);
      expect(files[0]).to.match(/\.eml$/);
      const mail = parseMessage(await readFile(join(mailDir, files[0]!), 'utf8'));
      expect(mail.headers.get('to')).to.equal(fixture.userEmail);
      expect(mail.headers.get('subject')).to.equal(`Order #${orderId} confirmed`);
      expect(mail.text).to.include('TOTAL: 0.50');
      expect(lines.join('')).to.include(join(mailDir, files[0]!));
    } finally {
      await rm(mailDir, { recursive: true, force: true });
    }
  });

  it('never logs the SMTP password', () => {
    const lines: string[] = [];
    const log = pino({ level: 'trace' }, new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) }));
    createMailer({ smtpUrl: 'smtp://mailer:s3cret-Pa55@127.0.0.1:2525', from: MAIL_FROM, log }).close();
    expect(lines.join('')).to.include('127.0.0.1');
    expect(lines.join('')).not.to.include('s3cret-Pa55');
  });
});

describe('confirmation email, end to end', function () {
  this.timeout(60_000);
  const smtp = new TestSmtpServer();
  let app: TestApp;
  let workers: InProcessWorkers;

  before(async () => {
    await smtp.start();
    app = await startTestApp();
    workers = await startWorkersInProcess({ SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, MAIL_FROM });
  });

  after(async () => {
    await workers?.stop();
    await app?.close();
    await smtp.close();
  });

  it('places an order over HTTP, the worker confirms it, and the email reaches the SMTP server', async () => {
    const db = app.services.db;
    const fixture = await createFixture(db);
    await db('inventory').insert(fixture.products.map((p) => ({ store_id: fixture.storeId, product_id: p.id, quantity: 10 })));
    const user = await db('users').where({ email: fixture.userEmail }).first('id');
    const token = signAccessToken({ userId: user.id, isStaff: false }, app.services.jwtSecret, 300);

    const placed = await app.request('/orders/orders/', {
      token,
      body: { store_id: fixture.storeId, items: [{ product_id: fixture.products[0]!.id, quantity_requested: 3 }, { product_id: fixture.products[1]!.id, quantity_requested: 1 }] },
    });
    expect(placed.status).to.equal(202);
    const { id } = (await placed.json()) as { id: number };
    const decided = await app.request(`/orders/orders/${id}?wait=30`, { token });
    expect(((await decided.json()) as { status: string }).status).to.equal('CONFIRMED');

    const mail = await waitUntil('the confirmation email', () => smtp.messagesTo(fixture.userEmail).map((m) => parseMessage(m.raw))[0]);
    expect(mail.headers.get('subject')).to.equal(`Order #${id} confirmed`);
    expect(mail.text).to.match(/3 x Paper clip \w+ @ 0\.10 = 0\.30/);
    expect(mail.text).to.include('TOTAL: 0.50');
  });
});

describe('worker processes by queue (Procfile worker and mailer)', function () {
  this.timeout(60_000);
  const smtp = new TestSmtpServer();
  let app: TestApp;
  const workers: InProcessWorkers[] = [];

  before(async () => {
    await smtp.start();
    app = await startTestApp();
  });

  after(async () => {
    for (const running of workers) await running.stop();
    await app?.close();
    await smtp.close();
  });

  it('reads the queues from the command line: none means all, unknown names are refused', () => {
    expect(parseWorkerQueues([])).to.deep.equal(['orders', 'email']);
    expect(parseWorkerQueues(['orders'])).to.deep.equal(['orders']);
    expect(parseWorkerQueues(['email', 'email'])).to.deep.equal(['email']);
    expect(() => parseWorkerQueues(['orders', 'emails'])).to.throw(/unknown queue emails/);
  });

  it('an orders worker decides the order and leaves its email to a mailer; /metrics shows the backlog and who works each queue', async () => {
    const smtpSettings = { SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, MAIL_FROM };
    workers.push(await startWorkersInProcess(smtpSettings, ['orders']));
    const db = app.services.db;
    const fixture = await createFixture(db);
    await db('inventory').insert({ store_id: fixture.storeId, product_id: fixture.products[0]!.id, quantity: 10 });
    const user = await db('users').where({ email: fixture.userEmail }).first('id');
    const token = signAccessToken({ userId: user.id, isStaff: false }, app.services.jwtSecret, 300);

    const placed = await app.request('/orders/orders/?wait=30', { token, body: { store_id: fixture.storeId, items: [{ product_id: fixture.products[0]!.id, quantity_requested: 1 }] } });
    const order = (await placed.json()) as { id: number; status: string };
    expect(order.status).to.equal('CONFIRMED');
    // The email is queued, and nothing works its queue: a process on the orders queue, none on the email queue.
    expect((await jobOf(app.services.boss, EMAIL_QUEUE, order.id))?.state).to.equal('created');
    const metric = async (pattern: RegExp) => Number((await (await app.request('/metrics')).text()).match(pattern)?.[1]);
    const workersOf = (queue: string) => metric(new RegExp(`^job_queue_workers\\{queue="${queue}"\\} (\\d+)$`, 'm'));
    await waitUntil('the orders worker on /metrics', async () => (await workersOf('orders')) >= 1);
    expect(await workersOf('email')).to.equal(0);
    // An operator sees the email waiting: the backlog on /metrics (pg-boss counts every 5 s).
    await waitUntil('the email backlog on /metrics', async () => (await metric(/^job_queue_jobs\{queue="email",state="queued"\} (\d+)$/m)) >= 1);

    workers.push(await startWorkersInProcess(smtpSettings, ['email']));
    const mail = await waitUntil('the confirmation email', () => smtp.messagesTo(fixture.userEmail).map((m) => parseMessage(m.raw))[0]);
    expect(mail.headers.get('subject')).to.equal(`Order #${order.id} confirmed`);
    await waitUntil('the email backlog gone from /metrics', async () => /^job_queue_jobs\{queue="email",state="queued"\} 0$/m.test(await (await app.request('/metrics')).text()) || undefined);
    await waitUntil('the mailer on /metrics', async () => (await workersOf('email')) === 1);
    // The registry is read page by page: one row a page finds every row that one big page does.
    const ids = (rows: { id: string }[]) => rows.map((row) => row.id);
    const rows = await everyInstance(app.services.boss);
    expect(rows.length).to.be.at.least(3); // this app, the orders worker, the mailer
    expect(ids(await everyInstance(app.services.boss, 1))).to.deep.equal(ids(rows));
  });
});

// A mailer SIGKILLed while its SMTP server is still taking a message: the email job's heartbeat
// stops, and another mailer sends the email within seconds, not after the queue's 15-minute expiry.
describe('a mailer killed mid-send', function () {
  this.timeout(120_000);
  const smtp = new TestSmtpServer();
  let app: TestApp;
  let doomed: WorkerProcess | undefined;
  let survivor: InProcessWorkers | undefined;

  before(async () => {
    await smtp.start();
    app = await startTestApp();
  });

  after(async () => {
    await doomed?.kill();
    await survivor?.stop();
    await app?.close();
    await smtp.close();
  });

  it('loses no email: another mailer sends it once the dead one stops beating', async () => {
    const { db, boss } = app.services;
    const smtpSettings = { SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, MAIL_FROM };
    doomed = await spawnWorkerProcess(smtpSettings, ['email']);
    // A first email shows the mailer is up (it has set the queues up, so what follows overrides
    // their retry delay: a retry 1 s after the lapse instead of the production minute).
    const warmUp = await createFixture(db);
    await enqueueInTransaction(db, boss, await insertOrder(db, warmUp, 'CONFIRMED'));
    await waitUntil('the mailer to be up', () => smtp.messagesTo(warmUp.userEmail)[0]);
    await createEmailQueues(boss, { retryLimit: RETRIES, retryDelay: 1, retryDelayMax: 2 });

    const customer = await createFixture(db);
    smtp.holds.add(customer.userEmail);
    const orderId = await insertOrder(db, customer, 'CONFIRMED');
    await enqueueInTransaction(db, boss, orderId);
    await waitUntil('the send to be under way', () => smtp.held.includes(customer.userEmail));
    await doomed.kill();
    survivor = await startWorkersInProcess(smtpSettings, ['email']);

    const mail = await waitUntil('the email from the surviving mailer', () => smtp.messagesTo(customer.userEmail).map((m) => parseMessage(m.raw))[0], 60_000);
    expect(mail.headers.get('subject')).to.equal(`Order #${orderId} confirmed`);
    const job = await completedJob(boss, orderId);
    expect(job.retryCount).to.equal(1);
    expect(smtp.messagesTo(customer.userEmail)).to.have.length(1);
  });
});
