import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import Koa from 'koa';
import { signAccessToken, verifyAccessToken } from '../core/auth/access-tokens.ts';
import { createLogger } from '../core/logger.ts';
import { projectRoot } from '../core/paths.ts';
import { requireUser } from '../server/middleware/auth.ts';
import { problemJson } from '../server/middleware/problem-json.ts';
import { close, listen } from '../server/listen.ts';
import { testEnvironment } from './support/environment.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';

// Other test files share the database, so every account here gets a random name.
const tag = () => randomBytes(5).toString('hex');
function newAccount() {
  const id = tag();
  return { username: `auth_${id}`, email: `auth_${id}@example.com`, password: `secret-${id}-pass` };
}

// Every response body this file sees, checked at the end for passwords and password hashes.
const responseBodies: string[] = [];
const passwordsSent = new Set<string>();

interface Reply {
  status: number;
  headers: Headers;
  body: any;
}

async function send(app: TestApp, path: string, init: Parameters<TestApp['request']>[1] = {}): Promise<Reply> {
  const password = (init.body as { password?: unknown } | undefined)?.password;
  if (typeof password === 'string') passwordsSent.add(password);
  const response = await app.request(path, { method: 'POST', ...init });
  const text = await response.text();
  responseBodies.push(text);
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

function expectProblem(reply: Reply, status: number) {
  expect(reply.status, JSON.stringify(reply.body)).to.equal(status);
  expect(reply.headers.get('content-type')).to.match(/^application\/problem\+json/);
  expect(reply.body).to.include({ status });
}

/** The distinct paths named in a 400's `errors`. */
const errorPaths = (reply: Reply) => [...new Set((reply.body.errors as { path: string }[]).map((error) => error.path))];

describe('auth', () => {
  let app: TestApp;
  const secret = 'test-secret-that-is-at-least-32-characters-long'; // startTestApp's JWT_SECRET

  before(async () => {
    app = await startTestApp();
  });

  after(async function () {
    try {
      const hashes: string[] = (await app.services.db('users').whereLike('username', 'auth\\_%').pluck('password_hash')) as string[];
      expect(hashes).to.not.be.empty;
      for (const body of responseBodies) {
        for (const secretText of [...passwordsSent, ...hashes]) expect(body).to.not.include(secretText);
        expect(body).to.not.include('$argon2');
      }
    } finally {
      await app.close();
    }
  });

  async function register(account = newAccount()) {
    const reply = await send(app, '/api/register/', { body: account });
    expect(reply.status, JSON.stringify(reply.body)).to.equal(201);
    return { ...account, id: reply.body.id as number };
  }

  const logIn = (username: string, password: string) => send(app, '/api/token/', { body: { username, password } });
  const refresh = (token: string) => send(app, '/api/token/refresh/', { body: { refresh: token } });

  describe('POST /api/register/', () => {
    it('creates an account and answers 201 with id, username and email only', async () => {
      const account = newAccount();
      const reply = await send(app, '/api/register/', { body: account });
      expect(reply.status).to.equal(201);
      expect(reply.body).to.have.all.keys('id', 'username', 'email');
      expect(reply.body).to.include({ username: account.username, email: account.email });

      const row = await app.services.db('users').where('id', reply.body.id).first();
      expect(row.is_staff).to.equal(false);
      expect(row.password_hash).to.match(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      expect(row.password_hash).to.not.include(account.password);
    });

    it('refuses missing fields with 400 naming each one', async () => {
      const reply = await send(app, '/api/register/', { body: {} });
      expectProblem(reply, 400);
      expect(errorPaths(reply)).to.include.members(['username', 'email', 'password']);
    });

    it('refuses wrong types with 400', async () => {
      const reply = await send(app, '/api/register/', { body: { username: 42, email: ['a@b.c'], password: true } });
      expectProblem(reply, 400);
      expect(errorPaths(reply)).to.include.members(['username', 'email', 'password']);
    });

    it('refuses a body that is not an object with 400', async () => {
      expectProblem(await send(app, '/api/register/', { body: [] }), 400);
      expectProblem(await send(app, '/api/register/', { body: '"just a string"' }), 400);
    });

    it('refuses garbage JSON with 400', async () => {
      expectProblem(await send(app, '/api/register/', { body: '{"username": "x", ' }), 400);
    });

    it('refuses a password shorter than 8 characters', async () => {
      const reply = await send(app, '/api/register/', { body: { ...newAccount(), password: 'seven77' } });
      expectProblem(reply, 400);
      expect(errorPaths(reply)).to.deep.equal(['password']);
    });

    it('refuses a password longer than 1024 characters', async () => {
      const reply = await send(app, '/api/register/', { body: { ...newAccount(), password: 'x'.repeat(1025) } });
      expectProblem(reply, 400);
      expect(errorPaths(reply)).to.deep.equal(['password']);
    });

    it('refuses a malformed email', async () => {
      for (const email of ['not-an-email', 'a@', `${'a'.repeat(250)}@example.com`]) {
        const reply = await send(app, '/api/register/', { body: { ...newAccount(), email } });
        expectProblem(reply, 400);
        expect(errorPaths(reply)).to.deep.equal(['email']);
      }
    });

    it('refuses usernames Django would refuse: empty, over 150 characters, spaces or symbols', async () => {
      for (const username of ['', 'a'.repeat(151), 'has space', 'semi;colon', 'slash/']) {
        const reply = await send(app, '/api/register/', { body: { ...newAccount(), username } });
        expectProblem(reply, 400);
        expect(errorPaths(reply)).to.deep.equal(['username']);
      }
    });

    it('accepts Django username characters: letters of any script, digits, @ . + - _', async () => {
      const id = tag();
      await register({ ...newAccount(), username: `Zoë.${id}+x-y_z@shop` });
    });

    it('answers 409 when the username is taken, in any case', async () => {
      const taken = await register();
      for (const username of [taken.username, taken.username.toUpperCase()]) {
        const reply = await send(app, '/api/register/', { body: { ...newAccount(), username } });
        expectProblem(reply, 409);
        expect(reply.body.detail).to.match(/username/);
      }
    });

    it('answers 409 when the email is taken, in any case', async () => {
      const taken = await register();
      const reply = await send(app, '/api/register/', { body: { ...newAccount(), email: taken.email.toUpperCase() } });
      expectProblem(reply, 409);
      expect(reply.body.detail).to.match(/email/);
    });

    it('lets exactly one of three concurrent registrations of one username through', async () => {
      const username = `auth_${tag()}`;
      const replies = await Promise.all(
        [1, 2, 3].map(() => send(app, '/api/register/', { body: { ...newAccount(), username } })),
      );
      expect(replies.map((reply) => reply.status).sort()).to.deep.equal([201, 409, 409]);
    });
  });

  describe('POST /api/token/', () => {
    it('answers 200 with an access token carrying the user and a refresh token', async () => {
      const account = await register();
      const reply = await logIn(account.username, account.password);
      expect(reply.status).to.equal(200);
      expect(reply.body).to.have.all.keys('access', 'refresh');
      expect(verifyAccessToken(reply.body.access, secret)).to.deep.equal({ userId: account.id, isStaff: false });
      expect(reply.body.refresh).to.match(/^[A-Za-z0-9_-]{43}$/);
      // Short-lived, as API.md has it: ACCESS_TOKEN_TTL_SECONDS (15 minutes by default).
      const { iat, exp } = JSON.parse(Buffer.from(reply.body.access.split('.')[1], 'base64url').toString('utf8'));
      expect(exp - iat).to.equal(app.services.config.ACCESS_TOKEN_TTL_SECONDS);
      expect(app.services.config.ACCESS_TOKEN_TTL_SECONDS).to.equal(15 * 60);
    });

    it('matches the username in any case', async () => {
      const account = await register();
      expect((await logIn(account.username.toUpperCase(), account.password)).status).to.equal(200);
    });

    it('answers the same 401 for a wrong password and an unknown user', async () => {
      const account = await register();
      const wrongPassword = await logIn(account.username, `${account.password}x`);
      const unknownUser = await logIn(`auth_nobody_${tag()}`, account.password);
      expectProblem(wrongPassword, 401);
      expectProblem(unknownUser, 401);
      expect(wrongPassword.body).to.deep.equal(unknownUser.body);
    });

    it('refuses missing fields, wrong types and garbage JSON with 400', async () => {
      const missing = await send(app, '/api/token/', { body: {} });
      expectProblem(missing, 400);
      expect(errorPaths(missing)).to.include.members(['username', 'password']);
      expectProblem(await send(app, '/api/token/', { body: { username: 1, password: null } }), 400);
      expectProblem(await send(app, '/api/token/', { body: '{"username":' }), 400);
    });

    it('stores only a hash of the refresh token', async () => {
      const account = await register();
      const { body } = await logIn(account.username, account.password);
      const rows = await app.services.db('refresh_tokens').where('user_id', account.id);
      expect(rows).to.have.length(1);
      expect(JSON.stringify(rows)).to.not.include(body.refresh);
    });
  });

  describe('POST /api/token/refresh/', () => {
    async function loggedIn() {
      const account = await register();
      const { body } = await logIn(account.username, account.password);
      return { account, refreshToken: body.refresh as string };
    }

    it('rotates: the new refresh token works, the old one is refused', async () => {
      const { account, refreshToken } = await loggedIn();
      const first = await refresh(refreshToken);
      expect(first.status).to.equal(200);
      expect(first.body).to.have.all.keys('access', 'refresh');
      expect(first.body.refresh).to.not.equal(refreshToken);
      expect(verifyAccessToken(first.body.access, secret)).to.deep.equal({ userId: account.id, isStaff: false });

      expect((await refresh(first.body.refresh)).status).to.equal(200);
      expectProblem(await refresh(refreshToken), 401);
    });

    it('revokes the whole family when a used token comes back, the newest token included', async () => {
      const { account, refreshToken } = await loggedIn();
      const second = (await refresh(refreshToken)).body.refresh;
      const third = (await refresh(second)).body.refresh;

      expectProblem(await refresh(refreshToken), 401); // a thief replays the first token
      expectProblem(await refresh(third), 401); // the newest token of the family is dead too
      const rows = await app.services.db('refresh_tokens').where('user_id', account.id);
      expect(rows).to.have.length(3);
      expect(rows.every((row) => row.revoked_at !== null)).to.equal(true);
    });

    it('answers 401, never a deadlock 500, when two used tokens of one family come back at once', async () => {
      for (let round = 0; round < 8; round++) {
        const { refreshToken: first } = await loggedIn();
        const second = (await refresh(first)).body.refresh;
        const third = (await refresh(second)).body.refresh;
        // The owner and a thief replay old tokens of the session at the same moment.
        const replies = await Promise.all([refresh(first), refresh(second)]);
        expect(replies.map((reply) => reply.status), `round ${round}`).to.deep.equal([401, 401]);
        expectProblem(await refresh(third), 401);
      }
    });

    it('refuses every token of a family in which any token is revoked', async () => {
      // The state a rotation racing a revocation leaves behind: a live token in a revoked family.
      const { account, refreshToken } = await loggedIn();
      const live = (await refresh(refreshToken)).body.refresh;
      await app.services.db('refresh_tokens').where({ user_id: account.id }).whereNotNull('used_at').update({ revoked_at: new Date() });
      expectProblem(await refresh(live), 401);
    });

    it('leaves the same user\'s other sessions alone when one family is revoked', async () => {
      const { account, refreshToken } = await loggedIn();
      const otherSession = (await logIn(account.username, account.password)).body.refresh;
      await refresh(refreshToken);
      await refresh(refreshToken); // reuse: revokes the first family only
      expect((await refresh(otherSession)).status).to.equal(200);
    });

    it('gives exactly one success to concurrent uses of one token', async () => {
      const { refreshToken } = await loggedIn();
      const replies = await Promise.all([1, 2, 3, 4, 5].map(() => refresh(refreshToken)));
      expect(replies.map((reply) => reply.status).sort()).to.deep.equal([200, 401, 401, 401, 401]);
    });

    it('deletes the expired tokens of its family (all but the first), and every token still works or is refused as before', async () => {
      const { account, refreshToken } = await loggedIn();
      const second = (await refresh(refreshToken)).body.refresh;
      const third = (await refresh(second)).body.refresh;
      const fourth = (await refresh(third)).body.refresh;
      const ids = (await app.services.db('refresh_tokens').where('user_id', account.id).orderBy('id')).map((row) => row.id as number);
      expect(ids).to.have.length(4);
      // The three used tokens expire (the first is also the family's lock).
      await app.services.db('refresh_tokens').whereIn('id', ids.slice(0, 3)).update({ expires_at: new Date(Date.now() - 1000) });
      const fifth = (await refresh(fourth)).body.refresh;
      const left = (await app.services.db('refresh_tokens').where('user_id', account.id).orderBy('id')).map((row) => row.id as number);
      expect(left).to.deep.equal([ids[0], ids[3], left[2]]); // the lock, the fourth (used now) and the fifth
      expect((await refresh(fifth)).status).to.equal(200); // the family lives on
      expectProblem(await refresh(fourth), 401); // a reuse of an unexpired used token is still caught...
      expectProblem(await refresh(fifth), 401); // ...and revokes the family
    });

    it('a login deletes the user\'s sessions whose every token has expired, and no other', async () => {
      const { account, refreshToken: dead } = await loggedIn();
      const live = (await logIn(account.username, account.password)).body.refresh as string;
      const familyOf = async (token: string) => (await app.services.db('refresh_tokens').where('token_hash', createHash('sha256').update(token).digest('hex')).first())?.family_id as string | undefined;
      const deadFamily = await familyOf(dead);
      await app.services.db('refresh_tokens').where('family_id', deadFamily).update({ expires_at: new Date(Date.now() - 1000) });
      const other = await register(); // another user's expired session is not this login's to delete
      const othersDead = (await logIn(other.username, other.password)).body.refresh as string;
      await app.services.db('refresh_tokens').where('user_id', other.id).update({ expires_at: new Date(Date.now() - 1000) });

      await logIn(account.username, account.password);
      expect(await app.services.db('refresh_tokens').where('family_id', deadFamily)).to.have.length(0);
      expect(await familyOf(othersDead)).to.be.a('string');
      expect((await refresh(live)).status).to.equal(200);
      expectProblem(await refresh(dead), 401);
    });

    it('refuses an unknown token with 401', async () => {
      expectProblem(await refresh(randomBytes(32).toString('base64url')), 401);
    });

    it('refuses an expired token with 401', async () => {
      const { account, refreshToken } = await loggedIn();
      await app.services.db('refresh_tokens').where('user_id', account.id).update({ expires_at: new Date(Date.now() - 1000) });
      expectProblem(await refresh(refreshToken), 401);
    });

    it('refuses an access token in place of a refresh token with 401', async () => {
      const account = await register();
      const { body } = await logIn(account.username, account.password);
      expectProblem(await refresh(body.access), 401);
    });

    it('refuses a missing or mistyped refresh field with 400', async () => {
      expectProblem(await send(app, '/api/token/refresh/', { body: {} }), 400);
      expectProblem(await send(app, '/api/token/refresh/', { body: { refresh: 7 } }), 400);
    });
  });

  describe('POST /api/token/revoke/ (log out)', () => {
    const revoke = (token: unknown) => send(app, '/api/token/revoke/', { body: { refresh: token } });

    it('ends the session: the revoked token and every token of its family are refused', async () => {
      const account = await register();
      const first = (await logIn(account.username, account.password)).body.refresh;
      const second = (await refresh(first)).body.refresh;
      const otherSession = (await logIn(account.username, account.password)).body.refresh;

      const reply = await revoke(first); // an older token of the session is enough to end it
      expect(reply.status).to.equal(204);
      expect(reply.body).to.equal(undefined);
      expectProblem(await refresh(second), 401);
      expectProblem(await refresh(first), 401);
      expect((await refresh(otherSession)).status).to.equal(200); // other sessions go on
    });

    it('answers 204 for an unknown or already revoked token, revealing nothing', async () => {
      expect((await revoke(randomBytes(32).toString('base64url'))).status).to.equal(204);
      const account = await register();
      const token = (await logIn(account.username, account.password)).body.refresh;
      expect((await revoke(token)).status).to.equal(204);
      expect((await revoke(token)).status).to.equal(204);
    });

    it('refuses a missing or mistyped refresh field with 400', async () => {
      expectProblem(await send(app, '/api/token/revoke/', { body: {} }), 400);
      expectProblem(await revoke(7), 400);
    });
  });

  it('documents the auth endpoints in the OpenAPI document', async () => {
    const response = await app.request('/openapi.json');
    const document = await response.json();
    const responses = (path: string) => Object.keys(document.paths[path].post.responses);
    expect(responses('/api/register/')).to.include.members(['201', '400', '409', '429']);
    expect(responses('/api/token/')).to.include.members(['200', '400', '401', '429']);
    expect(responses('/api/token/refresh/')).to.include.members(['200', '400', '401']);
    expect(responses('/api/token/revoke/')).to.include.members(['204', '400']);
    expect(document.components.schemas).to.include.keys('RegisterRequest', 'Account', 'LoginRequest', 'TokenPair');
  });

  describe('login rate limits', () => {
    let limitedApp: TestApp;
    // Distinct client IPs through X-Forwarded-For, so these counters are this test's alone.
    const randomIp = () => `10.${[1, 2, 3].map(() => randomBytes(1)[0]).join('.')}`;
    const attempt = (username: string, ip: string, password = 'wrong-password') =>
      send(limitedApp, '/api/token/', { body: { username, password }, headers: { 'X-Forwarded-For': ip } });

    before(async () => {
      limitedApp = await startTestApp({ LOGIN_RATE_LIMIT_PER_15_MINUTES: '3', TRUST_PROXY: 'true' });
    });
    after(() => limitedApp.close());

    it('limits attempts per client IP, with Retry-After and problem+json', async () => {
      const ip = randomIp();
      for (let i = 0; i < 3; i++) expect((await attempt(`auth_nobody_${tag()}`, ip)).status).to.equal(401);
      const limited = await attempt(`auth_nobody_${tag()}`, ip);
      expectProblem(limited, 429);
      expect(Number(limited.headers.get('retry-after'))).to.be.within(1, 15 * 60 + 1); // rounded up
      expect(limited.headers.get('ratelimit-limit')).to.equal('3');
      // Another client is not affected.
      expect((await attempt(`auth_nobody_${tag()}`, randomIp())).status).to.equal(401);
    });

    it('answers with the tighter bucket\'s RateLimit headers, the client\'s or the username\'s', async () => {
      const ip = randomIp();
      expect((await attempt(`auth_nobody_${tag()}`, ip)).headers.get('ratelimit-remaining')).to.equal('2');
      // A new username from the same client: its own bucket has 2 left, the client's 1.
      expect((await attempt(`auth_nobody_${tag()}`, ip)).headers.get('ratelimit-remaining')).to.equal('1');
    });

    it('counts a client by the address the proxy saw, whatever X-Forwarded-For entries the client wrote before it', async () => {
      const ip = randomIp();
      // Each request claims another origin in front of the address the proxy appended.
      for (let i = 0; i < 3; i++) expect((await attempt(`auth_nobody_${tag()}`, `${randomIp()}, ${ip}`)).status).to.equal(401);
      expectProblem(await attempt(`auth_nobody_${tag()}`, `${randomIp()}, ${ip}`), 429);
    });

    it('counts an IPv6 client by its /64 network, which one home or server may use all of', async () => {
      const network = `2001:db8:${randomBytes(2).toString('hex')}:${randomBytes(2).toString('hex')}`;
      for (const host of ['1', 'a:b:c', '2']) expect((await attempt(`auth_nobody_${tag()}`, `${network}::${host}`)).status).to.equal(401);
      expectProblem(await attempt(`auth_nobody_${tag()}`, `${network}:0:0:0:ffff`), 429);
      expect((await attempt(`auth_nobody_${tag()}`, `2001:db9::${randomBytes(2).toString('hex')}`)).status).to.equal(401);
    });

    it('counts an IPv4 client as one, however the proxy spells its address (IPv4-mapped IPv6 included)', async () => {
      const [a, b, c] = [...randomBytes(3)] as [number, number, number];
      const hex = (x: number, y: number) => ((x << 8) | y).toString(16);
      for (const spelling of [`10.${a}.${b}.${c}`, `::ffff:10.${a}.${b}.${c}`, `0:0:0:0:0:ffff:10.${a}.${b}.${c}`]) {
        expect((await attempt(`auth_nobody_${tag()}`, spelling)).status, spelling).to.equal(401);
      }
      expectProblem(await attempt(`auth_nobody_${tag()}`, `::ffff:${hex(10, a)}:${hex(b, c)}`), 429);
    });

    it('ignores X-Forwarded-For unless TRUST_PROXY is set: a client naming a new origin each time stays one client', async () => {
      // Counters of its own (a fresh key prefix), since every test connects from 127.0.0.1.
      const directApp = await startTestApp({ LOGIN_RATE_LIMIT_PER_15_MINUTES: '3', REDIS_KEY_PREFIX: `${testEnvironment().redisKeyPrefix}direct-${tag()}:` });
      try {
        const direct = (ip: string) => send(directApp, '/api/token/', { body: { username: `auth_nobody_${tag()}`, password: 'wrong-password' }, headers: { 'X-Forwarded-For': ip } });
        for (let i = 0; i < 3; i++) expect((await direct(randomIp())).status).to.equal(401);
        expectProblem(await direct(randomIp()), 429);
      } finally {
        await directApp.close();
      }
    });

    it('counts the spellings of one username as the database matches them, where JavaScript lowers letters otherwise', async () => {
      const account = { ...newAccount(), username: `${tag()}ΟΔΥΣΣΕΥΣ` };
      expect((await send(limitedApp, '/api/register/', { body: account })).status).to.equal(201);
      // PostgreSQL lowers the final Σ to σ, as the login's lookup does; toLowerCase() makes it ς.
      const lowered = `${account.username.slice(0, -8)}οδυσσευσ`;
      for (const username of [account.username, lowered, account.username]) expect((await attempt(username, randomIp())).status).to.equal(401);
      expectProblem(await attempt(lowered, randomIp()), 429);
    });

    it('limits attempts per username (any case) across client IPs, even with the right password', async () => {
      const account = newAccount();
      const registered = await send(limitedApp, '/api/register/', { body: account });
      expect(registered.status).to.equal(201);
      for (let i = 0; i < 3; i++) expect((await attempt(account.username, randomIp())).status).to.equal(401);
      const limited = await attempt(account.username.toUpperCase(), randomIp(), account.password);
      expectProblem(limited, 429);
      expect(Number(limited.headers.get('retry-after'))).to.be.at.least(1);
      // Other usernames from a fresh IP still get through.
      expect((await attempt(`auth_nobody_${tag()}`, randomIp())).status).to.equal(401);
    });
  });

  describe('registration rate limit', () => {
    it('limits registrations per client IP, with Retry-After; another client can still register', async () => {
      const limited = await startTestApp({ REGISTER_RATE_LIMIT_PER_HOUR: '2', TRUST_PROXY: 'true' });
      try {
        const ip = `10.${[1, 2, 3].map(() => randomBytes(1)[0]).join('.')}`;
        const registerFrom = (from: string) => send(limited, '/api/register/', { body: newAccount(), headers: { 'X-Forwarded-For': from } });
        for (let i = 0; i < 2; i++) expect((await registerFrom(ip)).status).to.equal(201);
        const refused = await registerFrom(ip);
        expectProblem(refused, 429);
        expect(Number(refused.headers.get('retry-after'))).to.be.within(1, 3601);
        expect((await registerFrom(`10.${[1, 2, 3].map(() => randomBytes(1)[0]).join('.')}`)).status).to.equal(201);
      } finally {
        await limited.close();
      }
    });
  });

  describe('create-staff-user command', () => {
    function runCommand(args: string[], env: Record<string, string | undefined>) {
      const child = spawn(join(projectRoot, 'node_modules/.bin/node'), ['core/commands/create-staff-user.ts', ...args], {
        cwd: projectRoot,
        env: { ...process.env, DATABASE_URL: testEnvironment().databaseUrl, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk) => (output += chunk));
      child.stderr.on('data', (chunk) => (output += chunk));
      return new Promise<{ code: number | null; output: string }>((resolve, reject) => {
        child.once('error', reject);
        child.once('close', (code) => resolve({ code, output }));
      });
    }

    it('creates a staff user whose login token carries the staff claim', async () => {
      const account = newAccount();
      const result = await runCommand(['--username', account.username, '--email', account.email], { STAFF_PASSWORD: account.password });
      expect(result.code, result.output).to.equal(0);
      expect(result.output).to.not.include(account.password);
      const row = await app.services.db('users').whereRaw('lower(username) = lower(?)', [account.username]).first();
      expect(row.is_staff).to.equal(true);
      expect(result.output).to.include(`id ${row.id}`);

      const login = await logIn(account.username, account.password);
      expect(login.status).to.equal(200);
      expect(verifyAccessToken(login.body.access, secret)).to.deep.equal({ userId: row.id, isStaff: true });
    });

    it('fails with a clear message when the username is taken', async () => {
      const taken = await register();
      const result = await runCommand(['--username', taken.username.toUpperCase(), '--email', newAccount().email], {
        STAFF_PASSWORD: 'another-good-password',
      });
      expect(result.code).to.not.equal(0);
      expect(result.output).to.match(/username is already taken/);
    });

    it('fails with the validation message for a short password, and never prints it', async () => {
      const account = newAccount();
      const result = await runCommand(['--username', account.username, '--email', account.email], { STAFF_PASSWORD: 'short' });
      expect(result.code).to.not.equal(0);
      expect(result.output).to.match(/password: Use at least 8 characters/);
      expect(result.output).to.not.include('short\n');
      expect(await app.services.db('users').where('username', account.username).first()).to.equal(undefined);
    });

    it('fails with usage help when arguments or the password are missing', async () => {
      const noEmail = await runCommand(['--username', `auth_${tag()}`], { STAFF_PASSWORD: 'long-enough-password' });
      expect(noEmail.code).to.not.equal(0);
      expect(noEmail.output).to.match(/--username and --email are required[\s\S]*Usage:/);

      const account = newAccount();
      // stdin is not a terminal here, so there is nobody to prompt. (spawn drops undefined variables.)
      const noPassword = await runCommand(['--username', account.username, '--email', account.email], { STAFF_PASSWORD: undefined });
      expect(noPassword.code).to.not.equal(0);
      expect(noPassword.output).to.match(/Set STAFF_PASSWORD/);
    });
  });
});

describe('requireUser (access-token checks)', () => {
  const secret = 'a-secret-for-this-tiny-app-only-0123456789';
  let server: Server;
  let url: string;
  const get = (authorization?: string) => fetch(url, { headers: authorization ? { Authorization: authorization } : {} });

  before(async () => {
    const koa = new Koa();
    koa.use(problemJson(createLogger('silent')));
    koa.use(requireUser(secret));
    koa.use((ctx) => {
      ctx.body = ctx.state.user;
    });
    server = await listen(koa, 0);
    const address = server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`;
  });
  after(() => close(server));

  async function expect401(authorization?: string) {
    const response = await get(authorization);
    expect(response.status).to.equal(401);
    expect(response.headers.get('content-type')).to.match(/^application\/problem\+json/);
    expect(response.headers.get('www-authenticate')).to.equal('Bearer');
  }

  it('lets a valid token through with its claims', async () => {
    const response = await get(`Bearer ${signAccessToken({ userId: 7, isStaff: true }, secret, 60)}`);
    expect(response.status).to.equal(200);
    expect(await response.json()).to.deep.equal({ userId: 7, isStaff: true });
  });

  it('refuses a missing token', () => expect401());

  it('refuses garbage and non-Bearer schemes', async () => {
    await expect401('Bearer not.a.jwt');
    await expect401('Bearer');
    await expect401(`Basic ${Buffer.from('user:pass').toString('base64')}`);
  });

  it('refuses a token signed with another secret', () =>
    expect401(`Bearer ${signAccessToken({ userId: 7, isStaff: true }, 'some-other-secret-of-enough-length-000', 60)}`));

  it('refuses an unsigned "alg: none" token', () => {
    const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: '7', staff: true, typ: 'access', iss: 'shop', iat: now, exp: now + 600 };
    return expect401(`Bearer ${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`);
  });

  it('refuses an expired token', () => expect401(`Bearer ${signAccessToken({ userId: 7, isStaff: false }, secret, -60)}`));

  it('refuses a correctly signed token that never expires', () => {
    const forever = jwt.sign({ staff: false, typ: 'access' }, secret, { algorithm: 'HS256', subject: '7', issuer: 'shop' });
    expect(JSON.parse(Buffer.from(forever.split('.')[1]!, 'base64url').toString('utf8'))).not.to.have.property('exp');
    return expect401(`Bearer ${forever}`);
  });
});
