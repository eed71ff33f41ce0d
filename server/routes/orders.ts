import Router from '@koa/router';
import type { Context } from 'koa';
import type { AccessClaims } from '../../core/auth/access-tokens.ts';
import type { OrderStatus } from '../../core/models/order.ts';
import { requestCancellation } from '../../core/orders/cancel-order.ts';
import { awaitOrder, listOrders, type OrderView } from '../../core/orders/read-orders.ts';
import type { Services } from '../../core/services.ts';
import { requireUser } from '../middleware/auth.ts';
import { bearerAuth, json, Money, PageQuery, pageOf, problemResponses, registry, z } from '../openapi.ts';
import { pageResponse } from '../pagination.ts';
import { UNKNOWN_QUERY_PARAMETERS_REFUSED, validate, validateQuery } from '../validate.ts';

// Orders are decided asynchronously by the order worker (core/orders/decide.ts). These routes
// place, read, long-poll and cancel them; every one needs a Bearer token, and another user's
// order is a 404 like a missing one.

const DatabaseId = z.number().int().min(1).max(2_147_483_647);

const OrderItemRequest = z.object({
  product_id: DatabaseId,
  quantity_requested: z.number().int().min(1).max(1000),
});

const PlaceOrderRequest = z
  .object({
    store_id: DatabaseId,
    items: z.array(OrderItemRequest).min(1).max(50),
  })
  .superRefine((body, ctx) => {
    const seen = new Set<number>();
    body.items.forEach((item, index) => {
      if (seen.has(item.product_id)) {
        ctx.addIssue({ code: 'custom', path: ['items', index, 'product_id'], message: `product ${item.product_id} is listed more than once; send each product once with its total quantity` });
      }
      seen.add(item.product_id);
    });
  })
  .openapi('PlaceOrderRequest', {
    example: { store_id: 1, items: [{ product_id: 42, quantity_requested: 2 }, { product_id: 7, quantity_requested: 1 }] },
  });

const Rejection = z
  .object({
    reason: z.string().openapi({ description: '`insufficient_stock`: the lines in `items` were short. `invalid_order`: the stored order has no lines. `processing_error`: the order could not be processed.' }),
    items: z.array(z.object({ product_id: z.number().int(), requested: z.number().int(), available: z.number().int() })),
  })
  .openapi('OrderRejection');

const OrderSchema = z
  .object({
    id: z.number().int(),
    status: z.enum(['PENDING', 'CONFIRMED', 'REJECTED', 'CANCELLED']),
    store_id: z.number().int(),
    items: z.array(
      z.object({
        product_id: z.number().int(),
        quantity_requested: z.number().int(),
        unit_price: Money.openapi({ description: 'The price when the order was placed' }),
      }),
    ),
    rejection: Rejection.optional().openapi({ description: 'Only on a REJECTED order' }),
    created_at: z.iso.datetime(),
    decided_at: z.iso.datetime().nullable().openapi({ description: 'When it was confirmed or rejected (or cancelled while pending); null while PENDING' }),
    cancelled_at: z.iso.datetime().nullable(),
  })
  .openapi('Order');

const OrderPath = z.object({
  // Digits only, within PostgreSQL's integer range, so a malformed id is a 400, never a 500.
  id: z
    .string()
    .regex(/^\d{1,10}$/, 'must be a positive integer')
    .transform(Number)
    .pipe(DatabaseId)
    .openapi({ type: 'integer', description: 'Order id', example: 1 }),
});

const waitSeconds = (max: number, description: string) =>
  z
    .string()
    .regex(/^\d+(\.\d+)?$/, 'must be a number of seconds')
    .transform(Number)
    .pipe(z.number().max(max, `must be at most ${max}`))
    .optional()
    .openapi({ type: 'number', minimum: 0, maximum: max, description });

const PlaceQuery = z.object({
  wait: waitSeconds(30, 'Hold the response up to this many seconds until the order is decided (201 if it is, else 202).'),
});
const GetQuery = z.object({
  wait: waitSeconds(60, 'Long-poll: answer as soon as the order is no longer PENDING, or with the current order when the time is up.'),
});
const CancelQuery = z.object({
  wait: waitSeconds(30, 'Hold the response up to this many seconds until the cancellation is decided (200 if it is, else 202).'),
});
const IdempotencyKey = z.string().min(1).max(255).optional();
const IdempotencyHeaders = z.object({
  'Idempotency-Key': IdempotencyKey.openapi({
    description: 'Retry-safe placing: a repeat with the same key and the same body returns the order the first request placed (same id, no second order); the same key with a different body is a 409. Keys are per user.',
  }),
});

const security = [{ [bearerAuth.name]: [] }];
const location = { Location: { description: 'The order: /orders/orders/{id}', schema: { type: 'string' as const } } };
const placed = {
  ...location,
  'Idempotent-Replayed': { description: '`true` on a replay under the same Idempotency-Key (the original order); absent otherwise', schema: { type: 'string' as const } },
};

