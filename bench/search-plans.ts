// Prints EXPLAIN (ANALYZE, BUFFERS) of every SQL statement product search runs for each query of
// bench/search-queries.ts, as markdown (docs/query-plans.md is made from its output).
//
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/shop_bench_search_1000000 node bench/search-plans.ts ['query string' ...]
//
// With query strings as arguments (e.g. 'in_stock=false'), it explains those instead.
// The app runs in-process against DATABASE_URL (already migrated and seeded: see bench/search.ts
// or `SEED_PRODUCTS=1000000 npm run db:seed`); each request's SQL is captured from knex and
// explained with the same bindings, so the plans are those of the real queries.
import pg from 'pg';
import { loadConfig } from '../core/config.ts';
import { sessionOptions } from '../core/db.ts';
import { createLogger } from '../core/logger.ts';
import { openServices } from '../core/services.ts';
import { createApp } from '../server/app.ts';
import { close, listen } from '../server/listen.ts';
import { searchScenarios } from './search-queries.ts';

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) throw new Error('Set DATABASE_URL to a seeded database, e.g. postgres://postgres@127.0.0.1:5432/shop_bench_search_1000000');

// No result cache: every request runs its statements.
const config = loadConfig({ ...process.env, LOG_LEVEL: 'warn', REDIS_URL: undefined, SEARCH_CACHE_SECONDS: '0' });
const services = await openServices(config, createLogger('warn'), databaseUrl);
const server = await listen(createApp(services), 0);
const address = server.address();
const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

interface Captured {
  sql: string;
  bindings: unknown[];
  /** Run as a named prepared statement (core/prepared-query.ts), so with its generic plan. */
  prepared: boolean;
}
let captured: Captured[] = [];
services.db.on('query', (query: { sql: string; bindings?: unknown[]; prepared?: boolean }) =>
  captured.push({ sql: query.sql, bindings: query.bindings ?? [], prepared: query.prepared === true }),
);

// The app's session settings (the typo step's threshold, no JIT), so the plans are the app's.
const explainer = new pg.Client({ connectionString: databaseUrl, options: sessionOptions });
await explainer.connect();

const { rows: [size] } = await explainer.query('SELECT (SELECT count(*) FROM products) AS products, (SELECT count(*) FROM inventory) AS inventory');
console.log(`Catalog: ${size.products} products, ${size.inventory} inventory rows. ${new Date().toISOString()}\n`);

/**
 * The plan the app runs: a prepared statement's generic plan (made without the values, which
 * PostgreSQL keeps once it is no dearer than planning each run), else the plan for the values.
 */
async function explain(statement: Captured) {
  if (!statement.prepared) return explainer.query(`EXPLAIN (ANALYZE, BUFFERS) ${statement.sql}`, statement.bindings);
  await explainer.query(`PREPARE explained AS ${statement.sql}`);
  try {
    await explainer.query('SET plan_cache_mode = force_generic_plan');
    const values = statement.bindings.map((value) => explainer.escapeLiteral(String(value))).join(', ');
    return await explainer.query(`EXPLAIN (ANALYZE, BUFFERS) EXECUTE explained${values ? `(${values})` : ''}`);
  } finally {
    await explainer.query('RESET plan_cache_mode');
    await explainer.query('DEALLOCATE explained');
  }
}

/** Plan lines worth reading: nodes, index conditions, filters, sort methods, heap blocks, times. */
const keyLine = /->|^\S|Index Cond|Recheck Cond|Filter:|Sort Method|Heap Blocks|Rows Removed|Heap Fetches/;

const adHoc = process.argv.slice(2).map((query) => ({ name: query, query }));
for (const scenario of adHoc.length > 0 ? adHoc : searchScenarios) {
  const url = `${base}/api/search/products/?${scenario.query}`;
  // The first request also warms the caches, the way a running service has them.
  const body = (await (await fetch(url)).json()) as { count: number };
  const latencies: number[] = [];
  for (let i = 0; i < 5; i++) {
    captured = [];
    const started = performance.now();
    const response = await fetch(url);
    await response.arrayBuffer();
    latencies.push(performance.now() - started);
    if (response.status !== 200) throw new Error(`${scenario.query}: HTTP ${response.status}`);
  }
  latencies.sort((a, b) => a - b);
  console.log(`### ${scenario.name}\n`);
  console.log(`\`GET /api/search/products/?${scenario.query}\` → count ${body.count}; one request at a time: median ${latencies[2]!.toFixed(1)} ms\n`);
  for (const statement of captured.filter((query) => /^\s*(select|with)/i.test(query.sql))) {
    const { rows } = await explain(statement);
    const plan: string[] = rows.map((row: { 'QUERY PLAN': string }) => row['QUERY PLAN']);
    // The whole plan's buffer use is on the first Buffers line (the top node's).
    const lines = [...plan.filter((line) => keyLine.test(line) && !/^(Planning|Execution)/.test(line)), plan.find((line) => /Buffers:/.test(line))?.trim() ?? '', ...plan.filter((line) => /^(Planning|Execution) Time/.test(line))];
    console.log('```');
    if (statement.prepared) console.log('-- prepared statement: its generic plan');
    console.log(statement.sql.length > 400 ? `${statement.sql.slice(0, 400)} …` : statement.sql);
    console.log('--');
    console.log(lines.join('\n'));
    console.log('```\n');
  }
}

await explainer.end();
await close(server);
await services.close();
