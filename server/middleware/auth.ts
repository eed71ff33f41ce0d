import type { Context, Middleware } from 'koa';
import { verifyAccessToken, type AccessClaims } from '../../core/auth/access-tokens.ts';
import { forbidden, unauthorized } from '../../core/problems.ts';

/** The caller's claims if a valid Bearer token was sent, else null (no error). */
export function optionalUser(ctx: Context, secret: string): AccessClaims | null {
  const match = /^Bearer ([^\s]+)$/i.exec(ctx.get('Authorization'));
  return match?.[1] ? verifyAccessToken(match[1], secret) : null;
}

/** 401 unless a valid access token is sent; the claims land in ctx.state.user. */
export function requireUser(secret: string): Middleware {
  return async (ctx, next) => {
    if (!ctx.get('Authorization')) throw unauthorized('Send an access token: Authorization: Bearer <access>.');
    const user = optionalUser(ctx, secret);
    if (!user) throw unauthorized('The access token is invalid or expired.');
    ctx.state.user = user;
    await next();
  };
}

/** 403 unless the authenticated caller is staff; use after requireUser. */
export const requireStaff: Middleware = async (ctx, next) => {
  if (!(ctx.state.user as AccessClaims | undefined)?.isStaff) throw forbidden('This needs a staff account.');
  await next();
};
