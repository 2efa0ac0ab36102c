import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Command, Option } from 'commander';
import { readInferenceConfig } from '../config.js';
import { errors } from '../errors.js';
import { parseExecutionProviders } from '../inference/ort/execution-providers.js';
import { MAX_IMAGES_PER_REQUEST } from '../inference/inference-engine.js';
import { ModelRegistry } from '../inference/model/model-registry.js';
import type { SamplingParams } from '../jobs/sampling-params.js';
import { WorkerEngine } from '../inference/thread/worker-engine.js';
import { toInferenceRequest } from '../inference/engine-request.js';
import { validateJobRequest, type JobDraft } from '../jobs/job-request.js';
import type { Decoding } from '../jobs/decoding.js';
import type { GptPrecision } from '../jobs/gpt-precision.js';
import {
  chosenPrecision,
  classArgument,
  decodingOption,
  parseInteger,
  parseNumber,
  precisionOption,
} from './arguments.js';
import { createProgressBar } from './progress-bar.js';

/** Each sampling knob has a flag named after it in kebab case (`--top-k`), but cfgScale: `--cfg`. */
interface CommonOptions extends Partial<Omit<SamplingParams, 'cfgScale'>> {
  model?: string;
  class?: string;
  count: number;
  seed?: number;
  cfg?: number;
  out?: string;
  ep?: string;
  precision?: GptPrecision;
  decoding: Decoding;
}

function withSamplingOptions(command: Command): Command {
  return command
    .option('--model <id|dir>', 'model id under HITA_MODELS_DIR, or a model directory')
    .option('--count <k>', 'images to make; image i uses seed + i', parseInteger, 1)
    .option('--seed <s>', 'seed of the first image (default: random, and reported)', parseInteger)
    .option('--cfg <x>', 'classifier-free guidance scale (1 = off)', parseNumber)
    .option('--temperature <t>', 'softmax temperature (0 = greedy)', parseNumber)
    .option('--top-k <k>', 'keep the k most likely tokens (0 = off)', parseInteger)
    .option('--top-p <p>', 'nucleus mass (1 = off)', parseNumber)
    .option('--out <path>', 'FILE.png for one image, a directory for several (files <seed>.png)')
    .addOption(
      new Option('--ep <list>', 'execution providers in order of preference').env('HITA_EP'),
    )
    .addOption(precisionOption())
    .addOption(decodingOption());
}

/** The flags every command shares, as a draft's fields (validateJobRequest reads the knobs). */
function commonDraft(options: CommonOptions) {
  const {
    model,
    class: classFlag,
    count,
    seed,
    cfg,
    out: _out,
    ep: _ep,
    precision: _precision,
    ...knobs
  } = options;
  return { ...knobs, cfgScale: cfg, model, count, seed, ...classArgument(classFlag) };
}

/** Where each image goes: `--out FILE.png` for one image, `--out DIR/<seed>.png` otherwise. */
function outputPaths(out: string | undefined, seeds: number[]): string[] {
  const isFile = out !== undefined && /\.png$/i.test(out);
  if (isFile && seeds.length > 1) {
    throw errors.badInput(
      'out',
      `${out} names one file but --count is ${seeds.length}; give a directory`,
    );
  }
  if (isFile) return [out];
  return seeds.map((seed) => join(out ?? '.', `${seed}.png`));
}

async function readInput(path: string, field: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (error) {
    throw errors.badInput(
      field,
      `cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    );
  }
}

/**
 * Validates one request (validateJobRequest, as the API does), reads its input files, runs it on
 * a worker-thread engine with a progress bar, then writes the PNGs.
 */
async function execute(options: CommonOptions, label: string, draft: JobDraft): Promise<void> {
  const config = readInferenceConfig();
  const providers =
    options.ep === undefined ? config.providers : parseExecutionProviders(options.ep);
  const registry = new ModelRegistry({
    modelsDir: config.modelsDir,
    defaultModel: config.defaultModel,
  });
  const model = await registry.resolve(options.model ?? config.defaultModel);
  const validated = validateJobRequest(draft, model, { maxCount: MAX_IMAGES_PER_REQUEST });
  const { seed } = validated;
  const seeds = Array.from({ length: validated.count }, (_, i) => seed + i);
  const paths = outputPaths(options.out, seeds);
  // The request's input "keys" are file paths here.
  const request = await toInferenceRequest(validated, readInput);
  const engine = new WorkerEngine({
    modelsDir: config.modelsDir,
    defaultModel: config.defaultModel,
    providers,
    maxBatchRows: config.maxBatchRows,
    precision: chosenPrecision(options.precision, config.precision),
    ...(config.threads === undefined ? {} : { threads: config.threads }),
    onLog: (level, message) => {
      if (level !== 'info') process.stderr.write(`hita: ${message}\n`);
    },
  });
  const bar = createProgressBar(label);
  try {
    const result = await engine.run({
      id: `cli-${seed}`,
      model: model.dir,
      request,
      onProgress: bar.update,
    });
    bar.stop();
    for (const [i, image] of result.images.entries()) {
      const path = paths[i]!;
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, image.png);
      process.stdout.write(
        `${path}\tseed ${image.seed}\t${image.width}x${image.height}\t${result.precision}\n`,
      );
    }
  } finally {
    bar.stop();
    await engine.close();
  }
}

export function generationCommands(): Command[] {
  const generate = withSamplingOptions(
    new Command('generate')
      .description('make images of a class')
      .requiredOption('--class <id|name>', 'class id or name'),
  ).action((options: CommonOptions) =>
    execute(options, 'generate', { ...commonDraft(options), kind: 'generate' }),
  );

  const inpaint = withSamplingOptions(
    new Command('inpaint')
      .description(
        'regenerate the masked part of an image (mask: white = regenerate, same size as the image)',
      )
      .requiredOption('--image <path>', 'the image')
      .requiredOption('--mask <path>', 'the mask')
      .option('--class <id|name>', 'class to guide the new content (default: unconditional)')
      .option('--resample-holistic', "sample new holistic tokens instead of keeping the image's")
      .option('--no-composite', 'keep the decoded pixels outside the mask too'),
  ).action(
    (
      options: CommonOptions & {
        image: string;
        mask: string;
        resampleHolistic?: boolean;
        composite: boolean;
      },
    ) =>
      execute(options, 'inpaint', {
        ...commonDraft(options),
        kind: 'inpaint',
        imageKey: options.image,
        maskKey: options.mask,
        keepHolistic: !options.resampleHolistic,
        composite: options.composite,
      }),
  );

  const style = withSamplingOptions(
    new Command('style')
      .description("transfer the style image's holistic tokens onto the content image")
      .requiredOption('--content <path>', 'the content image')
      .requiredOption('--style <path>', 'the style image')
      .addOption(
        new Option('--mode <mode>', 'swap: tokenizer only; regenerate: resample patches')
          .choices(['swap', 'regenerate'])
          .default('swap'),
      )
      .option(
        '--strength <s>',
        'regenerate: share of content patch tokens resampled, 0 … 1',
        parseNumber,
        0.5,
      )
      .option('--class <id|name>', 'class for regenerate mode (default: unconditional)'),
  ).action(
    (
      options: CommonOptions & {
        content: string;
        style: string;
        mode: 'swap' | 'regenerate';
        strength: number;
      },
    ) =>
      execute(options, 'style', {
        ...commonDraft(options),
        kind: 'style',
        contentKey: options.content,
        styleKey: options.style,
        mode: options.mode,
        strength: options.strength,
      }),
  );
  return [generate, inpaint, style];
}
