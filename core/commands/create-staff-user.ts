// Creates a staff account (Django's createsuperuser):
//   npm run create-staff-user -- --username admin --email admin@example.com
// The password comes from STAFF_PASSWORD or, on a terminal, a prompt that does not echo; it is
// never an argument (those show up in `ps` and shell history) and never printed.
import { parseArgs } from 'node:util';
import { registerUser, Registration } from '../auth/accounts.ts';
import { loadConfig } from '../config.ts';
import { createDb } from '../db.ts';

const USAGE = `Usage: npm run create-staff-user -- --username <name> --email <address>
Reads DATABASE_URL. The password comes from STAFF_PASSWORD, or is asked for on a terminal.`;

async function main(): Promise<void> {
  const values = parseOptions();
  if (!values.username || !values.email) throw new Error(`--username and --email are required.\n${USAGE}`);
  const { DATABASE_URL } = loadConfig();
  if (!DATABASE_URL) {
    throw new Error(
      'DATABASE_URL is not set. For the embedded development database of `npm start`, use\n' +
        '  DATABASE_URL=postgres://postgres:postgres@127.0.0.1:54329/shop',
    );
  }
  const parsed = Registration.safeParse({ username: values.username, email: values.email, password: await readPassword() });
  if (!parsed.success) {
    throw new Error(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('\n'));
  }
  const db = createDb(DATABASE_URL, 1);
  try {
    const account = await registerUser(db, parsed.data, { isStaff: true });
    console.log(`Created staff user "${account.username}" with id ${account.id}.`);
  } finally {
    await db.destroy();
  }
}

function parseOptions() {
  try {
    return parseArgs({ options: { username: { type: 'string' }, email: { type: 'string' } } }).values;
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${USAGE}`); // an unknown option or a missing value
  }
}

async function readPassword(): Promise<string> {
  const fromEnv = process.env.STAFF_PASSWORD;
  if (fromEnv !== undefined) return fromEnv;
  if (!process.stdin.isTTY) throw new Error('Set STAFF_PASSWORD (there is no terminal to ask for the password on).');
  const password = await promptHidden('Password: ');
  if ((await promptHidden('Password (again): ')) !== password) throw new Error('The two passwords differ.');
  return password;
}

/** Reads one line from the terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  const { stdin, stdout } = process;
  stdout.write(question);
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise((resolve, reject) => {
    let typed = '';
    const finish = (error?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      stdout.write('\n');
      if (error) reject(error);
      else resolve(typed);
    };
    // Raw mode hands over keystrokes one by one, so Enter, Ctrl-C, Ctrl-D and Backspace are ours to handle.
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === '\r' || char === '\n') return finish();
        if (char === '\u0003' || char === '\u0004') return finish(new Error('Cancelled.'));
        if (char === '\u007f' || char === '\b') typed = typed.slice(0, -1);
        else typed += char;
      }
    };
    stdin.on('data', onData);
  });
}

try {
  await main();
} catch (error) {
  // Every message says what to fix: a bad argument, a taken name, an unreachable database.
  // None of them contains the password.
  console.error(`create-staff-user: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
