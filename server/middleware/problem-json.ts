import type { Context, Middleware } from 'koa';
import { STATUS_CODES } from 'node:http';
import { isDatabaseUnreachable } from '../../core/db-errors.ts';
import { badRequest, Problem, unavailable } from '../../core/problems.ts';
import type { Logger } from '../../core/logger.ts';

// Turns every error into an RFC 9457 problem+json body. Client errors keep their message;
// server errors are logged with their stack and answered with a generic text, so no stack
// trace or SQL ever reaches a client.
export function problemJson(log: Logger): Middleware {
  return async (ctx, next) => {
    try {
      assertParsableTarget(ctx);
      await next();
      if (ctx.body === undefined && ctx.status >= 400) throw routingProblem(ctx);
    } catch (error) {
      const problem = toProblem(error);
      if (problem.status >= 500) log.error({ err: error, method: ctx.method, path: ctx.originalUrl.split('?')[0] }, 'request failed');
      ctx.status = problem.status;
      ctx.set(problem.headers);
      ctx.type = 'application/problem+json';
      ctx.body = {
        type: 'about:blank',
        title: problem.title,
        status: problem.status,
        detail: problem.message,
        ...(problem.errors ? { errors: problem.errors } : {}),
      };
    }
  };
}

/**
 * Koa parses the request target lazily, and an absolute-form target it cannot parse (`GET
 * http://[/ HTTP/1.1`) throws from every read of ctx.path or ctx.query, the router's included:
 * read them once here, so that such a request is the client's 400 and not our 500.
 */
function assertParsableTarget(ctx: Context): void {
  try {
    void ctx.path;
    void ctx.querystring;
  } catch {
    throw badRequest('The request target is not a valid URL.');
  }
}

/**
 * The router answers with a bare status: 404 (no route), or 405 with an Allow header set by
 * allowedMethods(). A method the router does not implement at all (PROPFIND, PURGE) comes back as
 * 501, but the client chose it, so it is a 405 too (or a 404 where no route has the path).
 */
function routingProblem(ctx: Context): Problem {
  const allowed = ctx.response.get('Allow');
  if (ctx.status === 404 || (ctx.status === 501 && !allowed)) {
    return new Problem(404, 'Not Found', `No route for ${ctx.method} ${ctx.path}`);
  }
  if (ctx.status === 405 || ctx.status === 501) {
    return new Problem(405, 'Method Not Allowed', `${ctx.method} is not allowed here; use ${allowed}.`);
  }
  const title = STATUS_CODES[ctx.status] ?? 'Error';
  return new Problem(ctx.status, title, title);
}

function toProblem(error: unknown): Problem {
  if (error instanceof Problem) return error;
  // http-errors thrown by koa, koa-body and the router (413, 415, 405, 429, ...) carry a status
  // and say whether their message is safe to show.
  const status = (error as { status?: unknown })?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const httpError = error as { message: string; expose?: boolean; headers?: Record<string, unknown> };
    const title = STATUS_CODES[status] ?? 'Client Error';
    const headers = Object.fromEntries(
      Object.entries(httpError.headers ?? {}).map(([name, value]) => [name, String(value)]),
    );
    if (status === 429) headers['Retry-After'] = String(Math.max(1, Number(headers['Retry-After'] ?? 1)));
    return new Problem(status, title, httpError.expose === false ? title : httpError.message, undefined, headers);
  }
  if (isDatabaseUnreachable(error)) return unavailable('The database cannot be reached right now; try again shortly.');
  return new Problem(500, 'Internal Server Error', 'The server could not complete the request.');
}
