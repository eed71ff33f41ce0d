// Errors that mean "the client should change something", carried from core/ to the HTTP layer,
// which renders them as RFC 9457 problem+json. Anything else that escapes is a 500 and is logged.

export interface FieldError {
  path: string;
  message: string;
}

export class Problem extends Error {
  readonly status: number;
  readonly title: string;
  readonly errors: FieldError[] | undefined;
  /** Extra response headers, e.g. Retry-After on 429 and 503. */
  readonly headers: Record<string, string>;

  constructor(status: number, title: string, detail?: string, errors?: FieldError[], headers: Record<string, string> = {}) {
    super(detail ?? title);
    this.name = 'Problem';
    this.status = status;
    this.title = title;
    this.errors = errors;
    this.headers = headers;
  }
}

export const badRequest = (detail: string, errors?: FieldError[]) => new Problem(400, 'Bad Request', detail, errors);
export const unauthorized = (detail: string) =>
  new Problem(401, 'Unauthorized', detail, undefined, { 'WWW-Authenticate': 'Bearer' });
export const forbidden = (detail: string) => new Problem(403, 'Forbidden', detail);
export const notFound = (detail: string) => new Problem(404, 'Not Found', detail);
export const conflict = (detail: string) => new Problem(409, 'Conflict', detail);
export const unavailable = (detail: string, retryAfterSeconds = 5) =>
  new Problem(503, 'Service Unavailable', detail, undefined, { 'Retry-After': String(retryAfterSeconds) });
