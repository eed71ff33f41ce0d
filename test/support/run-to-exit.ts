import { spawn } from 'node:child_process';
import { projectRoot } from '../../core/paths.ts';

export interface Exit {
  code: number | null;
  /** stdout and stderr together, as an operator reads them. */
  output: string;
}

/** Runs `node <script> [args]` from the project with `env` added, to its exit (a process that refuses to start). */
export async function runToExit(script: string, args: readonly string[], env: Record<string, string>): Promise<Exit> {
  const child = spawn('node_modules/.bin/node', [script, ...args], {
    cwd: projectRoot,
    env: { ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  return { code, output };
}
