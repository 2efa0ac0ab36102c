import * as ort from 'onnxruntime-node';
import { errors } from '../../errors.js';
import { KvCache, type KvShape } from './kv-cache.js';
import { chooseToken } from '../sampling/sampler.js';
import { RowRng } from '../sampling/rng.js';
import type { CommonRequest } from '../inference-engine.js';
import { FREE, forcedPrefixLength } from './token-layout.js';

/**
 * One image to generate, cut from its request: its tokens depend only on these fields and the
 * model. `seed` is the image's own (request seed + index); its RNG stream is (seed, position).
 */
export interface SequenceSpec extends Pick<CommonRequest, 'seed' | 'sampling'> {
  /** A class id, or the model's null class for unconditional generation. */
  classId: number;
  /** Length M + N; a token id where known in advance, FREE (−1) where it is sampled. */
  forced: Int32Array;
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

export interface BatchingEngineOptions {
  /** The `gpt` step graph (docs/model-directory.md). */
  session: ort.InferenceSession;
  kv: KvShape;
  vocabSize: number;
  nullClassId: number;
  /** Cap on rows per call; a CFG image takes two. @default 32 */
  maxBatchRows?: number;
  /**
   * Feed a one-row step as two rows (a copy whose outputs are dropped), for a graph whose one-row
   * kernel differs from its many-row one (int4 MatMulNBits on AVX2; row-invariance.ts decides).
   * A lone row then gets the same bytes as in any batch. Ignored when `maxBatchRows` is 1: every
   * step has one row then. @default false
   */
  padLoneRows?: boolean;
}

export interface BatchingStats {
  activeRows: number;
  queuedSequences: number;
  steps: number;
}

interface JobState {
  job: TokenJob;
  results: Int32Array[];
  remaining: number;
  cancelled: boolean;
  settled: boolean;
  resolve: (tokens: Int32Array[]) => void;
  reject: (error: unknown) => void;
}

interface Sequence {
  state: JobState;
  index: number;
  spec: SequenceSpec;
  rng: RowRng;
  tokens: Int32Array;
  /** The next position to feed; done when it reaches M + N. */
  position: number;
  /** Cache rows: the conditional one, then the unconditional one when CFG is on. */
  rows: number[];
}

/**
 * Continuous batching of the GPT over a shared KV cache (SPEC §3, our multi-row step graph).
 *
 * Each image is one or two cache rows. New images join at a step boundary: those with a forced
 * prefix (in-painting, style transfer) go through one teacher-forced prefill call first; the rest
 * start at position 0 inside the regular step. Finished and cancelled images leave at once and
 * free their rows. Every row sees only its own cache slots, so its logits, and with its own
 * (seed, position) RNG stream its tokens, do not depend on what else shares the batch.
 */
export class BatchingEngine {
  private readonly session: ort.InferenceSession;
  private readonly cache: KvCache;
  private readonly vocabSize: number;
  private readonly nullClassId: number;
  private readonly length: number;
  private readonly pending: Sequence[] = [];
  private readonly owners: Sequence[] = [];
  private readonly scratch: Float32Array;
  private readonly isPaddingLoneRows: boolean;
  private running: Promise<void> | null = null;
  private steps = 0;

  constructor(options: BatchingEngineOptions) {
    const { session, kv, vocabSize, nullClassId, maxBatchRows = 32, padLoneRows = false } = options;
    this.session = session;
    this.isPaddingLoneRows = padLoneRows && maxBatchRows >= 2;
    this.cache = new KvCache(kv, maxBatchRows);
    this.vocabSize = vocabSize;
    this.nullClassId = nullClassId;
    this.length = kv.positions;
    this.scratch = new Float32Array(vocabSize);
  }

  get stats(): BatchingStats {
    return {
      activeRows: this.owners.length,
      queuedSequences: this.pending.length,
      steps: this.steps,
    };
  }

  /** Queues a job's images; resolves with their tokens (M + N each) in order. */
  submit(job: TokenJob): Promise<Int32Array[]> {
    for (const spec of job.sequences) {
      if (spec.forced.length !== this.length) {
        throw errors.generationFailed(
          `forced tokens have length ${spec.forced.length}, expected ${this.length}`,
        );
      }
      if ((spec.sampling.cfgScale > 1 ? 2 : 1) > this.cache.maxRows) {
        throw errors.generationFailed(
          `maxBatchRows ${this.cache.maxRows} cannot hold one image with CFG`,
        );
      }
    }
    return new Promise<Int32Array[]>((resolve, reject) => {
      const state: JobState = {
        job,
        results: new Array<Int32Array>(job.sequences.length),
        remaining: job.sequences.length,
        cancelled: false,
        settled: false,
        resolve,
        reject,
      };
      job.sequences.forEach((spec, index) => {
        this.pending.push({
          state,
          index,
          spec,
          rng: new RowRng(spec.seed),
          tokens: new Int32Array(this.length),
          position: 0,
          rows: [],
        });
      });
      if (job.sequences.length === 0) resolve([]);
      this.running ??= this.loop().finally(() => (this.running = null));
    });
  }

