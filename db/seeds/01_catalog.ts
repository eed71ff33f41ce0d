import type { Knex } from 'knex';
import { bumpCatalogVersion } from '../../core/catalog/catalog-cache.ts';
import { loadConfig } from '../../core/config.ts';
import { createLogger } from '../../core/logger.ts';
import { connectRedis } from '../../core/redis.ts';

// The catalog every environment starts from: categories, products, stores and their stock.
//
// Deterministic: the same SEED_PRODUCTS gives the same rows, ids included, on every run (tests and
// the benchmark rely on it). Every "random" choice is integer arithmetic on the product id and the
// store id, evaluated by PostgreSQL: rows are generated server-side with INSERT ... SELECT over
// generate_series, so a million products load without shipping a million rows through Node.
//
// A product is one of the product LINES below ("Apple iPhone 15") in one of its category's
// variants ("256GB") and finishes ("Midnight"); past the first few thousand products, editions
// ("(Renewed)") keep titles varied. Product i takes line i mod #lines, so every category is spread
// evenly over the id range, and created_at is scattered over two years by a hash of i, so "newest"
// is not just "highest id".

interface Category {
  name: string;
  variants: string[];
  finishes: string[];
  /** Sentences that describe this kind of product; each product picks one. */
  features: string[];
  /** [title stem, base price in whole currency units] */
  lines: [string, number][];
}

