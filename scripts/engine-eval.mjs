// Runs a batch of requests through the shipped ONNX graphs and the TypeScript engine, for
// tools/evaluate.py: the figures it reports are those of the graphs `hita serve` runs, not of
// the PyTorch weights they came from.
//   node scripts/engine-eval.mjs SPEC.json      (after npm run build)
// SPEC: { model: DIR, threads?: n, precision?: 'fp32' | 'int8' | 'int4' (the GPT graph; fp32),
//         decoding?: 'ar' | 'speculative' (every request's, as a job's `decoding`; ar),
//         reconstruct?: [{ image: PNG, out: PNG }],
//         requests?: [{ out: [PNG, ...], request: InferenceRequest with image paths }] }
// Prints one JSON line for the opened pipeline first ({ precision, decoding, isPaddingLoneRows }),
// then one per reconstruction ({ image, holistic, patch }) and per request ({ out }). A precision
// the model lacks is an error here, not a silent fp32 run as in the server; an unknown decoding
// is an error as in the server.
import { readFile, writeFile } from 'node:fs/promises';
import { readImage, encodePng } from '../dist/inference/pipeline/image-codec.js';
import { loadModel } from '../dist/inference/model/model-loader.js';
import { openPipeline } from '../dist/inference/ort/open-pipeline.js';
import { checkDecoding, DEFAULT_DECODING } from '../dist/jobs/decoding.js';

const spec = JSON.parse(await readFile(process.argv[2], 'utf8'));
const model = await loadModel(spec.model);
const wanted = spec.precision ?? 'fp32';
let decoding;
try {
  decoding = checkDecoding(spec.decoding ?? DEFAULT_DECODING);
} catch (error) {
  console.error(`spec: ${error.message}`);
  process.exit(1);
}
if (!model.gptPrecisions.includes(wanted)) {
  console.error(
    `${spec.model} has no ${wanted} GPT graph (it has ${model.gptPrecisions.join(', ')})`,
  );
  process.exit(1);
}
const { pipeline, precision, isPaddingLoneRows } = await openPipeline(model, {
  providers: ['cpu'],
  precision: wanted,
  maxBatchRows: 64,
  ...(spec.threads ? { threads: spec.threads } : {}),
});
const size = model.manifest.imageSize;
const emit = (record) => process.stdout.write(`${JSON.stringify(record)}\n`);
emit({ precision, decoding, isPaddingLoneRows });

// Reconstruction: encode then decode, one image per decode call as the engine always does.
const encoder = pipeline.requireEncoder('style');
for (const { image, out } of spec.reconstruct ?? []) {
  const [codes] = await pipeline.encode(encoder, [
    await readImage(await readFile(image), size, 'image'),
  ]);
  const rgb = await pipeline.decodeToRgb(codes.holistic, codes.patch);
  await writeFile(out, await encodePng(rgb));
  emit({ image, holistic: Array.from(codes.holistic), patch: Array.from(codes.patch) });
}

// Requests run concurrently so the engine batches them, as it does for concurrent jobs.
const IMAGE_FIELDS = ['image', 'mask', 'content', 'style'];
await Promise.all(
  (spec.requests ?? []).map(async ({ out, request }, i) => {
    // The server's engine request carries the checked decoding on every job (engine-request.ts).
    const resolved = { ...request, decoding };
    for (const field of IMAGE_FIELDS) {
      if (typeof request[field] === 'string') resolved[field] = await readFile(request[field]);
    }
    const images = await pipeline.run(`eval-${i}`, resolved);
    await Promise.all(images.map((image, k) => writeFile(out[k], image.png)));
    emit({ out });
  }),
);
