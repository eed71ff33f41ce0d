// Search benchmark: `npm run bench:search` (options after `--`):
//   --products 1200,1000000   catalog sizes to measure (default: the default seed and a million)
//   --duration 10             seconds per measured row
//   --connections 32          concurrent clients
//   --reseed                  reload the catalog even if the bench database already has that size
//   --rows a,b0,b3            only these rows (a, b, b0-b10, c; default all), for a shorter loop
//
// For each catalog size it migrates and seeds a database of its own (shop_bench_search_<size>)
// on the server of BENCH_DATABASE_URL or DATABASE_URL (default postgres://postgres@127.0.0.1:5432),
// starts the real web process (`node server/main.ts`) against it, and measures with autocannon:
//   (a) a bare Koa route returning a constant (bench/bare-server.ts): the HTTP ceiling;
//   (b) product search: the mix of bench/search-queries.ts from the result cache (the
//       production setting), then the same mix and each query on its own with the cache off
//       (a second web process with SEARCH_CACHE_SECONDS=0): what every cache miss costs;
//   (c) suggestions on a cache hit (GET /api/search/suggest/?q=app), rate limit lifted, in
//       rounds alternating with the bare route (the ratio of each round to its own bare run).
// REDIS_URL, when set, is given to the app (suggestion cache and rate limits in Redis).
// It prints a markdown table: requests/s, p50 and p99 latency, requests/s relative to (a), and
// the CPU time per request of the web process and of the local PostgreSQL server (/proc), which
// is steadier than latency on a shared machine.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { createDb, seedsDir } from '../core/db.ts';
import { createDatabaseIfMissing } from '../core/embedded-postgres.ts';
import { createLogger } from '../core/logger.ts';
import { migrateToLatest } from '../core/migrate.ts';
import { measure, type Measurement } from './autocannon.ts';
import { localPostgresCpuSeconds, startProcess, type RunningProcess } from './orders-stack.ts';
import { searchScenarios } from './search-queries.ts';

