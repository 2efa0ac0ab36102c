import type { ModelRegistry } from '../inference/model/model-registry.js';
import type { GptPrecision } from '../jobs/gpt-precision.js';
import type { SamplingParams } from '../jobs/sampling-params.js';

/** One servable model as the API shows it (the fields of the schema's `Model`). */
export interface ServedModel {
  id: string;
  description: string;
  /** The model a job that names none gets (HITA_MODEL). */
  isDefault: boolean;
  /** Side of the square images it makes, in pixels. */
  imageSize: number;
  holisticTokens: number;
  patchTokens: number;
  classes: { id: number; name: string }[];
  capabilities: { generate: boolean; inpaint: boolean; styleTransfer: boolean };
  /** The manifest's default sampling. */
  defaults: SamplingParams;
  license: string;
  /** The GPT precisions it has graphs for, `fp32` first (ModelInfo.gptPrecisions). */
  precisions: GptPrecision[];
}

/** Options of {@link ModelService}. */
export interface ModelServiceOptions {
  registry: ModelRegistry;
  /** Id of the default model (HITA_MODEL), which `list()` marks. */
  defaultModel: string;
}

/** The models this API serves, read from the model registry. */
export class ModelService {
  private readonly registry: ModelRegistry;
  private readonly defaultModel: string;

  constructor(options: ModelServiceOptions) {
    const { registry, defaultModel } = options;
    this.registry = registry;
    this.defaultModel = defaultModel;
  }

  /**
   * Every loadable model of the models directory, sorted by id (broken ones are left out).
   * @throws AppError MODEL_UNAVAILABLE when the models directory cannot be read
   */
  async list(): Promise<ServedModel[]> {
    const models = await this.registry.list();
    return models.map((m) => ({
      id: m.id,
      description: m.manifest.description,
      isDefault: m.id === this.defaultModel,
      imageSize: m.imageSize,
      holisticTokens: m.manifest.tokenizer.numHolistic,
      patchTokens: m.manifest.tokenizer.numPatch,
      classes: m.classes,
      capabilities: {
        generate: m.capabilities.generate,
        inpaint: m.capabilities.inpaint,
        styleTransfer: m.capabilities.style,
      },
      defaults: m.manifest.sampling,
      license: m.manifest.license,
      precisions: m.gptPrecisions,
    }));
  }
}
