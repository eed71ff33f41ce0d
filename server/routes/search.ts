import Router from '@koa/router';
import type { Services } from '../../core/services.ts';

// Placeholder: filled in by the search work.
export function searchRoutes(_services: Services): Router {
  return new Router();
}