const { values: options } = parseArgs({
  options: {
    products: { type: 'string', default: '1200,1000000' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    reseed: { type: 'boolean', default: false },
    rows: { type: 'string' },
  },
});
const sizes = options.products.split(',').map((size) => Number(size.trim()));
const durationSeconds = Number(options.duration);
const connections = Number(options.connections);
if (sizes.some((size) => !Number.isInteger(size) || size <= 0) || !(durationSeconds > 0) || !(connections > 0)) {
  throw new Error('usage: node bench/search.ts [--products 1200,1000000] [--duration 10] [--connections 32] [--reseed] [--rows a,b,b0,...,b10,c]');
}
const selectedRows = options.rows === undefined ? null : new Set(options.rows.split(',').map((row) => row.trim()));
const measures = (row: string) => selectedRows === null || selectedRows.has(row);
const serverUrl = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

interface Row {
  scenario: string;
  products: number;
  measurement: Measurement;
  /** CPU milliseconds per request of the process under test and of the local PostgreSQL server. */
  cpuMs: { app: number; postgres: number };
  /** Requests/s of the bare route in the same catalog's run, for the ratio column. */
  bareRequestsPerSecond: number;
  /** The target this row is held to, if any, and whether it was met. */
  target?: { text: string; met: boolean };
}

/** The bench database for `products` products, migrated and seeded (reused when already that size). */
async function prepareDatabase(products: number): Promise<string> {
  const name = `shop_bench_search_${products}`;
  const admin = new URL(serverUrl);
  admin.pathname = '/postgres';
  await createDatabaseIfMissing(admin.toString(), name);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const db = createDb(url.toString());
  try {
    await migrateToLatest(db, createLogger('silent'));
    const { n } = (await db('product_count').first('n')) as { n: number };
    if (n === products && !options.reseed) {
      console.log(`${name}: already seeded with ${products} products (--reseed to reload)`);
    } else {
      process.env.SEED_PRODUCTS = String(products); // read by db/seeds/01_catalog.ts
      const started = performance.now();
      await db.seed.run({ directory: seedsDir, loadExtensions: ['.ts'] });
      console.log(`${name}: seeded ${products} products in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
  } finally {
    await db.destroy();
  }
  return url.toString();
}

/**
 * Waits until the database runs no query for us: a slow row leaves requests queued in the app's
 * pool and queries running after autocannon stops, which would otherwise be billed to the next row.
 */
async function drained(databaseUrl: string): Promise<void> {
  const database = new URL(databaseUrl).pathname.slice(1);
  const monitor = createDb(serverUrl, 1);
  try {
    for (let quiet = 0, deadline = Date.now() + 120_000; quiet < 3 && Date.now() < deadline; ) {
      const { rows } = await monitor.raw(
        "SELECT count(*) AS active FROM pg_stat_activity WHERE datname = ? AND state = 'active' AND pid <> pg_backend_pid()",
        [database],
      );
      quiet = rows[0].active === 0 ? quiet + 1 : 0;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await monitor.destroy();
  }
}

async function measureCatalog(products: number, bareServer: RunningProcess): Promise<Row[]> {
  const databaseUrl = await prepareDatabase(products);
  const startWeb = (name: string, searchCacheSeconds: string) =>
    startProcess(name, 'server/main.ts', {
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      DATABASE_URL: databaseUrl,
      JWT_SECRET: randomBytes(32).toString('hex'),
      SUGGEST_RATE_LIMIT_PER_MINUTE: '1000000000',
      SEARCH_CACHE_SECONDS: searchCacheSeconds,
      REDIS_KEY_PREFIX: `shop_bench_search:${process.pid}:`,
      ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
    }, true);
  const web = await startWeb('web', '60');
  const uncached = await startWeb('web-uncached', '0');
  const run = async (server: { url: string | null; cpuSeconds(): number }, paths: string[], seconds = durationSeconds) => {
    await drained(databaseUrl);
    const [app, postgres] = [server.cpuSeconds(), localPostgresCpuSeconds()];
    const measurement = await measure(server.url!, paths, { connections, durationSeconds: seconds });
    const perRequest = (seconds: number) => (seconds * 1000) / Math.max(1, measurement.requests);
    return { measurement, cpuMs: { app: perRequest(server.cpuSeconds() - app), postgres: perRequest(localPostgresCpuSeconds() - postgres) } };
  };
  const searchPaths = searchScenarios.map((scenario) => `/api/search/products/?${scenario.query}`);
  const suggestPath = '/api/search/suggest/?q=app';
  const searchTarget = products >= 100_000 ? 60 : 20;
  try {
    // Every query answers 200 before anything is measured; a short load warms caches and pools.
    for (const server of [web, uncached]) {
      for (const path of [...searchPaths, suggestPath]) {
        const response = await fetch(server.url + path);
        if (response.status !== 200) throw new Error(`${path}: HTTP ${response.status} ${await response.text()}`);
      }
      await run(server, [...searchPaths, suggestPath], Math.min(3, durationSeconds));
    }

    const rows: Row[] = [];
    const log = (row: Row) => {
      rows.push(row);
      console.log(
        `  ${row.scenario}: ${Math.round(row.measurement.requestsPerSecond)} req/s, p99 ${row.measurement.p99} ms, ` +
          `CPU per request: app ${row.cpuMs.app.toFixed(2)} ms, PostgreSQL ${row.cpuMs.postgres.toFixed(2)} ms`,
      );
    };
    console.log(`measuring ${products} products, ${connections} connections, ${durationSeconds} s per row`);
    // The bare route is always measured: every other row's ratio is to it.
    const bare = await run(bareServer, ['/bare']);
    const bareRequestsPerSecond = bare.measurement.requestsPerSecond;
    if (measures('a')) log({ scenario: '(a) bare Koa route', products, ...bare, bareRequestsPerSecond });
    const searchRow = (scenario: string, measured: Awaited<ReturnType<typeof run>>): Row => ({
      scenario,
      products,
      ...measured,
      bareRequestsPerSecond,
      target: { text: `p99 < ${searchTarget} ms`, met: measured.measurement.p99 < searchTarget },
    });
    if (measures('b')) log(searchRow('(b) search, mix of all queries below, result cache on', await run(web, searchPaths)));
    if (measures('b0')) log(searchRow('(b0) search, the same mix, result cache off', await run(uncached, searchPaths)));
    for (const [i, scenario] of searchScenarios.entries()) {
      if (!measures(`b${i + 1}`)) continue;
      log(searchRow(`(b${i + 1}) search, cache off: ${scenario.name}`, await run(uncached, [searchPaths[i]!])));
    }
    if (measures('c')) log(await measureSuggestions(run, web, bareServer, suggestPath, products));
    return rows;
  } finally {
    await Promise.all([web.stop(), uncached.stop()]);
  }
}

type Run = (server: RunningProcess, paths: string[]) => Promise<Pick<Row, 'measurement' | 'cpuMs'>>;

// Rounds of the suggestion row, each right after a bare-route run of its own.
const SUGGEST_ROUNDS = 3;

/**
 * (c) is a ratio of two throughputs, and this machine's speed drifts over a run by more than the
 * margin to the target. So the bare route and the suggestion hit are measured in alternating
 * rounds, each round's ratio from its own pair, and the round with the median ratio is reported.
 */
async function measureSuggestions(run: Run, web: RunningProcess, bareServer: RunningProcess, suggestPath: string, products: number): Promise<Row> {
  const rounds: Row[] = [];
  for (let round = 0; round < SUGGEST_ROUNDS; round++) {
    const bare = await run(bareServer, ['/bare']);
    const suggest = await run(web, [suggestPath]);
    rounds.push({ scenario: '', products, ...suggest, bareRequestsPerSecond: bare.measurement.requestsPerSecond });
  }
  const ratio = (row: Row) => row.measurement.requestsPerSecond / row.bareRequestsPerSecond;
  const ratios = rounds.map((row) => `${Math.round(100 * ratio(row))}%`).join(', ');
  const median = [...rounds].sort((a, b) => ratio(a) - ratio(b))[Math.floor(SUGGEST_ROUNDS / 2)]!;
  return {
    ...median,
    scenario: `(c) suggest, cache hit (median of ${SUGGEST_ROUNDS} rounds, each against its own bare run: ${ratios})`,
    target: { text: '≥ 50% of bare req/s', met: ratio(median) >= 0.5 },
  };
}

function table(rows: Row[]): string {
  const lines = [
    '| Scenario | Products | Requests/s | p50 ms | p99 ms | vs bare req/s | CPU ms/request: app + PostgreSQL | Target | Non-2xx / errors |',
    '|---|---:|---:|---:|---:|---:|---:|---|---:|',
  ];
  for (const row of rows) {
    const m = row.measurement;
    const ratio = `${Math.round((100 * m.requestsPerSecond) / row.bareRequestsPerSecond)}%`;
    const target = row.target ? `${row.target.text} ${row.target.met ? '✅' : '❌'}` : '';
    lines.push(
      `| ${row.scenario} | ${row.products.toLocaleString('en')} | ${Math.round(m.requestsPerSecond)} | ${m.p50} | ${m.p99} | ${ratio} | ` +
        `${row.cpuMs.app.toFixed(2)} + ${row.cpuMs.postgres.toFixed(2)} | ${target} | ${m.non2xx} / ${m.errors} |`,
    );
  }
  return lines.join('\n');
}

const startedAt = new Date();
const loadAtStart = os.loadavg();
const bareServer = await startProcess('bare', 'bench/bare-server.ts', {}, true);
const results: Row[] = [];
try {
  for (const products of sizes) results.push(...(await measureCatalog(products, bareServer)));
} finally {
  await bareServer.stop();
}

console.log(`\n## Search benchmark\n`);
console.log(
  `\`npm run bench:search -- --products ${sizes.join(',')} --duration ${durationSeconds} --connections ${connections}` +
    `${options.rows === undefined ? '' : ` --rows ${options.rows}`}\`, ` +
    `${startedAt.toISOString()}; ${os.availableParallelism()} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), ` +
    `load average at start ${loadAtStart.map((load) => load.toFixed(2)).join(' ')}; Redis: ${process.env.REDIS_URL ? 'yes' : 'no (in-memory cache)'}.\n`,
);
console.log(table(results));
console.log('\nQueries (GET /api/search/products/?…):');
for (const [i, scenario] of searchScenarios.entries()) console.log(`- b${i + 1} ${scenario.name}: \`${scenario.query}\``);
