// The newcomer path, end to end, against `npm start` (embedded PostgreSQL, no Redis, no SMTP):
// the seeded catalog answers a search, and an order placed by a new account is decided by the
// workers that `npm start` runs and its confirmation written to .data/mail/ by its mailer.
// Usage: node .ci/newcomer-check.ts <base URL> <mail directory>
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

const [base, mailDir] = process.argv.slice(2);
if (!base || !mailDir) throw new Error('usage: node .ci/newcomer-check.ts <base URL> <mail directory>');

// The answers are read field by field, and each check says what it expected.
async function call(path: string, init: { body?: unknown; token?: string } = {}): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (init.body !== undefined) headers['Content-Type'] = 'application/json';
  if (init.token) headers.Authorization = `Bearer ${init.token}`;
  const response = await fetch(base + path, { method: init.body === undefined ? 'GET' : 'POST', headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
  return { status: response.status, body: await response.json() };
}
function expect(condition: boolean, what: string, seen: unknown): void {
  if (!condition) throw new Error(`${what}; got ${JSON.stringify(seen)}`);
}

const search = await call('/api/search/products/?search=apple&page_size=5');
expect(search.status === 200 && search.body.count > 0, 'a search of the seeded catalog finds products', search);
console.log(`search: ${search.body.count} products match "apple"`);

const username = `newcomer${Date.now()}`;
const password = 'a newcomer password';
const registered = await call('/api/register/', { body: { username, email: `${username}@example.com`, password } });
expect(registered.status === 201, 'registration answers 201', registered);
const login = await call('/api/token/', { body: { username, password } });
expect(login.status === 200, 'login answers 200', login);

const stock = await call('/stores/1/inventory/?in_stock=true&page_size=1');
expect(stock.status === 200 && stock.body.results.length === 1, 'store 1 has a product in stock', stock);
const productId = stock.body.results[0].product_id;
const mailFiles = () => readdir(mailDir).catch(() => [] as string[]);
const earlierMail = new Set(await mailFiles()); // an earlier run's order may have had the same id
const order = await call('/orders/orders/?wait=30', { token: login.body.access, body: { store_id: 1, items: [{ product_id: productId, quantity_requested: 1 }] } });
expect(order.status === 201 && order.body.status === 'CONFIRMED', 'the order is decided CONFIRMED within its wait (201)', order);
console.log(`order ${order.body.id}: ${order.body.status}`);

for (let attempt = 0; ; attempt++) {
  const files = (await mailFiles()).filter((file) => !earlierMail.has(file));
  const texts = await Promise.all(files.map((file) => readFile(join(mailDir, file), 'utf8')));
  if (texts.some((text) => text.includes(`Order #${order.body.id} confirmed`))) break;
  expect(attempt < 60, `the confirmation of order ${order.body.id} is written to ${mailDir} within 30 s`, files);
  await new Promise((resolve) => setTimeout(resolve, 500));
}
console.log(`order ${order.body.id}: confirmation email written to ${mailDir}`);