const catalog: Category[] = [
  {
    name: 'Phones',
    variants: ['128GB', '256GB', '512GB'],
    finishes: ['Black', 'Blue', 'Green', 'Titanium', 'White'],
    features: [
      'A bright OLED display, all-day battery life and a triple-lens camera that shines in low light.',
      'Fast 5G connectivity, water resistance and years of software updates.',
      'Unlocked for every major carrier, with dual SIM and wireless charging.',
    ],
    lines: [
      ['Apple iPhone 15', 799], ['Apple iPhone 15 Pro', 999], ['Apple iPhone 15 Pro Max', 1199], ['Apple iPhone SE', 429],
      ['Samsung Galaxy S24', 799], ['Samsung Galaxy S24 Ultra', 1299], ['Samsung Galaxy A55', 449], ['Google Pixel 8', 699],
      ['Google Pixel 8 Pro', 999], ['OnePlus 12', 799], ['Motorola Edge 50', 549], ['Nokia G42', 199],
    ],
  },
  {
    name: 'Tablets',
    variants: ['64GB Wi-Fi', '256GB Wi-Fi', '256GB Wi-Fi + Cellular'],
    finishes: ['Space Gray', 'Silver', 'Starlight', 'Purple'],
    features: [
      'A large, colour-accurate screen for drawing, reading and streaming.',
      'Works with a keyboard cover and stylus, so it doubles as a laptop.',
      'Light enough to hold in one hand for hours, with a battery that lasts all day.',
    ],
    lines: [
      ['Apple iPad Air', 599], ['Apple iPad Pro 11-inch', 999], ['Apple iPad mini', 499], ['Samsung Galaxy Tab S9', 799],
      ['Samsung Galaxy Tab A9', 219], ['Lenovo Tab P12', 349], ['Amazon Fire HD 10', 139], ['Microsoft Surface Pro 9', 999],
    ],
  },
  {
    name: 'Laptops',
    variants: ['8GB RAM 256GB SSD', '16GB RAM 512GB SSD', '32GB RAM 1TB SSD'],
    finishes: ['Silver', 'Space Gray', 'Graphite', 'Midnight'],
    features: [
      'A thin aluminium chassis, a backlit keyboard and a battery that lasts a full working day.',
      'Fast enough for photo editing and software development, quiet enough for the library.',
      'Two Thunderbolt ports, Wi-Fi 6E and a 1080p webcam for video calls.',
    ],
    lines: [
      ['Apple MacBook Air 13', 1099], ['Apple MacBook Pro 14', 1599], ['Dell XPS 13', 999], ['Dell Inspiron 15', 599],
      ['Lenovo ThinkPad X1 Carbon', 1399], ['Lenovo IdeaPad Slim 5', 699], ['HP Spectre x360', 1249], ['HP Pavilion 15', 649],
      ['ASUS ZenBook 14', 899], ['Acer Swift Go 14', 799],
    ],
  },
  {
    name: 'Wearables',
    variants: ['41mm', '45mm'],
    finishes: ['Midnight', 'Starlight', 'Silver', 'Product Red'],
    features: [
      'Tracks heart rate, sleep and workouts, and warns you about irregular rhythms.',
      'GPS, contactless payments and a week of battery between charges.',
      'Swim-proof, with fall detection and emergency calls.',
    ],
    lines: [
      ['Apple Watch Series 9', 399], ['Apple Watch Ultra 2', 799], ['Apple Watch SE', 249], ['Samsung Galaxy Watch 6', 299],
      ['Garmin Forerunner 265', 449], ['Fitbit Charge 6', 159], ['Google Pixel Watch 2', 349],
    ],
  },
  {
    name: 'Audio',
    variants: ['Standard', 'with Charging Case'],
    finishes: ['Black', 'White', 'Midnight Blue', 'Sandstone'],
    features: [
      'Active noise cancelling that silences trains, planes and open-plan offices.',
      'Rich, balanced sound with deep bass and clear vocals at any volume.',
      'Bluetooth multipoint pairing and up to 30 hours of playback.',
    ],
    lines: [
      ['Apple AirPods Pro', 249], ['Apple AirPods Max', 549], ['Sony WH-1000XM5 Headphones', 399],
      ['Bose QuietComfort Ultra Headphones', 429], ['Sennheiser Momentum 4 Headphones', 349], ['JBL Flip 6 Speaker', 129],
      ['Sonos Era 100 Speaker', 249], ['Samsung Galaxy Buds2 Pro', 229], ['Audio-Technica AT-LP60X Turntable', 149],
    ],
  },
  {
    name: 'Televisions',
    variants: ['43-inch', '55-inch', '65-inch', '75-inch'],
    finishes: ['Black', 'Titan Black', 'Silver'],
    features: [
      'Deep blacks and vivid HDR colour, with a 120 Hz panel for sport and gaming.',
      'Built-in streaming apps and voice control, no extra box needed.',
      'Dolby Vision, Dolby Atmos and four HDMI 2.1 inputs.',
    ],
    lines: [
      ['Samsung Neo QLED 4K TV', 1299], ['LG OLED evo C3 TV', 1499], ['Sony Bravia XR A80L TV', 1599],
      ['TCL 6-Series Mini-LED TV', 799], ['Hisense U8 ULED TV', 899], ['Philips Ambilight 4K TV', 999],
    ],
  },
  {
    name: 'Cameras',
    variants: ['Body Only', 'with 18-55mm Lens', 'with 24-105mm Lens'],
    finishes: ['Black', 'Silver'],
    features: [
      'A full-frame sensor and fast autofocus that tracks eyes, animals and vehicles.',
      'Shoots 4K video at 60 fps with in-body image stabilisation.',
      'Weather-sealed body with dual card slots for professional work.',
    ],
    lines: [
      ['Canon EOS R6 Mark II', 2499], ['Canon EOS R50', 679], ['Sony Alpha a7 IV', 2499], ['Nikon Z6 II', 1999],
      ['Fujifilm X-T5', 1699], ['GoPro HERO12 Black', 399], ['DJI Osmo Pocket 3', 519],
    ],
  },
  {
    name: 'Gaming',
    variants: ['Standard Edition', 'Bundle with Extra Controller', 'Digital Edition'],
    finishes: ['White', 'Black', 'Neon Red'],
    features: [
      'Lightning-fast load times and 4K gaming at up to 120 frames per second.',
      'Play at home on the big screen or take your library on the road.',
      'Low-latency wireless with a battery that outlasts long sessions.',
    ],
    lines: [
      ['Sony PlayStation 5 Console', 499], ['Microsoft Xbox Series X', 499], ['Nintendo Switch OLED', 349],
      ['Valve Steam Deck OLED', 549], ['Logitech G Pro X Superlight Mouse', 159], ['Razer BlackWidow V4 Keyboard', 169],
      ['Sony DualSense Wireless Controller', 69],
    ],
  },
  {
    name: 'Smart Home',
    variants: ['Single Pack', 'Two Pack', 'Starter Kit'],
    finishes: ['Charcoal', 'Chalk', 'Sky Blue'],
    features: [
      'Works with Alexa, Google Assistant and Apple Home; set up in minutes from your phone.',
      'Automations and schedules that save energy while you are away.',
      'End-to-end encrypted video and instant alerts on your phone.',
    ],
    lines: [
      ['Amazon Echo Dot', 49], ['Google Nest Hub', 99], ['Apple HomePod mini', 99], ['Philips Hue White and Color Bulb', 49],
      ['Ring Video Doorbell 4', 219], ['Google Nest Learning Thermostat', 249], ['Arlo Pro 5 Security Camera', 249],
      ['iRobot Roomba j7+ Robot Vacuum', 799],
    ],
  },
  {
    name: 'Kitchen Appliances',
    variants: ['Standard', 'Deluxe'],
    finishes: ['Stainless Steel', 'Black', 'Empire Red', 'Cream'],
    features: [
      'Brushed stainless steel that wipes clean, with dishwasher-safe parts.',
      'Precise temperature control for consistent results every time.',
      'Compact enough for a small kitchen, powerful enough for a family.',
    ],
    lines: [
      ['Breville Barista Express Espresso Machine', 699], ['Nespresso Vertuo Coffee Maker', 199],
      ['KitchenAid Artisan Stand Mixer', 449], ['Ninja Air Fryer Max XL', 129], ['Instant Pot Duo 7-in-1', 99],
      ['Vitamix 5200 Blender', 449], ['Appliance Cleaning Kit', 29], ['Apple Corer and Slicer', 19],
    ],
  },
  {
    name: 'Networking & Servers',
    variants: ['Standard', 'Enterprise', 'with 3-Year Support'],
    finishes: ['Black', 'White', 'Gray'],
    features: [
      'Rack-mountable, with redundant power supplies and hot-swappable fans.',
      'Managed from a web console or a mobile app, with automatic firmware updates.',
      'Wi-Fi 6 coverage for the whole building, with no dead spots.',
    ],
    lines: [
      ['Application Server Rack 42U', 1899], ['Application Delivery Controller', 4999], ['Cisco Catalyst 9200 Switch', 2999],
      ['Ubiquiti UniFi Dream Machine', 379], ['Netgear Nighthawk Wi-Fi 6 Router', 229], ['TP-Link Deco Mesh System', 199],
      ['Synology DiskStation DS923+ NAS', 599], ['Dell PowerEdge R760 Server', 6499],
    ],
  },
  {
    name: 'Accessories',
    variants: ['Standard', 'Two Pack'],
    finishes: ['Black', 'White', 'Clear', 'Navy'],
    features: [
      'Precision-fit, tested for drops from two metres.',
      'Charges phones, tablets and laptops over USB-C Power Delivery.',
      'Travel-friendly and built to last, with a lifetime warranty.',
    ],
    lines: [
      ['Apple MagSafe Charger', 39], ['Apple Pencil (2nd generation)', 129], ['Anker PowerCore 20000 Power Bank', 49],
      ['Belkin USB-C Hub 7-in-1', 59], ['Samsung 45W Super Fast Charger', 49], ['Logitech MX Master 3S Mouse', 99],
      ['Spigen Ultra Hybrid Case for iPhone 15', 19], ['OtterBox Defender Case for Galaxy S24', 59],
    ],
  },
];

