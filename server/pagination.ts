import type Koa from 'koa';
import type { Context } from 'koa';
import { badRequest } from '../core/problems.ts';

/** Each app's configured public origin (PUBLIC_URL), when it has one. */
const publicOrigins = new WeakMap<Koa, string>();

/** Page links of `app` are built on `publicUrl`'s origin instead of the request's Host. */
export function setPublicUrl(app: Koa, publicUrl: string): void {
  publicOrigins.set(app, new URL(publicUrl).origin);
}

export interface Page<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

/** Wraps one page of results in the DRF envelope, with next/previous as absolute URLs. */
export function pageResponse<T>(ctx: Context, page: number, pageSize: number, count: number, results: T[]): Page<T> {
  const here = requestUrl(ctx);
  const linkTo = (target: number) => {
    const url = new URL(here);
    url.searchParams.set('page', String(target));
    url.searchParams.set('page_size', String(pageSize));
    return url.toString();
  };
  return {
    count,
    next: page * pageSize < count ? linkTo(page + 1) : null,
    previous: page > 1 ? linkTo(Math.min(page - 1, Math.max(1, Math.ceil(count / pageSize)))) : null,
    results,
  };
}

/**
 * The URL the client asked for, which the links are built on: its path and query on the public
 * origin when one is configured, else as the client addressed it. Then its host comes from the
 * Host (or, behind a trusted proxy, X-Forwarded-Host) header, which Node's parser takes as any
 * text: one that is no host at all is the client's error, not ours; and its scheme, behind a
 * trusted proxy, from X-Forwarded-Proto, which is a link's scheme only if it is http or https.
 */
function requestUrl(ctx: Context): URL {
  const origin = publicOrigins.get(ctx.app);
  if (origin) {
    const url = new URL(origin);
    url.pathname = ctx.path;
    url.search = ctx.search;
    return url;
  }
  if (ctx.protocol !== 'http' && ctx.protocol !== 'https') {
    throw badRequest('X-Forwarded-Proto names neither http nor https, so the page links cannot be built.');
  }
  try {
    return new URL(ctx.href);
  } catch {
    throw badRequest('The Host header does not name a host, so the page links cannot be built.');
  }
}
