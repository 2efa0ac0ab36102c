/**
 * Loads and verifies a model directory (docs/model-directory.md) before anything serves from it:
 * a corrupt download, a stale manifest or a graph exported with other tensor names fails here,
 * at boot, with the file to blame, instead of in the middle of a job.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { errors } from '../../errors.js';
import {
  parseManifest,
  toModelInfo,
  type GraphManifest,
  type GptVariantManifest,
  type GraphName,
  type ModelInfo,
  type ModelManifest,
} from './model-manifest.js';

/** Options of {@link loadModel}. */
export interface LoadModelOptions {
  /**
   * Check every graph and external-data file's size and sha256 against the manifest. Turn it off
   * only while iterating on a freshly exported directory; existence is always checked.
   * @default true
   */
  verifyChecksums?: boolean;
}

/**
 * Reads `dir/model.json`, checks that every listed file exists (and, by default, matches its
 * size and sha256), opens each graph on the CPU to compare its input and output names and dtypes
 * with the manifest, and checks the manifest's sizes agree with each other. The quantized GPT
 * graphs (`graphs.gptVariants`) are verified the same way, and each must name `graphs.gpt.sha256`
 * as its `quantizedFrom`.
 * @throws AppError MODEL_UNAVAILABLE naming the offending file: missing or invalid model.json, a
 *   missing or corrupt graph, a graph whose inputs/outputs differ from the manifest, a variant
 *   quantized from another gpt.onnx.
 */
export async function loadModel(dir: string, options: LoadModelOptions = {}): Promise<ModelInfo> {
  const { verifyChecksums = true } = options;
  const root = resolve(dir);
  const manifestPath = join(root, 'model.json');
  const manifest = parseManifest(await readJson(manifestPath), manifestPath);
  crossCheck(manifest, manifestPath);
  for (const [name, graph] of graphEntries(manifest)) {
    for (const file of [graph, ...graph.externalData]) {
      await checkFile(join(root, file.file), file, verifyChecksums);
    }
    await checkGraphIo(name, join(root, graph.file), graph);
  }
  return toModelInfo(root, manifest);
}

/** `graphs.gptVariants` entries with the name their errors give them (`gptVariants.int8`). */
function variantEntries(manifest: ModelManifest): [string, GptVariantManifest][] {
  return (['int8', 'int4'] as const).flatMap((precision) => {
    const variant = manifest.graphs.gptVariants[precision];
    return variant ? [[`gptVariants.${precision}`, variant] as [string, GptVariantManifest]] : [];
  });
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'unreadable';
    throw errors.modelUnavailable(path, `${reason}: a model directory needs a model.json`, error);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw errors.modelUnavailable(path, `not valid JSON: ${messageOf(error)}`, error);
  }
}

/**
 * Every graph to verify, named as in the manifest: `encode`, `decode`, `gpt`, then each quantized
 * GPT (`gptVariants.int8`), verified like the others whether or not this process runs it.
 */
function graphEntries(manifest: ModelManifest): [string, GraphManifest][] {
  const graphs = (['encode', 'decode', 'gpt'] as const).flatMap((name) => {
    const graph = manifest.graphs[name];
    return graph ? [[name, graph] as [GraphName, GraphManifest]] : [];
  });
  return [...graphs, ...variantEntries(manifest)];
}

