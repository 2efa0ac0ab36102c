/**
 * The manifest of a model directory, `model.json` (docs/model-directory.md), written by
 * tools/hita/model_dir.py. The runtime reads every size and convention from it, so it is parsed
 * strictly here once and the rest of the code trusts the typed result.
 */
import { isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { errors } from '../../errors.js';
import { GPT_PRECISIONS, type GptPrecision } from '../../jobs/gpt-precision.js';

/** The only manifest format this runtime reads. */
export const MANIFEST_FORMAT = 'hita-serve/model@1';

/** The graphs a model directory may hold; `encode` is absent for generation-only models. */
export type GraphName = 'encode' | 'decode' | 'gpt';

export { GPT_PRECISIONS, type GptPrecision } from '../../jobs/gpt-precision.js';

const count = z.number().int().positive();
const index = z.number().int().nonnegative();
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits');
// Files are opened relative to the model directory: a manifest must not reach outside it.
const relativeFile = z
  .string()
  .min(1)
  .refine((file) => !isAbsolute(file) && !file.split(/[\\/]/).includes('..'), {
    message: 'expected a path inside the model directory',
  });

const fileSchema = z.object({ file: relativeFile, sha256, bytes: index });

const tensorSchema = z.object({
  name: z.string().min(1),
  dtype: z.enum(['float32', 'float16', 'int64', 'int32', 'uint8', 'int8', 'bool']),
  // A number is a fixed size, a string a named dynamic axis ("batch", "past+seq").
  shape: z.array(z.union([index, z.string().min(1)])),
});

const graphSchema = fileSchema.extend({
  externalData: z.array(fileSchema).default([]),
  inputs: z.array(tensorSchema).min(1),
  outputs: z.array(tensorSchema).min(1),
  exportSeconds: z.number().nonnegative().optional(),
});

/**
 * A quantized GPT graph: the same inputs and outputs as `graphs.gpt`, its linear layers replaced by
 * `com.microsoft.MatMulNBits` (weights in blocks of `blockSize` along K, float activations; at
 * `accuracyLevel` 4 the kernel quantizes activations to int8 per block and row internally).
 */
const gptVariantSchema = graphSchema.extend({
  op: z.literal('com.microsoft.MatMulNBits'),
  weightBits: z.union([z.literal(4), z.literal(8)]),
  // The output head's bits; 0 = left in float.
  headBits: z.union([z.literal(0), z.literal(4), z.literal(8)]),
  blockSize: count.refine((n) => n >= 16 && (n & (n - 1)) === 0, 'expected a power of two ≥ 16'),
  accuracyLevel: z.number().int().min(0).max(4),
  symmetric: z.boolean(),
  // The sha256 of the graphs.gpt file it was quantized from.
  quantizedFrom: sha256,
  quantizeSeconds: z.number().nonnegative().optional(),
});

/** The zod schema of `model.json`, format "hita-serve/model@1". Unknown keys are dropped. */
export const modelManifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  id: z.string().min(1),
  description: z.string(),
  license: z.string(),
  imageSize: count,
  tokenizer: z.object({
    grid: count,
    numHolistic: count,
    numPatch: count,
    codebookSize: count,
    patchEmbedDim: count,
    holisticEmbedDim: count,
    shiftK: index,
    semanticBackbone: z
      .object({
        inputSize: count,
        patchSize: count,
        embedDim: count,
        depth: count,
        resize: z.string(),
      })
      .optional(),
  }),
  gpt: z.object({
    dim: count,
    numLayers: count,
    numHeads: count,
    headDim: count,
    vocabSize: count,
    numClasses: count,
    nullClassId: index,
    clsTokenNum: count,
    numHolistic: count,
    numPatch: count,
    maxPositions: count,
    ropeBase: z.number().positive(),
    posMEmbedding: z.enum(['slot', 'tok']),
  }),
  classes: z.array(z.object({ id: index, name: z.string().min(1) })).min(1),
  sampling: z.object({
    cfgScale: z.number().nonnegative(),
    temperature: z.number().positive(),
    topK: index,
    topP: z.number().gt(0).lte(1),
  }),
  pixels: z.object({
    layout: z.literal('NCHW'),
    channels: z.literal('RGB'),
    range: z.tuple([z.number(), z.number()]),
    toUint8: z.string(),
  }),
  capabilities: z.object({
    generate: z.boolean(),
    inpaint: z.boolean().default(false),
    style: z.boolean().default(false),
  }),
  graphs: z.object({
    encode: graphSchema.optional(),
    decode: graphSchema,
    gpt: graphSchema,
    // Keyed by precision; a key this runtime does not know (a newer exporter's) is dropped.
    gptVariants: z
      .object({
        int8: gptVariantSchema.extend({ precision: z.literal('int8'), weightBits: z.literal(8) }),
        int4: gptVariantSchema.extend({ precision: z.literal('int4'), weightBits: z.literal(4) }),
      })
      .partial()
      .default({}),
  }),
  fixtures: relativeFile.optional(),
  // How live previews fill the patch tokens not sampled yet (pipeline/preview-fill.ts): a code
  // calibrated once per model (bench/preview.bench.ts prints it). Absent: code 0.
  preview: z.object({ fillCode: index }).optional(),
  provenance: z.record(z.string(), z.unknown()).optional(),
});

