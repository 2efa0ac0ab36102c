/**
 * The models a process can serve: the subdirectories of one models directory, addressed by id,
 * plus any model directory addressed by path. Each model is loaded (and verified) once.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, isAbsolute, join, resolve, sep } from 'node:path';
import { errors, isAppError, type AppError } from '../../errors.js';
import { loadModel } from './model-loader.js';
import type { ModelInfo } from './model-manifest.js';

/** Options of {@link ModelRegistry}. */
export interface ModelRegistryOptions {
  /** Directory whose subdirectories are models; a subdirectory's name is the model's id. */
  modelsDir: string;
  /** Id or directory path of the model served when a request names none. */
  defaultModel: string;
  /**
   * Called by {@link ModelRegistry.list} for each subdirectory with a model.json that fails to
   * load; the model is left out of the list. The return value is ignored.
   * @default undefined (broken models are skipped silently)
   */
  onBroken?: (dir: string, error: AppError) => void;
  /**
   * Passed to loadModel: verify sha256 of every file on first load.
   * @default true
   */
  verifyChecksums?: boolean;
}

/** Loads models by id or path and caches them for the life of the process. */
export class ModelRegistry {
  private readonly modelsDir: string;
  private readonly defaultModel: string;
  private readonly onBroken: ((dir: string, error: AppError) => void) | undefined;
  private readonly verifyChecksums: boolean;
  // Keyed by absolute directory; a promise, so concurrent first requests share one load.
  private readonly cache = new Map<string, Promise<ModelInfo>>();

  constructor(options: ModelRegistryOptions) {
    const { modelsDir, defaultModel, onBroken, verifyChecksums = true } = options;
    this.modelsDir = resolve(modelsDir);
    this.defaultModel = defaultModel;
    this.onBroken = onBroken;
    this.verifyChecksums = verifyChecksums;
  }

  /**
   * The model with this id (a subdirectory of modelsDir) or at this path (anything containing a
   * path separator or starting with '.', relative to the working directory); without an
   * argument, the default model.
   * @throws AppError NOT_FOUND for an unknown id, listing the known ids.
   * @throws AppError MODEL_UNAVAILABLE when the directory holds a broken model.
   */
  async resolve(idOrPath: string = this.defaultModel): Promise<ModelInfo> {
    if (isPath(idOrPath)) return this.load(resolve(idOrPath), undefined);
    const dir = join(this.modelsDir, idOrPath);
    if (!idOrPath || !existsSync(join(dir, 'model.json'))) {
      const known = await this.knownIds();
      const error = errors.notFound('model', idOrPath);
      // errors.notFound has no room for a hint; the known ids are what the caller needs next.
      error.message += `; known models in ${this.modelsDir}: ${known.join(', ') || '(none)'}`;
      throw error;
    }
    return this.load(dir, idOrPath);
  }

  /** The model named by `defaultModel`. @throws as {@link ModelRegistry.resolve}. */
  default(): Promise<ModelInfo> {
    return this.resolve(this.defaultModel);
  }

  /**
   * Every loadable model of modelsDir, sorted by id; broken ones go to `onBroken` instead.
   * @throws AppError MODEL_UNAVAILABLE when modelsDir cannot be read.
   */
  async list(): Promise<ModelInfo[]> {
    const models: ModelInfo[] = [];
    for (const id of await this.knownIds()) {
      try {
        models.push(await this.load(join(this.modelsDir, id), id));
      } catch (error) {
        const appError = isAppError(error)
          ? error
          : errors.modelUnavailable(join(this.modelsDir, id), String(error), error);
        this.onBroken?.(join(this.modelsDir, id), appError);
      }
    }
    return models;
  }

  /** Subdirectory names of modelsDir that hold a model.json, sorted. */
  private async knownIds(): Promise<string[]> {
    let entries;
    try {
      entries = await readdir(this.modelsDir, { withFileTypes: true });
    } catch (error) {
      throw errors.modelUnavailable(this.modelsDir, 'models directory cannot be read', error);
    }
    return entries
      .filter((e) => !e.name.startsWith('.') && (e.isDirectory() || e.isSymbolicLink()))
      .filter((e) => existsSync(join(this.modelsDir, e.name, 'model.json')))
      .map((e) => e.name)
      .sort();
  }

  /** Loads `dir` once; for an id, also checks that the manifest agrees with the directory name. */
  private async load(dir: string, id: string | undefined): Promise<ModelInfo> {
    let model = this.cache.get(dir);
    if (!model) {
      const loading = loadModel(dir, { verifyChecksums: this.verifyChecksums });
      // Forget failures so that a repaired directory loads on the next request.
      loading.catch(() => this.cache.get(dir) === loading && this.cache.delete(dir));
      this.cache.set(dir, loading);
      model = loading;
    }
    const info = await model;
    // An id is a directory name; a manifest claiming another id would be unreachable by its id.
    if (id !== undefined && info.id !== id) {
      throw errors.modelUnavailable(
        join(dir, 'model.json'),
        `id "${info.id}" differs from its directory name "${basename(dir)}"; rename one`,
      );
    }
    return info;
  }
}

function isPath(idOrPath: string): boolean {
  return (
    idOrPath.includes('/') ||
    idOrPath.includes(sep) ||
    idOrPath.startsWith('.') ||
    isAbsolute(idOrPath)
  );
}
