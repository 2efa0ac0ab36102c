// Types of official-model.mjs for the TypeScript that imports it (test/bench/).
export interface Recipe {
  id: string;
  preset: string;
  gpt: string;
  seed: number;
  precisions: string[];
  blockSize: number;
  accuracyLevel: number;
  encoder: boolean;
  fixtureBatch: number;
}
export const RECIPE: Readonly<Recipe>;
export function exportArgs(recipe: Recipe): string[];
export function sourceFiles(root?: string): string[];
export function cacheKey(recipe: Recipe, sources: { path: string; bytes: Uint8Array }[]): string;
export function defaultCacheRoot(env?: Record<string, string | undefined>): string;
export function ensureOfficialModel(options?: {
  cacheRoot?: string;
  recipe?: Recipe;
  log?: (message: string) => void;
}): { dir: string; key: string; built: boolean; seconds: number };
