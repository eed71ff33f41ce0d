import { pino, type Logger } from 'pino';

// One structured logger for the whole process. Secrets never reach it: request logging records
// method, path and status only, and the redact list is a second line of defence. An ioredis
// error carries the command that failed, and a failed AUTH or HELLO has the Redis password among
// its arguments.
export function createLogger(level: string): Logger {
  return pino({
    level,
    redact: {
      paths: ['password', '*.password', 'refresh', '*.refresh', 'access', '*.access', 'req.headers.authorization', 'err.command.args', '*.command.args'],
      censor: '[redacted]',
    },
  });
}

export type { Logger };