/** A parsed, validated `model.json`. */
export type ModelManifest = z.output<typeof modelManifestSchema>;

/** One graph entry of the manifest: file, checksums and declared inputs/outputs. */
export type GraphManifest = ModelManifest['graphs']['gpt'];

/** One `graphs.gptVariants` entry. */
export type GptVariantManifest = NonNullable<
  ModelManifest['graphs']['gptVariants']['int8' | 'int4']
>;

/** The GPT precisions a manifest lists, in {@link GPT_PRECISIONS} order; always starts with `fp32`. */
export function gptPrecisions(manifest: ModelManifest): GptPrecision[] {
  return GPT_PRECISIONS.filter((p) => p === 'fp32' || manifest.graphs.gptVariants[p] !== undefined);
}

/**
 * The precision a runtime asked for `wanted` runs for a model: `wanted` when the model has that
 * GPT graph, else `fp32` (every model has it).
 */
export function effectivePrecision(
  model: Pick<ModelInfo, 'gptPrecisions'>,
  wanted: GptPrecision,
): GptPrecision {
  return model.gptPrecisions.includes(wanted) ? wanted : 'fp32';
}

/** A loaded model: the manifest plus the facts callers ask for most. */
export interface ModelInfo {
  /** The manifest's `id`. */
  id: string;
  /** Absolute path of the model directory. */
  dir: string;
  manifest: ModelManifest;
  /** Class ids 0 … C−1 with their names; the null class is not listed. */
  classes: { id: number; name: string }[];
  /** R: the square working resolution of every graph, in pixels. */
  imageSize: number;
  capabilities: ModelManifest['capabilities'];
  /** The GPT graphs on offer, e.g. `['fp32', 'int8', 'int4']`; `fp32` is always first. */
  gptPrecisions: GptPrecision[];
  /**
   * Absolute path of a graph's ONNX file.
   * @throws AppError MODEL_UNAVAILABLE when the manifest has no such graph (`encode` is optional).
   */
  graphPath(name: GraphName): string;
  /**
   * Absolute path of the GPT graph of a precision: `gpt.onnx` for `fp32`, else its
   * `graphs.gptVariants` file.
   * @throws AppError MODEL_UNAVAILABLE when the model has no GPT graph of that precision.
   */
  gptPath(precision: GptPrecision): string;
}

/** `graphs.gpt.inputs[0].name`-style path of a zod issue, for error messages. */
function fieldPath(path: readonly PropertyKey[]): string {
  return path
    .map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i ? '.' : ''}${String(key)}`))
    .join('');
}

/**
 * Validates parsed JSON against the manifest schema.
 * @param file path of the `model.json` it came from, named in the error.
 * @throws AppError MODEL_UNAVAILABLE naming `file` and the first bad field path.
 */
export function parseManifest(json: unknown, file: string): ModelManifest {
  const result = modelManifestSchema.safeParse(json);
  if (result.success) return result.data;
  const [first, ...rest] = result.error.issues;
  const where = first && first.path.length ? fieldPath(first.path) : '(root)';
  const more = rest.length ? ` (and ${rest.length} more problem${rest.length > 1 ? 's' : ''})` : '';
  throw errors.modelUnavailable(file, `invalid manifest at ${where}: ${first?.message}${more}`);
}

/** Builds the convenience view of a validated manifest living in the absolute directory `dir`. */
export function toModelInfo(dir: string, manifest: ModelManifest): ModelInfo {
  return {
    id: manifest.id,
    dir,
    manifest,
    classes: manifest.classes.map(({ id, name }) => ({ id, name })),
    imageSize: manifest.imageSize,
    capabilities: manifest.capabilities,
    gptPrecisions: gptPrecisions(manifest),
    graphPath(name: GraphName): string {
      const graph = manifest.graphs[name];
      if (!graph) {
        throw errors.modelUnavailable(
          join(dir, 'model.json'),
          `model ${manifest.id} has no ${name} graph (graphs.${name} is absent)`,
        );
      }
      return join(dir, graph.file);
    },
    gptPath(precision: GptPrecision): string {
      if (precision === 'fp32') return join(dir, manifest.graphs.gpt.file);
      const variant = manifest.graphs.gptVariants[precision];
      if (!variant) {
        throw errors.modelUnavailable(
          join(dir, 'model.json'),
          `model ${manifest.id} has no ${precision} GPT graph (graphs.gptVariants.${precision} is absent)`,
        );
      }
      return join(dir, variant.file);
    },
  };
}
