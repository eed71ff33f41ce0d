import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../core/paths.ts';
import { testEnvironment } from './support/environment.ts';

// What a process logs when Redis refuses its login: the failure, never the password.
describe('secrets in the logs of a process that cannot start', () => {
  it('a Redis login refused at start-up is logged, and the process exits 1, without the Redis password', async function () {
    const { redisUrl, databaseUrl } = testEnvironment();
    if (!redisUrl) this.skip(); // needs a real Redis to refuse the login; CI always has one
    const password = 's3cret-redis-password-for-this-test';
    const url = new URL(redisUrl);
    url.username = 'shop-test-no-such-user'; // an ACL user that does not exist: AUTH fails with WRONGPASS
    url.password = password;
    const child = spawn(join(projectRoot, 'node_modules/.bin/node'), ['server/main.ts'], {
      cwd: projectRoot,
      env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'info', PORT: '0', DATABASE_URL: databaseUrl, REDIS_URL: url.toString(), JWT_SECRET: 'x'.repeat(32) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', resolve);
    });
    expect(code, output).to.equal(1);
    expect(output).to.include('WRONGPASS'); // what went wrong is still told
    expect(output).to.include('uncaught error: exiting');
    expect(output).not.to.include(password);
  });
});
