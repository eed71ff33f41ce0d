// The order benchmark (`npm run bench:orders`): starts its own stack against a fresh database,
// places orders over HTTP, and compares the queued design with two baselines measured in the
// same run: (a) the row-lock ceiling of one inventory row, (b) the naive synchronous design.
//
//   npm run bench:orders                        # full size: 2,000 flash-sale + 10,000 spread orders
//   npm run bench:orders -- --orders 200        # a smoke run
//   options: --flash-orders N --spread-orders N --orders N (both) --concurrency 50 --flash-stock 500
//            --stores 25 --products 100 --users 200 --workers 1 --rowlock-seconds 5 --seed 42
//   (--workers: order worker processes; one mailer process runs beside them, as in the Procfile)
//
// DATABASE_URL names the PostgreSQL server to use; the benchmark creates (and re-creates on every
// run) its own database `shop_bench_orders` there. REDIS_URL is passed on when set.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { signAccessToken } from '../core/auth/access-tokens.ts';
import type { Db } from '../core/db.ts';
import { projectRoot } from '../core/paths.ts';
import {
  checkStock,
  createFixtures,
  decisionTimes,
  migrateAndSeed,
  openBenchDb,
  pendingOrders,
  recreateBenchDatabase,
  type BenchFixtures,
  type StockRow,
} from './orders-database.ts';
import { listenForDecisions, type DecisionListener } from './orders-decisions.ts';
import { closedLoop, JsonClient, percentile, seededRandom, type HttpResult } from './orders-load.ts';
import { renderReport, type NaivePhase, type QueuedPhase } from './orders-report.ts';
import { measureRowLockCeiling } from './orders-rowlock.ts';
import { localPostgresCpuSeconds, startMailSink, startProcess, type MailSink, type RunningProcess } from './orders-stack.ts';

