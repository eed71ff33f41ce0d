import Router from '@koa/router';
import { createHash } from 'node:crypto';
import type { Context } from 'koa';
import { signAccessToken } from '../../core/auth/access-tokens.ts';
import { authenticate, comparableUsername, registerUser, Registration } from '../../core/auth/accounts.ts';
import { issueRefreshToken, revokeRefreshTokenFamily, rotateRefreshToken } from '../../core/auth/refresh-tokens.ts';
import { unauthorized } from '../../core/problems.ts';
import type { Services } from '../../core/services.ts';
import { clientNetwork, rateLimit } from '../middleware/rate-limit.ts';
import { json, problemResponses, rateLimitHeaders, registry, z } from '../openapi.ts';
import { validate, withoutNul } from '../validate.ts';

// Rebuilt around core's fields with the `z` extended in openapi.ts: zod 4 copies methods into a
// schema when it is built, so one built before that module ran may lack .openapi().
const RegisterRequest = z.object(Registration.shape).openapi('RegisterRequest', {
  example: { username: 'alice', email: 'alice@example.com', password: 'correct horse battery staple' },
});
const Account = z
  .object({ id: z.number().int(), username: z.string(), email: z.string() })
  .openapi('Account', { example: { id: 1, username: 'alice', email: 'alice@example.com' } });
// Login takes any string: the registration rules are not repeated here, a bad name just fails to match.
const LoginRequest = z
  .object({ username: z.string().min(1).max(150).refine(...withoutNul), password: z.string().min(1).max(1024) })
  .openapi('LoginRequest');
const RefreshRequest = z.object({ refresh: z.string().min(1).max(256) }).openapi('RefreshRequest');
const TokenPair = z
  .object({
    access: z.string().openapi({ description: 'JWT for `Authorization: Bearer`; expires after minutes' }),
    refresh: z.string().openapi({ description: 'Opaque, single use: trade it once for a new pair' }),
  })
  .openapi('TokenPair');

/** A 401 response described for what it means on this endpoint (not the generic "bad token"). */
const refused = (description: string) => ({ 401: { ...problemResponses(401)[401], description } });

registry.registerPath({
  method: 'post',
  path: '/api/register/',
  summary: 'Create an account',
  description: 'Rate limited per client IP (REGISTER_RATE_LIMIT_PER_HOUR).',
  tags: ['Auth'],
  request: { body: { required: true, ...json(RegisterRequest) } },
  responses: { 201: { description: 'Created', ...json(Account) }, ...problemResponses(400, 409, 413, 415, 429, 503) },
});
registry.registerPath({
  method: 'post',
  path: '/api/token/',
  summary: 'Log in: trade a username and password for an access and a refresh token',
  description: 'Rate limited per client IP and per username.',
  tags: ['Auth'],
  request: { body: { required: true, ...json(LoginRequest) } },
  responses: { 200: { description: 'Logged in', headers: rateLimitHeaders, ...json(TokenPair) }, ...problemResponses(400, 413, 415, 429, 503), ...refused('Wrong username or password') },
});
registry.registerPath({
  method: 'post',
  path: '/api/token/refresh/',
  summary: 'Trade a refresh token for a new pair (the refresh token rotates)',
  description: 'A refresh token works once. Presenting a used one again revokes every token of its session.',
  tags: ['Auth'],
  request: { body: { required: true, ...json(RefreshRequest) } },
  responses: {
    200: { description: 'New tokens', ...json(TokenPair) },
    ...problemResponses(400, 413, 415, 503),
    ...refused('The refresh token is unknown, expired, already used or revoked'),
  },
});

registry.registerPath({
  method: 'post',
  path: '/api/token/revoke/',
  summary: 'Log out: revoke a refresh token and every token of its session',
  description:
    'The session ends: the token, and every token it was traded for, is refused from now on. ' +
    'Access tokens already issued stay valid until they expire (minutes). An unknown, expired or ' +
    'already revoked token is answered 204 as well (RFC 7009), so the answer reveals nothing.',
  tags: ['Auth'],
  request: { body: { required: true, ...json(RefreshRequest) } },
  responses: { 204: { description: 'The session is revoked' }, ...problemResponses(400, 413, 415, 503) },
});

export function authRoutes(services: Services): Router {
  const router = new Router();
  const loginLimit = { max: services.config.LOGIN_RATE_LIMIT_PER_15_MINUTES, durationMs: 15 * 60 * 1000, redis: services.redis, log: services.log, whenStoreFails: 'refuse' as const };
  // Per IP slows one client guessing many accounts; per username slows many clients (a botnet)
  // guessing one account. Every attempt counts, successful or not.
  // Without working counters login is refused (503), since unlimited attempts invite guessing.
  const limitPerIp = rateLimit({ name: 'login-ip', ...loginLimit, key: (ctx) => clientNetwork(ctx.ip) });
  const limitPerUsername = rateLimit({ name: 'login-user', ...loginLimit, key: (ctx) => usernameBucket(ctx, services) });
  // Each registration costs a password hash and an account: one client cannot make them in bulk.
  // Signing up is not refused when the counters fail; login is the endpoint guessing targets.
  const limitRegistrations = rateLimit({
    name: 'register-ip',
    max: services.config.REGISTER_RATE_LIMIT_PER_HOUR,
    durationMs: 60 * 60 * 1000,
    key: (ctx) => clientNetwork(ctx.ip),
    redis: services.redis,
    log: services.log,
    whenStoreFails: 'allow',
  });

  const tokensFor = (user: { id: number; isStaff: boolean }, refresh: string) => ({
    access: signAccessToken({ userId: user.id, isStaff: user.isStaff }, services.jwtSecret, services.config.ACCESS_TOKEN_TTL_SECONDS),
    refresh,
  });

  router.post('/api/register/', limitRegistrations, async (ctx) => {
    const registration = validate(RegisterRequest, ctx.request.body, 'body');
    ctx.body = await registerUser(services.db, registration);
    ctx.status = 201;
  });

  router.post('/api/token/', limitPerIp, limitPerUsername, async (ctx) => {
    const { username, password } = validate(LoginRequest, ctx.request.body, 'body');
    const user = await authenticate(services.db, username, password);
    // One answer for an unknown username and a wrong password, so it reveals neither.
    if (!user) throw unauthorized('The username or password is wrong.');
    ctx.body = tokensFor(user, await issueRefreshToken(services, user.id));
  });

  router.post('/api/token/refresh/', async (ctx) => {
    const { refresh } = validate(RefreshRequest, ctx.request.body, 'body');
    const rotated = await rotateRefreshToken(services, refresh);
    ctx.body = tokensFor(rotated.user, rotated.refresh);
  });

  router.post('/api/token/revoke/', async (ctx) => {
    const { refresh } = validate(RefreshRequest, ctx.request.body, 'body');
    await revokeRefreshTokenFamily(services, refresh);
    ctx.status = 204;
  });

  return router;
}

/** The per-username bucket: the name as the login matches it, hashed so keys stay short and no name is stored in Redis. */
async function usernameBucket(ctx: Context, services: Services): Promise<string | false> {
  const username = (ctx.request.body as { username?: unknown } | undefined)?.username;
  // Refused by validation (PostgreSQL text cannot hold NUL either), and counted per IP.
  if (typeof username !== 'string' || username.includes('\0')) return false;
  return createHash('sha256').update(await comparableUsername(services.db, username)).digest('base64url');
}
