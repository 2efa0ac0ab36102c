/**
 * The body of an inference worker thread: owns the ORT sessions of one device, because
 * `session.run` blocks the thread that calls it and must never run on the API's event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { AppError, errors, isAppError } from '../../errors.js';
import { openPipeline } from '../ort/open-pipeline.js';
import type { GptPrecision } from '../model/model-manifest.js';
import type { HitaPipeline } from '../pipeline/hita-pipeline.js';
import { ModelRegistry } from '../model/model-registry.js';
import type {
  EngineThreadConfig,
  FromEngine,
  SerializedError,
  ToEngine,
} from './worker-protocol.js';

const port = parentPort;
if (!port) throw new Error('engine-thread.ts runs only as a worker thread');
const config = workerData as EngineThreadConfig;
const registry = new ModelRegistry({
  modelsDir: config.modelsDir,
  defaultModel: config.defaultModel,
});
/** An open model: its pipeline and the precision its GPT runs at. */
interface OpenModel {
  pipeline: HitaPipeline;
  precision: GptPrecision;
}
const pipelines = new Map<string, Promise<OpenModel>>();
const jobModels = new Map<string, Promise<OpenModel>>();
/**
 * Runs still waiting for their model (resolved, then opened: seconds for a large one), by job
 * id. A cancel then answers CANCELLED at once and the run, once the model is open, sends nothing.
 * One object per run, so a re-run under the same id never inherits an older run's state.
 */
const waitingForModel = new Map<string, { isAnswered: boolean }>();
const inFlight = new Set<Promise<void>>();
let provider: string | null = null;
let closing = false;

function send(message: FromEngine): void {
  port!.postMessage(message);
}

const logger = {
  info: (data: Record<string, unknown>, message: string) =>
    send({ type: 'log', level: 'info', message, data }),
  warn: (data: Record<string, unknown>, message: string) =>
    send({ type: 'log', level: 'warn', message, data }),
};

function serialize(error: unknown): SerializedError {
  const app: AppError = isAppError(error)
    ? error
    : errors.generationFailed(String(error), error, true);
  return app.toJSON();
}

async function pipelineFor(
  model: string | undefined,
): Promise<{ id: string; pipeline: Promise<OpenModel> }> {
  const info = await registry.resolve(model);
  let pipeline = pipelines.get(info.dir);
  if (!pipeline) {
    pipeline = openPipeline(info, { ...config, logger }).then((opened) => {
      provider = opened.provider;
      const wanted = config.precision ?? 'fp32';
      const data = {
        model: info.id,
        provider: opened.provider,
        precision: opened.precision,
        padLoneRows: opened.isPaddingLoneRows,
        trimCache: opened.isTrimmingCache,
        maxDecodeImages: opened.maxDecodeImages,
      };
      if (opened.precision === wanted) logger.info(data, 'model opened');
      else logger.warn(data, `model opened at fp32: ${info.id} has no ${wanted} GPT graph`);
      return { pipeline: opened.pipeline, precision: opened.precision };
    });
    pipelines.set(info.dir, pipeline);
    pipeline.catch(() => pipelines.delete(info.dir));
  }
  return { id: info.id, pipeline };
}

async function run(message: Extract<ToEngine, { type: 'run' }>): Promise<void> {
  const { jobId } = message;
  if (closing) {
    const error = errors.generationFailed('the engine is closing', undefined, true);
    send({ type: 'failed', jobId, error: serialize(error) });
    return;
  }
  const waiting = { isAnswered: false };
  waitingForModel.set(jobId, waiting);
  const stopWaiting = (): void => {
    if (waitingForModel.get(jobId) === waiting) waitingForModel.delete(jobId);
  };
  try {
    const { id, pipeline } = await pipelineFor(message.model);
    jobModels.set(jobId, pipeline);
    const { pipeline: opened, precision } = await pipeline;
    stopWaiting();
    if (waiting.isAnswered) return; // cancelled while its model was opening: answered already
    // close() cancels the jobs it can see; one still opening its model is cancelled here.
    if (closing) throw errors.cancelled(jobId);
    // No await between here and the pipeline registering the job, so no cancel falls between.
    const images = await opened.run(
      jobId,
      message.request,
      (progress) => send({ type: 'progress', jobId, progress }),
      message.preview ? (frames) => send({ type: 'preview', jobId, frames }) : undefined,
    );
    send({ type: 'done', jobId, model: id, precision, images });
  } catch (error) {
    if (!waiting.isAnswered) send({ type: 'failed', jobId, error: serialize(error) });
  } finally {
    stopWaiting();
    jobModels.delete(jobId);
  }
}

/** Stops a job: in its pipeline when it has one, else at once while its model still opens. */
function cancel(jobId: string): void {
  const waiting = waitingForModel.get(jobId);
  if (waiting) {
    waitingForModel.delete(jobId);
    waiting.isAnswered = true;
    send({ type: 'failed', jobId, error: serialize(errors.cancelled(jobId)) });
    return;
  }
  void jobModels.get(jobId)?.then((opened) => opened.pipeline.cancel(jobId));
}

/**
 * Ends this thread without ever interrupting `session.run`: a thread terminated inside it takes
 * the whole process down (`terminate called after throwing an instance of 'Napi::Error'`). Every
 * job is cancelled (its rows leave at the next step boundary), the calls in flight settle, the
 * sessions are released, and closing the port lets the thread's event loop run dry and exit.
 */
async function close(): Promise<void> {
  if (closing) return;
  closing = true;
  for (const [jobId, pipeline] of jobModels) {
    void pipeline.then((opened) => opened.pipeline.cancel(jobId)).catch(() => undefined);
  }
  await Promise.allSettled([...inFlight]);
  for (const opened of await Promise.allSettled([...pipelines.values()])) {
    if (opened.status === 'fulfilled') {
      await opened.value.pipeline.close().catch(() => undefined);
    }
  }
  port!.close();
}

port.on('message', (message: ToEngine) => {
  switch (message.type) {
    case 'run': {
      const running = run(message);
      inFlight.add(running);
      void running.finally(() => inFlight.delete(running));
      break;
    }
    case 'cancel':
      cancel(message.jobId);
      break;
    case 'stats': {
      const stats = { activeRows: 0, queuedSequences: 0, steps: 0 };
      void Promise.allSettled([...pipelines.values()]).then((settled) => {
        for (const result of settled) {
          if (result.status !== 'fulfilled') continue;
          const s = result.value.pipeline.engine.stats;
          stats.activeRows += s.activeRows;
          stats.queuedSequences += s.queuedSequences;
          stats.steps += s.steps;
        }
        send({
          type: 'stats',
          requestId: message.requestId,
          stats: { provider, ...stats, rssBytes: process.memoryUsage().rss },
        });
      });
      break;
    }
    case 'close':
      void close();
      break;
  }
});

send({ type: 'ready' });