const { values: args } = parseArgs({
  options: {
    orders: { type: 'string' },
    'flash-orders': { type: 'string', default: '2000' },
    'spread-orders': { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '50' },
    'flash-stock': { type: 'string', default: '500' },
    stores: { type: 'string', default: '25' },
    products: { type: 'string', default: '100' },
    users: { type: 'string', default: '200' },
    workers: { type: 'string', default: '1' },
    'rowlock-seconds': { type: 'string', default: '5' },
    seed: { type: 'string', default: '42' },
  },
});
const int = (name: string, value: string | undefined) => {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got ${value}`);
  return n;
};
const settings = {
  flashOrders: int('flash-orders', args.orders ?? args['flash-orders']),
  spreadOrders: int('spread-orders', args.orders ?? args['spread-orders']),
  concurrency: int('concurrency', args.concurrency),
  flashStock: int('flash-stock', args['flash-stock']),
  stores: int('stores', args.stores),
  products: int('products', args.products),
  users: int('users', args.users),
  workers: int('workers', args.workers),
  rowLockSeconds: int('rowlock-seconds', args['rowlock-seconds']),
  seed: int('seed', args.seed),
};

interface OrderRequest {
  store_id: number;
  items: { product_id: number; quantity_requested: number }[];
}

const benchStarted = performance.now();
const say = (message: string) => process.stderr.write(`[${((performance.now() - benchStarted) / 1000).toFixed(1)} s] ${message}\n`);

function flashOrders(fixtures: BenchFixtures, storeId: number): OrderRequest[] {
  return Array.from({ length: settings.flashOrders }, () => ({
    store_id: storeId,
    items: [{ product_id: fixtures.flash.productId, quantity_requested: 1 }],
  }));
}

/** The same seeded sequence for both designs: store index, 1–3 distinct products, 1–3 units each. */
function spreadOrders(fixtures: BenchFixtures, storeIds: number[]): OrderRequest[] {
  const random = seededRandom(settings.seed + 1);
  const products = fixtures.spread.productIds;
  return Array.from({ length: settings.spreadOrders }, () => {
    const store = storeIds[Math.floor(random() * storeIds.length)]!;
    const count = 1 + Math.floor(random() * 3);
    const chosen = new Set<number>();
    while (chosen.size < count) chosen.add(products[Math.floor(random() * products.length)]!);
    return { store_id: store, items: [...chosen].map((product_id) => ({ product_id, quantity_requested: 1 + Math.floor(random() * 3) })) };
  });
}

function countErrors(statuses: number[], ok: number): Record<string, number> {
  const errors: Record<string, number> = {};
  for (const status of statuses) if (status !== ok) errors[status] = (errors[status] ?? 0) + 1;
  return errors;
}

async function waitUntil(what: string, timeoutMs: number, done: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await done()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  say(`  gave up waiting for ${what} after ${timeoutMs / 1000} s`);
  return false;
}

async function confirmedSoFar(db: Db, storeIds: number[]): Promise<number> {
  const row = await db('orders').whereIn('store_id', storeIds).where('status', 'CONFIRMED').count<{ count: number }[]>('* as count').first();
  return Number(row?.count ?? 0);
}

/** Everything a phase drives and measures. */
interface Stack {
  db: Db;
  tokens: string[];
  initialStock: StockRow[];
  web: JsonClient;
  naive: JsonClient;
  webProcess: RunningProcess;
  workerProcesses: RunningProcess[];
  naiveProcess: RunningProcess;
  decisions: DecisionListener;
  mail: MailSink;
  /** Stores whose confirmed orders send emails (the product's, not the naive app's). */
  emailStores: number[];
}

/** Something whose CPU time can be read: a process of the stack, PostgreSQL, this process. */
type CpuSource = () => number;

const benchCpuSeconds: CpuSource = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

/**
 * CPU milliseconds per order each group of sources used while `work` ran, and the share of the
 * machine's CPU time (all cores over that while) the groups used together.
 */
async function cpuPerOrder<T, K extends string>(groups: Record<K, CpuSource[]>, orders: number, work: () => Promise<T>): Promise<{ result: T; ms: Record<K, number>; machineShare: number }> {
  const read = () => Object.fromEntries(Object.entries<CpuSource[]>(groups).map(([name, sources]) => [name, sources.reduce((sum, source) => sum + source(), 0)]));
  const before = read();
  const started = performance.now();
  const result = await work();
  const seconds = (performance.now() - started) / 1000;
  const after = read();
  const used = Object.keys(groups).map((name) => after[name]! - before[name]!);
  const ms = Object.fromEntries(Object.keys(groups).map((name, i) => [name, (used[i]! * 1000) / orders])) as Record<K, number>;
  return { result, ms, machineShare: used.reduce((sum, s) => sum + s, 0) / (cpus().length * seconds) };
}

const cpuOf = (processes: RunningProcess[]): CpuSource[] => processes.map((p) => () => p.cpuSeconds());

/**
 * The product: POST every order (202 expected), then wait until the workers decided them all and
 * the confirmation emails arrived (so that work is not measured in the next phase). Decision
 * latency and throughput are client-side: POST sent → decision notification received.
 */
async function runQueued(stack: Stack, orders: OrderRequest[], storeIds: number[]): Promise<QueuedPhase> {
  const { db, decisions, mail } = stack;
  const emailsBefore = mail.received();
  const groups = { web: cpuOf([stack.webProcess]), worker: cpuOf(stack.workerProcesses), postgres: [localPostgresCpuSeconds], bench: [benchCpuSeconds] };
  const { result: submit, ms: cpu, machineShare } = await cpuPerOrder(groups, orders.length, async () => {
    const submitted = await closedLoop(orders.length, settings.concurrency, (i) => stack.web.send('POST', '/orders/orders/', orders[i], stack.tokens[i % stack.tokens.length]));
    await waitUntil('the decisions', 120_000 + orders.length * 20, async () => (await pendingOrders(db, storeIds)) === 0);
    const confirmed = await confirmedSoFar(db, stack.emailStores);
    say(`  ${submitted.results.filter((r) => r.status === 202).length} accepted, all decided; waiting for ${confirmed - mail.received()} confirmation emails`);
    await waitUntil('the confirmation emails', 120_000, async () => mail.received() >= confirmed);
    return submitted;
  });
  const accepted = submit.results.filter((r) => r.status === 202);
  const idOf = (r: HttpResult) => (r.body as { id: number }).id;
  await waitUntil('the decision notifications', 5_000, async () => accepted.every((r) => decisions.seenAt.has(idOf(r))));
  const decidedAt = accepted.map((r) => decisions.seenAt.get(idOf(r)));
  const latencies = accepted.flatMap((r, i) => (decidedAt[i] === undefined ? [] : [decidedAt[i]! - r.startedAt]));
  const firstSubmit = Math.min(...submit.results.map((r) => r.startedAt));
  const lastDecision = Math.max(...decidedAt.map((t) => t ?? Number.NaN));
  const times = await decisionTimes(db, storeIds);
  return {
    orders: orders.length,
    accepted: accepted.length,
    errors: countErrors(submit.results.map((r) => r.status), 202),
    confirmed: times.confirmed,
    rejected: times.rejected,
    submitP50: percentile(accepted.map((r) => r.ms), 50),
    submitP99: percentile(accepted.map((r) => r.ms), 99),
    decisionP50: percentile(latencies, 50),
    decisionP99: percentile(latencies, 99),
    missingNotifications: accepted.length - latencies.length,
    dbDecisionP50: percentile(times.latenciesMs, 50),
    dbDecisionP99: percentile(times.latenciesMs, 99),
    decidedPerSecond: accepted.length / ((lastDecision - firstSubmit) / 1000),
    check: await checkStock(db, storeIds, stack.initialStock, accepted.length),
    emailsDelivered: mail.received() - emailsBefore,
    webCpuMs: cpu.web,
    workerCpuMs: cpu.worker,
    postgresCpuMs: cpu.postgres,
    benchCpuMs: cpu.bench,
    machineShare,
  };
}

/** Baseline (b): the same orders, decided inside the request (201 expected). */
async function runNaive(stack: Stack, orders: OrderRequest[], storeIds: number[]): Promise<NaivePhase> {
  const { result: run, ms: cpu } = await cpuPerOrder({ app: cpuOf([stack.naiveProcess]), postgres: [localPostgresCpuSeconds] }, orders.length, () =>
    closedLoop(orders.length, settings.concurrency, (i) => stack.naive.send('POST', '/orders/orders/', orders[i], stack.tokens[i % stack.tokens.length])),
  );
  const accepted = run.results.filter((r) => r.status === 201);
  const times = await decisionTimes(stack.db, storeIds);
  return {
    orders: orders.length,
    accepted: accepted.length,
    errors: countErrors(run.results.map((r) => r.status), 201),
    confirmed: times.confirmed,
    p50: percentile(accepted.map((r) => r.ms), 50),
    p99: percentile(accepted.map((r) => r.ms), 99),
    decidedPerSecond: accepted.length / run.seconds,
    check: await checkStock(stack.db, storeIds, stack.initialStock, accepted.length),
    cpuMs: cpu.app,
    postgresCpuMs: cpu.postgres,
  };
}

function machine(): string {
  const model = (() => {
    try {
      return execFileSync('lscpu', { encoding: 'utf8' }).match(/Model name:\s*(.+)/)?.[1]?.trim();
    } catch {
      return undefined;
    }
  })();
  return `${cpus().length} CPUs (nproc), ${model ?? cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`;
}

async function main(): Promise<void> {
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) throw new Error('Set DATABASE_URL to a PostgreSQL server, e.g. postgres://postgres@127.0.0.1:5432/postgres');
  const jwtSecret = 'bench-orders-secret-that-is-at-least-32-characters';
  const processes: RunningProcess[] = [];
  let mail: MailSink | null = null;
  let db: Db | null = null;
  let decisions: DecisionListener | null = null;
  const loadAtStart = loadavg().map((l) => l.toFixed(2)).join(' ');
  try {
    say('preparing the database shop_bench_orders');
    const databaseUrl = await recreateBenchDatabase(serverUrl);
    db = openBenchDb(databaseUrl);
    await migrateAndSeed(db);
    const fixtures = await createFixtures(db, { users: settings.users, flashStock: settings.flashStock, spreadStores: settings.stores, spreadProducts: settings.products, seed: settings.seed });
    // Users are pre-registered; their tokens are issued once, up front, as POST /api/token/ would.
    const tokens = fixtures.userIds.map((userId) => signAccessToken({ userId, isStaff: false }, jwtSecret, 3600));

    // Before the stack starts, so its connection pools do not compete for max_connections.
    say(`baseline (a): one-row UPDATE loop for ${settings.rowLockSeconds} s at concurrency ${settings.concurrency}`);
    const rowLock = await measureRowLockCeiling(databaseUrl, fixtures.rowLock, settings.concurrency, settings.rowLockSeconds);

    mail = await startMailSink();
    const env: Record<string, string> = {
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      DATABASE_URL: databaseUrl,
      JWT_SECRET: jwtSecret,
      SMTP_URL: mail.url,
      REDIS_KEY_PREFIX: 'shop_bench_orders:',
    };
    decisions = await listenForDecisions(databaseUrl);
    say('starting web, worker(s), mailer and the naive app');
    const webProcess = await startProcess('web', 'server/main.ts', env, true);
    processes.push(webProcess);
    const workerProcesses: RunningProcess[] = [];
    // As the Procfile runs them: order workers (`worker`) and a mailer for the emails (`mailer`).
    for (let i = 0; i < settings.workers; i++) workerProcesses.push(await startProcess(`worker ${i + 1}`, 'workers/main.ts', env, false, ['orders']));
    workerProcesses.push(await startProcess('mailer', 'workers/main.ts', env, false, ['email']));
    processes.push(...workerProcesses);
    const naiveProcess = await startProcess('naive app', 'bench/naive-order-app.ts', env, true);
    processes.push(naiveProcess);
    const web = new JsonClient(webProcess.url!, settings.concurrency);
    const naive = new JsonClient(naiveProcess.url!, settings.concurrency);
    const stack: Stack = {
      db,
      tokens,
      initialStock: fixtures.initialStock,
      web,
      naive,
      webProcess,
      workerProcesses,
      naiveProcess,
      decisions,
      mail,
      emailStores: [fixtures.warmup.storeId, fixtures.flash.storeId, ...fixtures.spread.storeIds],
    };

    say('warming up both designs');
    const warmup = Array.from({ length: 200 }, () => ({ store_id: fixtures.warmup.storeId, items: [{ product_id: fixtures.warmup.productId, quantity_requested: 1 }] }));
    await runQueued(stack, warmup, [fixtures.warmup.storeId]);
    await runNaive(stack, warmup.map((o) => ({ ...o, store_id: fixtures.warmup.naiveStoreId })), [fixtures.warmup.naiveStoreId]);

    say(`flash sale: ${settings.flashOrders} orders for ${settings.flashStock} units of one product`);
    const flashQueued = await runQueued(stack, flashOrders(fixtures, fixtures.flash.storeId), [fixtures.flash.storeId]);
    const flashNaive = await runNaive(stack, flashOrders(fixtures, fixtures.flash.naiveStoreId), [fixtures.flash.naiveStoreId]);

    say(`spread: ${settings.spreadOrders} orders over ${settings.stores} stores`);
    const spreadQueued = await runQueued(stack, spreadOrders(fixtures, fixtures.spread.storeIds), fixtures.spread.storeIds);
    const spreadNaive = await runNaive(stack, spreadOrders(fixtures, fixtures.spread.naiveStoreIds), fixtures.spread.naiveStoreIds);
    web.close();
    naive.close();
    say('stopping the stack');

    const date = new Date().toISOString();
    const markdown = renderReport({
      date,
      command: `npm run bench:orders${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
      machine: machine(),
      load: `${loadAtStart} at the start, ${loadavg().map((l) => l.toFixed(2)).join(' ')} at the end`,
      settings: `${settings.flashOrders} flash-sale orders (stock ${settings.flashStock}), ${settings.spreadOrders} spread orders over ${settings.stores} stores × ${settings.products} products, concurrency ${settings.concurrency}, ${settings.users} users, ${settings.workers} order worker process(es) and 1 mailer, seed ${settings.seed}`,
      rowLock,
      flash: { queued: flashQueued, naive: flashNaive },
      spread: { queued: spreadQueued, naive: spreadNaive },
    });
    process.stdout.write(`${markdown}\n`);
    const dir = join(projectRoot, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `orders-${date.replace(/[:.]/g, '-')}.md`);
    writeFileSync(file, `${markdown}\n`);
    say(`written to ${file}`);
    const failed = [flashQueued, spreadQueued, flashNaive, spreadNaive].some((p) => !p.check.ok);
    if (failed) process.exitCode = 1;
  } finally {
    for (const running of processes.reverse()) await running.stop();
    await mail?.close();
    await decisions?.close();
    await db?.destroy();
  }
}

await main();