registry.registerPath({
  method: 'post',
  path: '/orders/orders/',
  summary: 'Place an order',
  description:
    'Validates the order and queues it for a decision; once 202 is sent the order is stored and will be decided. ' +
    "Orders of one store are decided one at a time, in the order they were placed: all lines are reserved from the store's stock (CONFIRMED) or nothing is taken (REJECTED, with the short lines). " +
    `A confirmed order is emailed to the customer. ${UNKNOWN_QUERY_PARAMETERS_REFUSED}`,
  tags: ['Orders'],
  security,
  request: { query: PlaceQuery, headers: IdempotencyHeaders, body: { required: true, ...json(PlaceOrderRequest) } },
  responses: {
    201: { description: 'Decided within `wait`, or an idempotent replay of an order that is decided: the order in its final state', headers: placed, ...json(OrderSchema) },
    202: {
      description: 'Accepted and stored, not decided yet (follow Location). A replay under the same Idempotency-Key carries `Idempotent-Replayed: true`.',
      headers: placed,
      ...json(OrderSchema),
    },
    ...problemResponses(400, 401, 409, 413, 415, 503),
  },
});
registry.registerPath({
  method: 'get',
  path: '/orders/orders/',
  summary: 'My orders',
  description: `The caller's orders, newest first, paginated. ${UNKNOWN_QUERY_PARAMETERS_REFUSED}`,
  tags: ['Orders'],
  security,
  request: { query: PageQuery },
  responses: { 200: { description: 'One page of orders', ...json(pageOf(OrderSchema)) }, ...problemResponses(400, 401, 503) },
});
registry.registerPath({
  method: 'get',
  path: '/orders/orders/{id}',
  summary: 'An order (optionally long-polling for its decision)',
  description: 'With `wait`, the request is held until the order is decided or the time is up. Waiting does not poll the database: the worker notifies the web process when it decides. ' + UNKNOWN_QUERY_PARAMETERS_REFUSED,
  tags: ['Orders'],
  security,
  request: { params: OrderPath, query: GetQuery },
  responses: { 200: { description: 'The order', ...json(OrderSchema) }, ...problemResponses(400, 401, 404, 503) },
});
registry.registerPath({
  method: 'post',
  path: '/orders/orders/{id}/cancel',
  summary: 'Cancel an order',
  description:
    "Queues the cancellation of a PENDING or CONFIRMED order. It is decided in the store's line, after every order and cancellation queued before it: " +
    "the order becomes CANCELLED and a confirmed order's stock goes back to the store. If the order's placement is rejected first, the cancellation changes nothing (the order stays REJECTED). " +
    `Cancelling twice returns the stock once. ${UNKNOWN_QUERY_PARAMETERS_REFUSED}`,
  tags: ['Orders'],
  security,
  request: { params: OrderPath, query: CancelQuery },
  responses: {
    200: { description: 'Decided within `wait`: the order, CANCELLED (or REJECTED if its placement was rejected first)', headers: location, ...json(OrderSchema) },
    202: { description: 'Cancellation queued; the order as it is now (follow Location)', headers: location, ...json(OrderSchema) },
    ...problemResponses(400, 401, 404, 409, 413, 415, 503),
  },
});

const decided = (status: OrderStatus) => status !== 'PENDING';
const cancellationDecided = (status: OrderStatus) => status === 'CANCELLED' || status === 'REJECTED';

export function ordersRoutes(services: Services): Router {
  const router = new Router();
  const auth = requireUser(services.jwtSecret);
  const userId = (ctx: Context) => (ctx.state.user as AccessClaims).userId;
  const wait = (ctx: Context, orderId: number, seconds: number | undefined, until: (status: OrderStatus) => boolean) =>
    awaitOrder(services.db, services.orderEvents, userId(ctx), orderId, { waitMs: (seconds ?? 0) * 1000, until, ...(seconds ? { signal: clientGone(ctx) } : {}) });
  // Once placed, the order is stored: a failure while waiting for its decision (the database
  // away for a moment) must not answer 503, which tells a client to place it again, but 202 with
  // the order as placed, whose Location the client then polls.
  const decisionOrAsPlaced = async (ctx: Context, placed: OrderView, seconds: number) => {
    try {
      return await wait(ctx, placed.id, seconds, decided);
    } catch (error) {
      services.log.warn({ err: error, orderId: placed.id }, 'order placed, but waiting for its decision failed: answering 202');
      return placed;
    }
  };
  const answer = (ctx: Context, status: number, order: OrderView) => {
    ctx.status = status;
    ctx.set('Location', `/orders/orders/${order.id}`);
    ctx.body = order;
  };

  router.post('/orders/orders/', auth, async (ctx) => {
    const query = validateQuery(PlaceQuery, ctx.query);
    const idempotencyKey = validate(IdempotencyKey, ctx.headers['idempotency-key'], 'Idempotency-Key header (1 to 255 characters)');
    const body = validate(PlaceOrderRequest, ctx.request.body, 'body');
    const placed = await services.placements.place({ userId: userId(ctx), request: body, idempotencyKey });
    const order = query.wait ? await decisionOrAsPlaced(ctx, placed.order, query.wait) : placed.order;
    if (placed.replayed) ctx.set('Idempotent-Replayed', 'true');
    answer(ctx, decided(order.status) ? 201 : 202, order);
  });

  router.get('/orders/orders/', auth, async (ctx) => {
    const { page, page_size } = validateQuery(PageQuery, ctx.query);
    const { count, results } = await listOrders(services.db, userId(ctx), page, page_size);
    ctx.body = pageResponse(ctx, page, page_size, count, results);
  });

  router.get('/orders/orders/:id', auth, async (ctx) => {
    const { id } = validate(OrderPath, ctx.params, 'path');
    const query = validateQuery(GetQuery, ctx.query);
    ctx.body = await wait(ctx, id, query.wait, decided);
  });

  router.post('/orders/orders/:id/cancel', auth, async (ctx) => {
    const { id } = validate(OrderPath, ctx.params, 'path');
    const query = validateQuery(CancelQuery, ctx.query);
    await requestCancellation(services, userId(ctx), id);
    const order = await wait(ctx, id, query.wait, cancellationDecided);
    answer(ctx, cancellationDecided(order.status) ? 200 : 202, order);
  });

  return router;
}

/** Aborts when the client disconnects while we are still holding its response. */
function clientGone(ctx: Context): AbortSignal {
  const controller = new AbortController();
  ctx.res.once('close', () => controller.abort());
  return controller.signal;
}
