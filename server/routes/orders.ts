import Router from '@koa/router';
import type { Services } from '../../core/services.ts';

// Placeholder: filled in by the orders work.
export function ordersRoutes(_services: Services): Router {
  return new Router();
}
