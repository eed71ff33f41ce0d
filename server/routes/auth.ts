import Router from '@koa/router';
import type { Services } from '../../core/services.ts';

// Placeholder: filled in by the auth work.
export function authRoutes(_services: Services): Router {
  return new Router();
}
