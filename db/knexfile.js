// Configuration for the knex CLI (`npx knex --knexfile db/knexfile.js migrate:latest`, `seed:run`).
// Plain JS so the CLI loads it without a TypeScript loader; the migrations and seeds it points
// at are TypeScript, which Node 24 runs directly.
const connection = process.env.DATABASE_URL;
if (!connection) {
  throw new Error('DATABASE_URL is not set. (`npm start` runs an embedded database and migrates it for you.)');
}

export default {
  client: 'pg',
  connection,
  migrations: { directory: './migrations', loadExtensions: ['.ts'] },
  seeds: { directory: './seeds', loadExtensions: ['.ts'] },
};
