import { resolve } from 'node:path';

/** The project root: this file compiles to <root>/dist/agent/src/paths.js. */
export const PROJECT_ROOT = resolve(__dirname, '..', '..', '..');
