/**
 * The precisions a GPT graph comes in. A domain type: the model directory lists them, the
 * runtime picks one (HITA_PRECISION), the worker records the one a job ran with on its outputs,
 * and the API shows it as `JobParameters.precision` and `Model.precisions`.
 */

/**
 * In this order: `fp32` is `graphs.gpt`, always present; `int8` and `int4` are weight-only
 * quantized variants (`graphs.gptVariants`, tools/hita/quantize.py).
 */
export const GPT_PRECISIONS = ['fp32', 'int8', 'int4'] as const;

/** One of {@link GPT_PRECISIONS}. */
export type GptPrecision = (typeof GPT_PRECISIONS)[number];

/** What a job's record says when nothing was recorded: jobs that ran before precisions existed. */
export const DEFAULT_GPT_PRECISION: GptPrecision = 'fp32';

/** Whether `value` names one of {@link GPT_PRECISIONS}. */
export function isGptPrecision(value: unknown): value is GptPrecision {
  return (GPT_PRECISIONS as readonly unknown[]).includes(value);
}

/**
 * The precision a job ran with, from its stored outputs (the worker writes it on each at
 * completion): `fp32` for records without it, written before precisions existed, and for jobs
 * without images yet (queued, running, failed or cancelled: the GPT graph is the worker's, known
 * only once one has run the job).
 */
export function precisionOfOutputs(outputs: readonly { precision?: GptPrecision }[]): GptPrecision {
  return outputs[0]?.precision ?? DEFAULT_GPT_PRECISION;
}
