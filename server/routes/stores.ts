import Router from '@koa/router';
import type { Services } from '../../core/services.ts';

// Placeholder: filled in by the stores work.
export function storesRoutes(_services: Services): Router {
  return new Router();
}
