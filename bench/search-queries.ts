// The product searches the benchmark sends and docs/query-plans.md explains: a realistic mix of
// the query shapes clients use (text, typo, category + price, store stock, orderings, deep pages,
// stock in any store).
// Store 7 and the category names exist in every seed size (db/seeds/01_catalog.ts).

export interface SearchScenario {
  name: string;
  /** Query string of GET /api/search/products/ */
  query: string;
}

export const searchScenarios: SearchScenario[] = [
  { name: 'text, popular word', query: 'search=iphone' },
  { name: 'text, two words', query: 'search=macbook%20air' },
  { name: 'text, typo (fuzzy fallback)', query: 'search=thinkpda' },
  { name: 'text + category + price, cheapest first', query: 'search=galaxy&category=phones&price_max=900&ordering=price' },
  { name: 'category + price range, cheapest first', query: 'category=Laptops&price_min=500&price_max=1500&ordering=price' },
  { name: 'store + in stock, newest first', query: 'store_id=7&in_stock=true&ordering=newest' },
  { name: 'store quantities, by title, page 5', query: 'store_id=7&ordering=title&page=5' },
  { name: 'newest first, no filter', query: 'ordering=newest' },
  { name: 'most expensive, page 50', query: 'ordering=-price&page=50' },
  { name: 'in stock in any store, by category, cheapest first', query: 'category=Laptops&in_stock=true&ordering=price' },
];