// Appended to titles once every line x variant x finish combination has been used.
const editions = ['', ' (Renewed)', ' (2024 Edition)', ' Bundle', ' (Open Box)'];

// Closing sentences shared by every category; each product picks one.
const servicePhrases = [
  'Ships within two business days.',
  'Backed by a two-year manufacturer warranty.',
  'Free returns within 30 days.',
  'Includes a quick-start guide and all cables.',
  'Eligible for next-day delivery in most cities.',
  'Certified by our technicians before shipping.',
];

const stores: [string, string][] = [
  ['Shop Berlin Mitte', 'Berlin'], ['Shop Berlin Kreuzberg', 'Berlin'], ['Shop Hamburg Altona', 'Hamburg'],
  ['Shop Munich Marienplatz', 'Munich'], ['Shop Cologne Dom', 'Cologne'], ['Shop Frankfurt Zeil', 'Frankfurt'],
  ['Shop Stuttgart Königstraße', 'Stuttgart'], ['Shop Düsseldorf Kö', 'Düsseldorf'], ['Shop Leipzig Zentrum', 'Leipzig'],
  ['Shop Dresden Altmarkt', 'Dresden'], ['Shop Vienna Mariahilf', 'Vienna'], ['Shop Zurich Bahnhofstrasse', 'Zurich'],
  ['Shop Amsterdam Centrum', 'Amsterdam'], ['Shop Paris Opéra', 'Paris'], ['Shop Lyon Part-Dieu', 'Lyon'],
  ['Shop Madrid Gran Vía', 'Madrid'], ['Shop Barcelona Eixample', 'Barcelona'], ['Shop Milan Duomo', 'Milan'],
  ['Shop Rome Termini', 'Rome'], ['Shop London Oxford Street', 'London'], ['Shop Manchester Arndale', 'Manchester'],
  ['Shop Dublin Grafton Street', 'Dublin'], ['Shop Copenhagen Strøget', 'Copenhagen'], ['Shop Stockholm Drottninggatan', 'Stockholm'],
  ['Shop Warsaw Śródmieście', 'Warsaw'],
];

