import { fileURLToPath } from 'node:url';

/**
 * The package root: `src/` and the built `dist/` both sit one level below it, so the shipped
 * models are found whatever the working directory (`npx hita` from anywhere).
 */
export const PACKAGE_ROOT = fileURLToPath(new URL('..', import.meta.url));
