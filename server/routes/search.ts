import Router from '@koa/router';
import { productOrderings, searchProductsCached, typoSimilarityThreshold } from '../../core/catalog/search.ts';
import type { Services } from '../../core/services.ts';
import { json, Money, PageQuery, pageOf, problemResponses, registry, z } from '../openapi.ts';
import { pageResponse } from '../pagination.ts';
import { UNKNOWN_QUERY_PARAMETERS_REFUSED, validateQuery, withoutNul } from '../validate.ts';

// GET /api/search/products/: parse and check the query, run core/catalog/search.ts, wrap the page.

const Amount = z
  .string()
  .regex(/^\d{1,10}(\.\d{1,2})?$/, 'Expected a non-negative amount with at most two decimals, e.g. 49.99')
  .openapi({ example: '100.00' });

const SearchQuery = PageQuery.extend({
  search: z
    .string()
    .max(100)
    .transform((text) => text.trim() || undefined)
    .optional()
    .openapi({
      description:
        'Words to find in titles and descriptions (case-insensitive; every word must match). When no product ' +
        `matches exactly, titles similar to the text are returned instead (typo tolerance, pg_trgm word similarity ≥ ${typoSimilarityThreshold}). ` +
        'Blank is the same as absent.',
      example: 'iphone 15',
    }),
  category: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .refine(...withoutNul)
    .transform((value) => (/^\d{1,9}$/.test(value) ? Number(value) : value))
    .optional()
    .openapi({ description: 'Category id, or name (case-insensitive). An unknown category matches no products (200, empty page).', example: 'Phones' }),
  price_min: Amount.optional().openapi({ description: 'Lowest price, inclusive' }),
  price_max: Amount.optional().openapi({ description: 'Highest price, inclusive; not below price_min' }),
  store_id: z
    .string()
    .regex(/^\d{1,9}$/, 'Expected a store id')
    .transform(Number)
    .optional()
    .openapi({ description: "Adds each product's `store_quantity` in this store; in_stock then refers to this store. 404 if unknown." }),
  in_stock: z
    .enum(['true', 'false'])
    .transform((value) => value === 'true')
    .optional()
    .openapi({ description: 'true: stock > 0 (in store_id, or in any store); false: the complement' }),
  ordering: z.enum(productOrderings).optional().openapi({
    description:
      'Default: relevance when search is given, else id. Ties are broken by id in the direction of the sort ' +
      '(newest, -price, -title: higher id first). relevance without search is id order.',
  }),
}).superRefine((query, context) => {
  if (query.price_min !== undefined && query.price_max !== undefined && Number(query.price_min) > Number(query.price_max)) {
    context.addIssue({ code: 'custom', path: ['price_max'], message: 'price_max must not be below price_min' });
  }
});

const ProductHit = z
  .object({
    id: z.number().int(),
    title: z.string(),
    description: z.string(),
    price: Money,
    category: z.object({ id: z.number().int(), name: z.string() }),
    created_at: z.string().datetime().openapi({ example: '2024-03-23T02:02:25.000Z' }),
    store_quantity: z.number().int().optional().openapi({ description: "Only with store_id: that store's stock, 0 if it has none" }),
  })
  .openapi('ProductHit');

registry.registerPath({
  method: 'get',
  path: '/api/search/products/',
  summary: 'Search and filter products',
  description: `${UNKNOWN_QUERY_PARAMETERS_REFUSED} A page past the end is an empty page with the right count.`,
  tags: ['Search'],
  request: { query: SearchQuery },
  responses: {
    200: { description: 'One page of products', ...json(pageOf(ProductHit)) },
    ...problemResponses(400, 404, 503),
  },
});

export function searchRoutes(services: Services): Router {
  const router = new Router();

  router.get('/api/search/products/', async (ctx) => {
    const query = validateQuery(SearchQuery, ctx.query);
    const { count, results } = await searchProductsCached(services, {
      text: query.search,
      category: query.category,
      priceMin: query.price_min,
      priceMax: query.price_max,
      storeId: query.store_id,
      inStock: query.in_stock,
      ordering: query.ordering,
      page: query.page,
      pageSize: query.page_size,
    });
    ctx.body = pageResponse(ctx, query.page, query.page_size, count, results);
  });

  return router;
}