/** Sizes that must agree across the manifest; the schema checks each field alone. */
function crossCheck(m: ModelManifest, file: string): void {
  const { gpt, tokenizer: tok, classes, capabilities: caps } = m;
  const problems = [
    (caps.inpaint || caps.style) && !m.graphs.encode
      ? 'capabilities.inpaint/style require an encode graph, but graphs.encode is absent'
      : '',
    // The backbone runs only inside the encode graph: a generate-only model has neither.
    !m.graphs.encode !== !tok.semanticBackbone
      ? 'tokenizer.semanticBackbone and graphs.encode must be both present or both absent'
      : '',
    gpt.vocabSize !== tok.codebookSize
      ? `gpt.vocabSize ${gpt.vocabSize} differs from tokenizer.codebookSize ${tok.codebookSize}`
      : '',
    classes.length !== gpt.numClasses
      ? `classes lists ${classes.length} classes, gpt.numClasses is ${gpt.numClasses}`
      : '',
    classes.some((c, i) => c.id !== i) ? 'classes must be in id order 0 … numClasses−1' : '',
    gpt.nullClassId !== gpt.numClasses ? `gpt.nullClassId is not numClasses` : '',
    gpt.numHolistic !== tok.numHolistic || gpt.numPatch !== tok.numPatch
      ? 'gpt.numHolistic/numPatch differ from tokenizer.numHolistic/numPatch'
      : '',
    tok.numPatch !== tok.grid ** 2 ? `tokenizer.numPatch is not tokenizer.grid²` : '',
    // A variant quantized from another gpt.onnx would serve other weights under this model's name.
    ...variantEntries(m).map(([name, variant]) =>
      variant.quantizedFrom !== m.graphs.gpt.sha256
        ? `graphs.${name}.quantizedFrom ${variant.quantizedFrom} differs from graphs.gpt.sha256 ${m.graphs.gpt.sha256} (re-quantize it from this gpt.onnx)`
        : '',
    ),
  ].filter(Boolean);
  if (problems.length) {
    throw errors.modelUnavailable(file, `inconsistent manifest: ${problems.join('; ')}`);
  }
}

async function checkFile(
  path: string,
  expected: { sha256: string; bytes: number },
  verifyChecksums: boolean,
): Promise<void> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (error) {
    throw errors.modelUnavailable(path, 'missing: model.json lists it', error);
  }
  if (!verifyChecksums) return;
  // The size check is free and names a truncated download before a long hash.
  if (size !== expected.bytes) {
    throw errors.modelUnavailable(
      path,
      `size mismatch: expected ${expected.bytes} bytes, actual ${size}`,
    );
  }
  const actual = await sha256File(path);
  if (actual !== expected.sha256) {
    throw errors.modelUnavailable(
      path,
      `sha256 mismatch: expected ${expected.sha256}, actual ${actual} (corrupt or replaced; re-export or re-download the model)`,
    );
  }
}

/** Streams the file through the hash: graphs with external data run to gigabytes. */
async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Opens the graph on the CPU (no optimisation: only its signature is read) and compares. */
async function checkGraphIo(name: string, path: string, graph: GraphManifest): Promise<void> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(path, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'disabled',
    });
  } catch (error) {
    throw errors.modelUnavailable(
      path,
      `ONNX Runtime cannot open graph ${name}: ${messageOf(error)}`,
      error,
    );
  }
  try {
    const problems = [
      ...compareSide('input', graph.inputs, session.inputMetadata),
      ...compareSide('output', graph.outputs, session.outputMetadata),
    ];
    if (problems.length) {
      throw errors.modelUnavailable(
        path,
        `graph ${name} differs from model.json graphs.${name}: ${problems.join('; ')}`,
      );
    }
  } finally {
    await session.release();
  }
}

function compareSide(
  side: 'input' | 'output',
  declared: GraphManifest['inputs'],
  actual: readonly ort.InferenceSession.ValueMetadata[],
): string[] {
  const byName = new Map(actual.map((meta) => [meta.name, meta]));
  const problems: string[] = [];
  for (const spec of declared) {
    const meta = byName.get(spec.name);
    if (!meta) {
      problems.push(`declared ${side} "${spec.name}" is not in the ONNX graph`);
    } else if (meta.isTensor && meta.type !== spec.dtype) {
      problems.push(
        `${side} "${spec.name}" is ${meta.type} in the ONNX graph, ${spec.dtype} in model.json`,
      );
    }
  }
  const declaredNames = new Set(declared.map((spec) => spec.name));
  const undeclared = actual
    .filter((meta) => !declaredNames.has(meta.name))
    .map((m) => `"${m.name}"`);
  if (undeclared.length)
    problems.push(`ONNX graph ${side}s ${undeclared.join(', ')} are not declared`);
  return problems;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
