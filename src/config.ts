import { join } from 'node:path';
import { z } from 'zod';
import { errors } from './errors.js';
import {
  parseExecutionProviders,
  type ExecutionProvider,
} from './inference/execution-providers.js';
import { PACKAGE_ROOT } from './paths.js';

/** The model served when nothing names one. */
export const DEFAULT_MODEL = 'hita-tiny-random';

/** Inference settings shared by `hita serve`, `hita worker` and the generation commands. */
export interface InferenceConfig {
  modelsDir: string;
  defaultModel: string;
  providers: ExecutionProvider[];
  /** ORT intra-op threads; undefined lets ORT use every core. */
  threads: number | undefined;
  maxBatchRows: number;
}

const inferenceEnv = z.object({
  HITA_MODELS_DIR: z.string().min(1).default(join(PACKAGE_ROOT, 'models')),
  HITA_MODEL: z.string().min(1).default(DEFAULT_MODEL),
  HITA_EP: z.string().optional(),
  HITA_THREADS: z.coerce.number().int().min(1).max(256).optional(),
  HITA_MAX_BATCH_ROWS: z.coerce.number().int().min(2).max(1024).default(32),
});

/**
 * Reads the inference slice of the environment (DESIGN.md's configuration table).
 * @throws AppError BAD_USER_INPUT naming every bad variable at once.
 */
export function readInferenceConfig(
  env: NodeJS.ProcessEnv = process.env,
): Readonly<InferenceConfig> {
  const parsed = inferenceEnv.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `${issue.path.join('.')}: ${issue.message}`,
    );
    throw errors.badInput(String(parsed.error.issues[0]?.path[0] ?? 'env'), problems.join('; '));
  }
  const { HITA_MODELS_DIR, HITA_MODEL, HITA_EP, HITA_THREADS, HITA_MAX_BATCH_ROWS } = parsed.data;
  return Object.freeze({
    modelsDir: HITA_MODELS_DIR,
    defaultModel: HITA_MODEL,
    providers: parseExecutionProviders(HITA_EP),
    threads: HITA_THREADS,
    maxBatchRows: HITA_MAX_BATCH_ROWS,
  });
}
