import { join } from 'node:path';

// Where development state lives: embedded database, generated secret, written-out mail.
export const projectRoot = new URL('..', import.meta.url).pathname;
export const dataDir = join(projectRoot, '.data');
