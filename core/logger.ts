import { pino, type DestinationStream, type Logger } from 'pino';

// One structured logger for the whole process. Secrets never reach it: there is no per-request log
// (traffic is in the http_request_duration_seconds metric; a 5xx is logged with method and path
// only), and the redact list is a second line of defence. An ioredis
// error carries the command that failed, and a failed AUTH or HELLO has the Redis password among
// its arguments; a URL that Node cannot parse keeps the whole text (`input`), password and all.
// `destination` defaults to stdout (a test reads what would be logged from its own stream).
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({
    level,
    redact: {
      paths: ['password', '*.password', 'refresh', '*.refresh', 'access', '*.access', 'req.headers.authorization', 'err.command.args', '*.command.args', 'err.input'],
      censor: '[redacted]',
    },
  }, destination);
}

export type { Logger };
