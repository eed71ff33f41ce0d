import type { Context } from 'koa';
import { badRequest } from '../core/problems.ts';

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
 * The URL the client asked for, which the links are built on. Its host comes from the Host (or,
 * behind a trusted proxy, X-Forwarded-Host) header, which Node's parser takes as any text: one
 * that is no host at all is the client's error, not ours.
 */
function requestUrl(ctx: Context): URL {
  try {
    return new URL(ctx.href);
  } catch {
    throw badRequest('The Host header does not name a host, so the page links cannot be built.');
  }
}