/** Products per INSERT: big enough to be fast, small enough to show progress. */
const chunkSize = 100_000;
/** From this size on, indexes and foreign keys are dropped for the load and rebuilt at the end. */
const rebuildIndexesFrom = 50_000;

/**
 * A number in [0, n) picked by Fibonacci hashing of an integer SQL expression: multiply by an odd
 * constant near 2^32/phi, keep the low 32 bits, scale to n by the high bits. This is our seeded
 * PRNG: a handful of bigint operations (it runs 25 million times in a million-product load) and
 * identical on every PostgreSQL. Different multipliers give independent-looking picks.
 */
function pickSql(expression: string, n: number | string, multiplier = 2654435761): string {
  return `(((${expression})::bigint * ${multiplier} % 4294967296) * (${n}) >> 32)`;
}

// Stock rules, by product id `p.i` and store id `s.id`:
// - default seed: a store carries 90% of the catalog; a large seed (the million-product benchmark):
//   a deterministic 8% subset per store, about 80,000 products per store and 2 million rows in all
//   instead of 25 million, which keeps the whole load under two minutes;
// - 1 in 8 of the products a store carries is at 0 there, and 1 product in 50 is sold out in every
//   store, so in_stock=false finds something with and without store_id.
function stockRules(products: number) {
  const carriedPercent = products >= rebuildIndexesFrom ? 8 : 90;
  const pair = 'p.i * 64 + s.id';
  return {
    carried: `${pickSql(pair, 100)} < ${carriedPercent}`,
    quantity: `CASE WHEN ${pickSql('p.i', 50, 3266489917)} = 0 OR ${pickSql(pair, 8, 2246822519)} = 0 THEN 0
                    ELSE 1 + ${pickSql(pair, 120, 3266489917)} END`,
  };
}