  /** Cancels a job: its rows leave at the next step boundary and its promise rejects with CANCELLED. */
  cancel(jobId: string): boolean {
    let found = false;
    for (const seq of [...this.pending, ...this.owners]) {
      if (seq.state.job.id === jobId && !seq.state.cancelled) {
        seq.state.cancelled = true;
        found = true;
      }
    }
    return found;
  }

  /** Resolves when no work is left. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async loop(): Promise<void> {
    while (this.pending.length > 0 || this.owners.length > 0) {
      try {
        this.dropCancelled();
        const admitted = this.admit();
        const prefill = admitted.filter((seq) => forcedPrefixLength(seq.spec.forced) > 0);
        if (prefill.length > 0) await this.prefill(prefill);
        this.finishCompleted();
        if (this.owners.length > 0) await this.step();
        this.finishCompleted();
      } catch (error) {
        this.failAll(errors.generationFailed(`inference failed: ${String(error)}`, error, true));
      }
      // Yield so new jobs and cancellations (messages, timers) are seen between steps.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private admit(): Sequence[] {
    const admitted: Sequence[] = [];
    while (this.pending.length > 0) {
      const seq = this.pending[0]!;
      const need = seq.spec.sampling.cfgScale > 1 ? 2 : 1;
      if (this.owners.length + need > this.cache.maxRows) break;
      this.pending.shift();
      for (let i = 0; i < need; i++) {
        seq.rows.push(this.owners.length);
        this.owners.push(seq);
      }
      admitted.push(seq);
    }
    return admitted;
  }

  /** Input id at `position` of a row: the class (or null class) at 0, else the previous token. */
  private inputAt(seq: Sequence, rowIndex: number, position: number): number {
    if (position > 0) return seq.tokens[position - 1]!;
    return rowIndex === 0 ? seq.spec.classId : this.nullClassId;
  }

  /** Teacher-forces each new image's known prefix in one call with an empty past. */
  private async prefill(seqs: Sequence[]): Promise<void> {
    for (const seq of seqs) {
      const k = forcedPrefixLength(seq.spec.forced);
      seq.tokens.set(seq.spec.forced.subarray(0, k));
      seq.position = Math.min(k + 1, this.length);
    }
    const span = Math.max(...seqs.map((seq) => seq.position));
    const rows = seqs.flatMap((seq) => seq.rows.map((row, half) => ({ seq, row, half })));
    const ids = new BigInt64Array(rows.length * span);
    const positions = new BigInt64Array(rows.length * span);
    const mask = new Uint8Array(rows.length * span);
    rows.forEach(({ seq, half }, b) => {
      for (let t = 0; t < span; t++) {
        const valid = t < seq.position;
        ids[b * span + t] = BigInt(valid ? this.inputAt(seq, half, t) : 0);
        positions[b * span + t] = BigInt(Math.min(t, this.length - 1));
        mask[b * span + t] = valid ? 1 : 0;
      }
    });
    const { heads, headDim, layers } = this.cache.shape;
    const past: Record<string, ort.Tensor> = {};
    for (let l = 0; l < layers; l++) {
      for (const kind of ['key', 'value']) {
        past[`past_${kind}_${l}`] = new ort.Tensor('float32', new Float32Array(0), [
          rows.length,
          heads,
          0,
          headDim,
        ]);
      }
    }
    const out = await this.session.run({
      input_ids: new ort.Tensor('int64', ids, [rows.length, span]),
      position_ids: new ort.Tensor('int64', positions, [rows.length, span]),
      attention_mask: new ort.Tensor('bool', mask, [rows.length, span]),
      ...past,
    });
    rows.forEach(({ seq, row }, b) => this.cache.write(out, b, 0, seq.position, row, 0));
    const logits = out.logits!.data as Float32Array;
    let b = 0;
    for (const seq of seqs) {
      // A sequence's rows are consecutive in the call: conditional first.
      const p = seq.position - 1;
      const at = (i: number) =>
        logits.subarray(
          ((b + i) * span + p) * this.vocabSize,
          ((b + i) * span + p + 1) * this.vocabSize,
        );
      seq.tokens[p] = this.choose(seq, p, at(0), seq.rows.length > 1 ? at(1) : null);
      b += seq.rows.length;
    }
    this.reportProgress(seqs);
  }

