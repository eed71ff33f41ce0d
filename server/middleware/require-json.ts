import type { Middleware } from 'koa';
import { Problem } from '../../core/problems.ts';

/** The largest Content-Length co-body reads correctly (it truncates lengths to 32-bit integers). */
const MOST_COUNTABLE_LENGTH = 2 ** 31 - 1;

/** The media types a body may have: JSON, also under a +json suffix. koa-body parses the same. */
export const JSON_TYPES = ['application/json', 'application/*+json'];

// Every request body of this API is JSON. Anything else is refused with 415 before parsing,
// instead of being silently ignored as an empty body.
export const requireJsonBody: Middleware = async (ctx, next) => {
  // co-body truncates a declared length to 32 bits (~~length), so a Content-Length of 2^31 or
  // more slipped past the body limit's up-front check, and the request waited for a body it would
  // refuse anyway. Nothing this API takes comes near it.
  if ((ctx.request.length ?? 0) > MOST_COUNTABLE_LENGTH) {
    throw new Problem(413, 'Payload Too Large', 'The request body is larger than this API takes.');
  }
  if ((ctx.request.length ?? 0) > 0 || ctx.get('Transfer-Encoding')) {
    if (!ctx.is(JSON_TYPES)) {
      throw new Problem(415, 'Unsupported Media Type', 'Send the request body as application/json.');
    }
  }
  await next();
};