export async function seed(knex: Knex): Promise<void> {
  const products = loadConfig().SEED_PRODUCTS;
  const progress = progressReporter(products);
  const started = performance.now();

  await knex.transaction(async (trx) => {
    // Index builds are the slow part of a big load: give them memory.
    await trx.raw("SET LOCAL maintenance_work_mem = '512MB'");
    await trx.raw('TRUNCATE inventory, products, stores, categories RESTART IDENTITY CASCADE');

    const deferred = products >= rebuildIndexesFrom ? await dropIndexesAndForeignKeys(trx) : [];

    await trx('categories').insert(catalog.map((category, i) => ({ id: i + 1, name: category.name })));
    await trx('stores').insert(stores.map(([name, city], i) => ({ id: i + 1, name, city })));
    await loadLines(trx);

    const rules = stockRules(products);
    for (let from = 1; from <= products; from += chunkSize) {
      const to = Math.min(products, from + chunkSize - 1);
      await insertProducts(trx, from, to);
      await trx.raw(
        `INSERT INTO inventory (store_id, product_id, quantity)
         SELECT s.id, p.i, ${rules.quantity}
         FROM generate_series(?::int, ?::int) AS p(i) CROSS JOIN stores s
         WHERE ${rules.carried}
         ORDER BY s.id, p.i`,
        [from, to],
      );
      progress.update('products and stock', to, performance.now() - started);
    }

    for (const [i, { name, definition }] of deferred.entries()) {
      progress.update(`rebuilding ${name}`, i, performance.now() - started, deferred.length);
      await trx.raw(definition);
    }

    // Explicit ids were inserted; move the sequences past them for rows created later.
    for (const table of ['categories', 'stores', 'products']) {
      await trx.raw(`SELECT setval(pg_get_serial_sequence(?, 'id'), (SELECT max(id) FROM ??))`, [table, table]);
    }
  });

  // Fresh statistics for the planner, a visibility map so that counts can be answered by
  // index-only scans, and, at every size, GIN indexes without a pending list: rows inserted into a
  // GIN index (fastupdate) wait in an unsorted list that every trigram search reads in full until
  // a vacuum merges it (on the default seed it held all 1,200 products: 1-2 ms per text search).
  // VACUUM cannot run inside a transaction, hence after commit.
  progress.update('vacuum analyze', products, performance.now() - started);
  await knex.raw('VACUUM ANALYZE categories, stores, products, inventory, product_stock_counts');
  await invalidateCachedAnswers();
  progress.done(performance.now() - started);
}

/** The catalog was replaced: suggestions and search pages cached in Redis must not outlive it. */
async function invalidateCachedAnswers(): Promise<void> {
  const config = loadConfig();
  if (!config.REDIS_URL) return; // an in-memory cache belongs to a process that is not this one
  const log = createLogger('warn');
  const redis = connectRedis(config.REDIS_URL, config.REDIS_KEY_PREFIX, log)!;
  try {
    await redis.connect();
    await bumpCatalogVersion({ redis, log });
  } finally {
    redis.disconnect();
  }
}

/** The product lines as a temporary table the generating INSERTs join against. */
async function loadLines(trx: Knex.Transaction): Promise<void> {
  await trx.raw(`
    CREATE TEMPORARY TABLE seed_lines (
      n int PRIMARY KEY, category_id int, stem text, base_price numeric,
      variants text[], finishes text[], features text[]
    ) ON COMMIT DROP`);
  const rows = catalog.flatMap((category, c) =>
    category.lines.map(([stem, basePrice]) => ({
      category_id: c + 1,
      stem,
      base_price: basePrice,
      variants: category.variants,
      finishes: category.finishes,
      features: category.features,
    })),
  );
  await trx('seed_lines').insert(rows.map((row, n) => ({ n, ...row })));
}

