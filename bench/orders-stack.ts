import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { projectRoot } from '../core/paths.ts';

// The processes under test, started the way production starts them (`node server/main.ts`,
// `node workers/main.ts`), each a child process with its own event loop and connection pool.

export interface RunningProcess {
  name: string;
  url: string | null;
  /** CPU time (user + system) the process has used so far, in seconds; NaN where /proc is missing. */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

/** Linux: utime + stime from /proc/<pid>/stat, in clock ticks of 1/100 s. */
function cpuSecondsOf(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/**
 * CPU seconds used so far by every process named `postgres` on this machine: the local server's
 * backends and helpers, whichever database they serve. A backend that has exited no longer
 * counts, and a remote server is not seen at all (then it reads 0).
 */
export function localPostgresCpuSeconds(): number {
  return localServerCpuSeconds('postgres');
}

/** The same for every process of this machine named `command` (e.g. redis-server). */
export function localServerCpuSeconds(command: string): number {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === command) total += cpuSecondsOf(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * Starts `node <script> <args>` with `env`; with `http` it waits until GET /healthz answers. Output is
 * kept and printed only when the process dies unexpectedly. With BENCH_PROFILE_DIR set, each
 * process writes a CPU profile there when it stops (NODE_OPTIONS may not carry --cpu-prof).
 */
export async function startProcess(name: string, script: string, env: Record<string, string>, http: boolean, args: string[] = []): Promise<RunningProcess> {
  const port = http ? await freePort() : 0;
  const profileDir = process.env.BENCH_PROFILE_DIR;
  const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name.replace(/\W+/g, '-')}.cpuprofile`] : [];
  const child: ChildProcess = spawn(process.execPath, [...profile, script, ...args], {
    cwd: projectRoot,
    env: { ...process.env, ...env, ...(http ? { PORT: String(port) } : {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString('utf8'));
    if (output.length > 200) output.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let stopping = false;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      if (!stopping) process.stderr.write(`\n[${name}] exited unexpectedly (code ${code}, signal ${signal}):\n${output.join('')}\n`);
      resolve();
    });
  });
  const url = http ? `http://127.0.0.1:${port}` : null;
  if (url) await waitForHealth(url, name, () => child.exitCode !== null, output);
  return {
    name,
    url,
    cpuSeconds: () => cpuSecondsOf(child.pid),
    async stop() {
      if (child.exitCode !== null) return;
      stopping = true;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function waitForHealth(url: string, name: string, died: () => boolean, output: string[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (died()) throw new Error(`${name} exited during start-up:\n${output.join('')}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${name} did not answer ${url}/healthz within 60 s:\n${output.join('')}`);
}

export interface MailSink {
  url: string;
  received(): number;
  close(): Promise<void>;
}

/** A real SMTP server that accepts and counts messages, so the email worker does real work. */
export async function startMailSink(): Promise<MailSink> {
  let count = 0;
  const server = new SMTPServer({
    authOptional: true,
    secure: false,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      stream.on('data', () => {});
      stream.on('end', () => {
        count++;
        callback();
      });
    },
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `smtp://127.0.0.1:${port}`,
    received: () => count,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
