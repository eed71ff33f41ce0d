import type { Middleware } from 'koa';
import { Problem } from '../../core/problems.ts';

/** The media types a body may have: JSON, also under a +json suffix. koa-body parses the same. */
export const JSON_TYPES = ['application/json', 'application/*+json'];

// Every request body of this API is JSON. Anything else is refused with 415 before parsing,
// instead of being silently ignored as an empty body.
export const requireJsonBody: Middleware = async (ctx, next) => {
  if ((ctx.request.length ?? 0) > 0 || ctx.get('Transfer-Encoding')) {
    if (!ctx.is(JSON_TYPES)) {
      throw new Problem(415, 'Unsupported Media Type', 'Send the request body as application/json.');
    }
  }
  await next();
};