/** Products with ids from..to, every column a function of the id. */
async function insertProducts(trx: Knex.Transaction, from: number, to: number): Promise<void> {
  const lineCount = catalog.reduce((sum, category) => sum + category.lines.length, 0);
  await trx.raw(
    `INSERT INTO products (id, title, description, price, category_id, created_at)
     SELECT g.i,
            l.stem || ' ' || v.variant || ', ' || f.finish || e.edition,
            l.stem || ' ' || v.variant || ' in ' || f.finish || '. '
              || l.features[1 + ${pickSql('g.i', 'cardinality(l.features)')}] || ' '
              || (?::text[])[1 + ${pickSql('g.i', '?', 2246822519)}],
            -- Dearer variants cost more, editions other than the first are discounted, prices end in .99 or .49.
            round(l.base_price * (1 + 0.25 * v.k) * CASE WHEN e.k = 0 THEN 1 ELSE 0.85 END)
              - CASE WHEN g.i % 3 = 0 THEN 0.51 ELSE 0.01 END,
            l.category_id,
            timestamptz '2023-01-01 00:00:00+00' + ${pickSql('g.i', 63072000, 3266489917)} * interval '1 second'
     FROM generate_series(?::int, ?::int) AS g(i)
     JOIN seed_lines l ON l.n = (g.i - 1) % ?
     CROSS JOIN LATERAL (SELECT (g.i - 1) / ? AS combination) AS c
     CROSS JOIN LATERAL (
       SELECT c.combination % cardinality(l.variants) AS k, l.variants[1 + c.combination % cardinality(l.variants)] AS variant
     ) AS v
     CROSS JOIN LATERAL (
       SELECT l.finishes[1 + (c.combination / cardinality(l.variants)) % cardinality(l.finishes)] AS finish
     ) AS f
     CROSS JOIN LATERAL (
       SELECT c.combination / (cardinality(l.variants) * cardinality(l.finishes)) % ? AS k,
              (?::text[])[1 + c.combination / (cardinality(l.variants) * cardinality(l.finishes)) % ?] AS edition
     ) AS e
     ORDER BY g.i`,
    [servicePhrases, servicePhrases.length, from, to, lineCount, lineCount, editions.length, editions, editions.length],
  );
}

interface Deferred {
  name: string;
  /** The statement that puts it back. */
  definition: string;
}

/**
 * Drops what makes a big load slow, returning the statements that put it back: the catalog's
 * secondary indexes (not those behind primary keys and unique constraints) and its foreign keys.
 * Building an index once over a million rows is several times faster than maintaining it row by
 * row (GIN trigram indexes above all), and re-adding a foreign key checks every row with one join
 * instead of one trigger query per inserted row. Reading the definitions from the catalog keeps
 * this in step with whatever the migrations created.
 */
async function dropIndexesAndForeignKeys(trx: Knex.Transaction): Promise<Deferred[]> {
  const { rows } = await trx.raw<{ rows: (Deferred & { drop: string })[] }>(`
    SELECT c.conname AS name,
           format('ALTER TABLE %s DROP CONSTRAINT %I', c.conrelid::regclass, c.conname) AS drop,
           format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname, pg_get_constraintdef(c.oid)) AS definition
    FROM pg_constraint c
    WHERE c.contype = 'f' AND c.conrelid IN ('products'::regclass, 'inventory'::regclass)
    UNION ALL
    SELECT i.indexrelid::regclass::text, format('DROP INDEX %s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid)
    FROM pg_index i
    WHERE i.indrelid IN ('products'::regclass, 'inventory'::regclass)
      AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
    ORDER BY 1`);
  for (const row of rows) await trx.raw(row.drop);
  return rows.map(({ name, definition }) => ({ name, definition }));
}

/** A progress bar on a terminal, plain lines otherwise; silent for loads that take no time. */
function progressReporter(products: number) {
  const visible = products >= rebuildIndexesFrom;
  const tty = process.stdout.isTTY === true;
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
  return {
    update(phase: string, done: number, elapsedMs: number, total = products) {
      if (!visible) return;
      const fraction = total === 0 ? 1 : done / total;
      if (tty) {
        const width = 30;
        const filled = Math.round(fraction * width);
        const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
        process.stdout.write(`\r\x1b[K[${bar}] ${Math.round(fraction * 100)}% ${phase} ${seconds(elapsedMs)}`);
      } else {
        console.log(`seed: ${phase} ${done}/${total} (${Math.round(fraction * 100)}%) ${seconds(elapsedMs)}`);
      }
    },
    done(elapsedMs: number) {
      if (!visible) return;
      if (tty) process.stdout.write('\n');
      console.log(`seed: ${products} products loaded in ${seconds(elapsedMs)}`);
    },
  };
}