  /** One position for every active row, all rows in one call over the whole cache. */
  private async step(): Promise<void> {
    // A padded lone row: row 1 repeats row 0's inputs over cache row 1 (free, whatever it holds:
    // masked-in stale slots only change the dummy's outputs, which are never read).
    const fed = this.owners.length === 1 && this.isPaddingLoneRows ? 2 : this.owners.length;
    const slots = this.length;
    const ids = new BigInt64Array(fed);
    const positions = new BigInt64Array(fed);
    const mask = new Uint8Array(fed * (slots + 1));
    for (let b = 0; b < fed; b++) {
      const seq = this.owners[Math.min(b, this.owners.length - 1)]!;
      const half = seq.rows.indexOf(b < this.owners.length ? b : 0);
      ids[b] = BigInt(this.inputAt(seq, half, seq.position));
      positions[b] = BigInt(seq.position);
      mask.fill(1, b * (slots + 1), b * (slots + 1) + seq.position);
      mask[b * (slots + 1) + slots] = 1;
    }
    const out = await this.session.run({
      input_ids: new ort.Tensor('int64', ids, [fed, 1]),
      position_ids: new ort.Tensor('int64', positions, [fed, 1]),
      attention_mask: new ort.Tensor('bool', mask, [fed, slots + 1]),
      ...this.cache.pastFeeds(fed),
    });
    this.steps++;
    const logits = out.logits!.data as Float32Array;
    const row = (b: number) => logits.subarray(b * this.vocabSize, (b + 1) * this.vocabSize);
    const stepped = new Set<Sequence>();
    this.owners.forEach((seq, b) => this.cache.write(out, b, 0, 1, b, seq.position));
    for (const seq of this.owners) {
      if (stepped.has(seq)) continue;
      stepped.add(seq);
      const p = seq.position;
      seq.tokens[p] = this.choose(
        seq,
        p,
        row(seq.rows[0]!),
        seq.rows.length > 1 ? row(seq.rows[1]!) : null,
      );
      seq.position = p + 1;
    }
    this.reportProgress([...stepped]);
  }

  private choose(
    seq: Sequence,
    position: number,
    cond: Float32Array,
    uncond: Float32Array | null,
  ): number {
    const forced = seq.spec.forced[position]!;
    if (forced !== FREE) return forced;
    return chooseToken(cond, uncond, seq.spec.sampling, seq.rng.uniform(position), this.scratch);
  }

  private reportProgress(seqs: Sequence[]): void {
    const jobs = new Set(seqs.map((seq) => seq.state));
    for (const state of jobs) {
      if (!state.job.onProgress || state.cancelled) continue;
      let step = this.length;
      const tokens = [...state.results];
      for (const seq of [...this.pending, ...this.owners]) {
        if (seq.state !== state) continue;
        step = Math.min(step, seq.position);
        tokens[seq.index] = seq.tokens;
      }
      state.job.onProgress({ step, total: this.length, tokens: () => tokens });
    }
  }

  /** Frees a sequence's rows, keeping the active rows packed at the front of the cache. */
  private release(seq: Sequence): void {
    for (const row of [...seq.rows].sort((a, b) => b - a)) {
      const last = this.owners.length - 1;
      const mover = this.owners[last]!;
      if (last !== row) {
        this.cache.move(last, row);
        mover.rows[mover.rows.indexOf(last)] = row;
        this.owners[row] = mover;
      }
      this.owners.pop();
    }
    seq.rows = [];
  }

  private finishCompleted(): void {
    for (const seq of [...new Set(this.owners)]) {
      if (seq.position < this.length) continue;
      this.release(seq);
      const state = seq.state;
      state.results[seq.index] = seq.tokens;
      state.remaining--;
      if (state.cancelled) this.settle(state, errors.cancelled(state.job.id));
      else if (state.remaining === 0) this.settle(state);
    }
  }

  private dropCancelled(): void {
    const cancelled = new Set<JobState>();
    for (const seq of [...new Set(this.owners)]) {
      if (seq.state.cancelled) {
        this.release(seq);
        cancelled.add(seq.state);
      }
    }
    for (let i = this.pending.length - 1; i >= 0; i--) {
      if (this.pending[i]!.state.cancelled) cancelled.add(this.pending.splice(i, 1)[0]!.state);
    }
    for (const state of cancelled) this.settle(state, errors.cancelled(state.job.id));
  }

  private failAll(error: unknown): void {
    const states = new Set([...this.pending, ...this.owners].map((seq) => seq.state));
    this.pending.length = 0;
    this.owners.length = 0;
    for (const state of states) this.settle(state, error);
  }

  /** Resolves (no error) or rejects a job exactly once. */
  private settle(state: JobState, error?: unknown): void {
    if (state.settled) return;
    state.settled = true;
    if (error === undefined) state.resolve(state.results);
    else state.reject(error);
  }
}
