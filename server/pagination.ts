import type { Context } from 'koa';

export interface Page<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

/** Wraps one page of results in the DRF envelope, with next/previous as absolute URLs. */
export function pageResponse<T>(ctx: Context, page: number, pageSize: number, count: number, results: T[]): Page<T> {
  const linkTo = (target: number) => {
    const url = new URL(ctx.href);
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
