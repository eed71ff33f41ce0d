import { expect } from 'chai';
import { testEnvironment } from './support/environment.ts';
import { runToExit } from './support/run-to-exit.ts';

// What a process logs when it cannot start for a setting with a password in it: the failure, never the password.
describe('secrets in the logs of a process that cannot start', () => {
  it('an SMTP_URL that is not a URL (a password with an unescaped /) stops a mailer, exit 1, without the password', async () => {
    const password = 's3cr/et-smtp-password';
    const { code, output } = await runToExit('workers/main.ts', ['email'], { DATABASE_URL: testEnvironment().databaseUrl, SMTP_URL: `smtp://mailer:${password}@smtp.example.com:587` });
    expect(code, output).to.equal(1);
    expect(output).to.include('SMTP_URL: must be an smtp:// or smtps:// URL');
    expect(output).not.to.include(password);
    expect(output).not.to.include('s3cr'); // nor the part before the slash
  });

  it('a Redis login refused at start-up is logged, and the process exits 1, without the Redis password', async function () {
    const { redisUrl, databaseUrl } = testEnvironment();
    if (!redisUrl) this.skip(); // needs a real Redis to refuse the login; CI always has one
    const password = 's3cret-redis-password-for-this-test';
    const url = new URL(redisUrl);
    url.username = 'shop-test-no-such-user'; // an ACL user that does not exist: AUTH fails with WRONGPASS
    url.password = password;
    const { code, output } = await runToExit('server/main.ts', [], { PORT: '0', DATABASE_URL: databaseUrl, REDIS_URL: url.toString(), JWT_SECRET: 'x'.repeat(32) });
    expect(code, output).to.equal(1);
    expect(output).to.include('WRONGPASS'); // what went wrong is still told
    expect(output).to.include('uncaught error: exiting');
    expect(output).not.to.include(password);
  });
});
