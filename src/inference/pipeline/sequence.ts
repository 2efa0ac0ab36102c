/**
 * What the batching engine keeps per job and per image. Its own module so that the decoders
 * (batching-engine.ts's AR step, speculative-decoder.ts) and the row table share the shapes.
 */
import type { Decoding } from '../../jobs/decoding.js';
import type { CommonRequest } from '../inference-engine.js';
import type { RowRng } from '../sampling/rng.js';
import type { DraftWindow } from './draft-window.js';

/**
 * One image to generate, cut from its request: its tokens depend only on these fields and the
 * model. `seed` is the image's own (request seed + index); its RNG stream is (seed, position).
 */
export interface SequenceSpec extends Pick<CommonRequest, 'seed' | 'sampling'> {
  /** A class id, or the model's null class for unconditional generation. */
  classId: number;
  /** Length M + N; a token id where known in advance, FREE (−1) where it is sampled. */
  forced: Int32Array;
  /** @default 'ar' */
  decoding?: Decoding;
}

export interface TokenProgress {
  /** Positions done, for the least advanced image of the job. */
  step: number;
  /** M + N. */
  total: number;
  /** Each image's sequence (previews): the first `step` final; the engine's, so read at once. */
  tokens: () => Int32Array[];
}

export interface TokenJob {
  id: string;
  sequences: SequenceSpec[];
  /** Called after every step the job took part in. */
  onProgress?: (progress: TokenProgress) => void;
}

export interface JobState {
  job: TokenJob;
  results: Int32Array[];
  remaining: number;
  cancelled: boolean;
  settled: boolean;
  resolve: (tokens: Int32Array[]) => void;
  reject: (error: unknown) => void;
}

export interface Sequence {
  state: JobState;
  index: number;
  spec: SequenceSpec;
  rng: RowRng;
  tokens: Int32Array;
  /** The next position to feed; done when it reaches M + N. */
  position: number;
  /** Cache rows: the conditional one, then the unconditional one when CFG is on. */
  rows: number[];
  /** Speculative decoding's drafts; null for AR sequences and before their first call. */
  window: DraftWindow | null;
}

/** Whether a sequence decodes speculatively. */
export function isSpeculative(seq: Sequence): boolean {
  return seq.spec.decoding === 'speculative';
}
