import Router from '@koa/router';
import { listStores, storeInventory } from '../../core/catalog/stores.ts';
import type { Services } from '../../core/services.ts';
import { json, Money, PageQuery, pageOf, problemResponses, registry, z } from '../openapi.ts';
import { pageResponse } from '../pagination.ts';
import { UNKNOWN_QUERY_PARAMETERS_REFUSED, validate, validateQuery, withoutNul } from '../validate.ts';

const Store = z
  .object({ id: z.number().int(), name: z.string(), city: z.string(), created_at: z.iso.datetime() })
  .openapi('Store');

const StorePath = z.object({
  // Digits only, within PostgreSQL's integer range, so a malformed id is a 400, never a 500.
  id: z
    .string()
    .regex(/^\d{1,10}$/, 'must be a positive integer')
    .transform(Number)
    .pipe(z.number().int().min(1).max(2_147_483_647))
    .openapi({ type: 'integer', description: 'Store id', example: 1 }),
});

const InventoryQuery = PageQuery.extend({
  in_stock: z
    .enum(['true', 'false'])
    .transform((value) => value === 'true')
    .optional()
    .openapi({ description: '`true`: only lines with stock; `false`: only lines without' }),
  search: z
    .string()
    .trim()
    .max(200)
    .refine(...withoutNul)
    .optional()
    .openapi({ description: 'Case-insensitive text the title contains (taken literally)' }),
});

const InventoryLine = z
  .object({
    product_id: z.number().int(),
    title: z.string(),
    category: z.object({ id: z.number().int(), name: z.string() }),
    price: Money,
    quantity: z.number().int(),
  })
  .openapi('InventoryLine');

registry.registerPath({
  method: 'get',
  path: '/stores/',
  summary: 'List stores',
  description: `Stores ordered by id, paginated. ${UNKNOWN_QUERY_PARAMETERS_REFUSED}`,
  tags: ['Stores'],
  request: { query: PageQuery },
  responses: {
    200: { description: 'One page of stores', ...json(pageOf(Store)) },
    ...problemResponses(400, 503),
  },
});

registry.registerPath({
  method: 'get',
  path: '/stores/{id}/inventory/',
  summary: "A store's inventory",
  description: `The products the store lists with its stock, sorted by title (then product id), paginated. ${UNKNOWN_QUERY_PARAMETERS_REFUSED}`,
  tags: ['Stores'],
  request: { params: StorePath, query: InventoryQuery },
  responses: {
    200: { description: 'One page of inventory lines', ...json(pageOf(InventoryLine)) },
    ...problemResponses(400, 404, 503),
  },
});

export function storesRoutes(services: Services): Router {
  const router = new Router();

  router.get('/stores/', async (ctx) => {
    const { page, page_size } = validateQuery(PageQuery, ctx.query);
    const { count, results } = await listStores(services.db, { page, pageSize: page_size });
    ctx.body = pageResponse(ctx, page, page_size, count, results);
  });

  router.get('/stores/:id/inventory/', async (ctx) => {
    const { id } = validate(StorePath, ctx.params, 'path');
    const { page, page_size, in_stock, search } = validateQuery(InventoryQuery, ctx.query);
    const { count, results } = await storeInventory(services.db, id, {
      page,
      pageSize: page_size,
      inStock: in_stock,
      search: search || undefined,
    });
    ctx.body = pageResponse(ctx, page, page_size, count, results);
  });

  return router;
}
