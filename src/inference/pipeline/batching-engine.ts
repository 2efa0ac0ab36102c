import * as ort from 'onnxruntime-node';
import { errors } from '../../errors.js';
import { KvCache, type KvShape } from './kv-cache.js';
import { chooseToken } from '../sampling/sampler.js';
import { RowRng } from '../sampling/rng.js';
import { FREE, forcedPrefixLength } from './token-layout.js';
import { RowTable } from './row-table.js';
import { isSpeculative, type JobState, type Sequence, type TokenJob } from './sequence.js';
import { DEFAULT_DRAFT_LENGTH } from './draft-window.js';
import { SpeculativeDecoder, type SpeculativeStats } from './speculative-decoder.js';

export type { SequenceSpec, TokenJob, TokenProgress } from './sequence.js';

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
  /**
   * Drafts per row and call for speculative sequences (`SequenceSpec.decoding`), k ≥ 1: each
   * call feeds them k + 1 positions. Part of what a seed gives: the same seed with another k
   * samples other (equally distributed) tokens. @default 4
   */
  draftLength?: number;
  /** Cap on rows × (k + 1) of a speculative call; more rows take several calls. @default 256 */
  maxSpeculativeTokens?: number;
  /**
   * Feed each call only the cache slots its rows can use (KvCache trimming), for a graph whose
   * logits over those were found bitwise those over all slots (trim-invariance.ts). @default false
   */
  trimCache?: boolean;
}

export interface BatchingStats extends SpeculativeStats {
  activeRows: number;
  queuedSequences: number;
  /** Step calls, AR and speculative (prefill calls not counted). */
  steps: number;
}

/**
 * Continuous batching of the GPT over a shared KV cache (SPEC §3, our multi-row step graph).
 *
 * Each image is one or two cache rows. New images join at a step boundary: those with a forced
 * prefix (in-painting, style transfer) go through one teacher-forced prefill call first; the rest
 * start at position 0 inside the regular step. Finished and cancelled images leave at once and
 * free their rows. Speculative images (speculative-decoder.ts) have rows of their own after the
 * AR rows (RowTable) and their own call per step, with k + 1 positions per row. Every row sees only its own cache slots, so its logits, and with its own
 * (seed, position) RNG stream its tokens, do not depend on what else shares the batch.
 */
export class BatchingEngine {
  private readonly session: ort.InferenceSession;
  private readonly cache: KvCache;
  private readonly vocabSize: number;
  private readonly nullClassId: number;
  private readonly length: number;
  private readonly pending: Sequence[] = [];
  private readonly table: RowTable;
  private readonly speculative: SpeculativeDecoder;
  private readonly scratch: Float32Array;
  private readonly isPaddingLoneRows: boolean;
  /** Positions a speculative row may write in one call, k + 1. */
  private readonly span: number;
  private running: Promise<void> | null = null;
  private steps = 0;

  constructor(options: BatchingEngineOptions) {
    const {
      session,
      kv,
      vocabSize,
      nullClassId,
      maxBatchRows = 32,
      padLoneRows = false,
      draftLength = DEFAULT_DRAFT_LENGTH,
      maxSpeculativeTokens = 256,
      trimCache = false,
    } = options;
    if (!Number.isSafeInteger(draftLength) || draftLength < 1) {
      throw errors.internal(`draftLength must be an integer ≥ 1, got ${draftLength}`);
    }
    this.session = session;
    this.isPaddingLoneRows = padLoneRows && maxBatchRows >= 2;
    this.cache = new KvCache(kv, maxBatchRows, trimCache);
    this.span = draftLength + 1;
    this.table = new RowTable((from, to) => this.cache.move(from, to));
    this.speculative = new SpeculativeDecoder({
      session,
      cache: this.cache,
      vocabSize,
      draftLength,
      maxTokensPerCall: maxSpeculativeTokens,
      inputAt: (seq, half, position) => this.inputAt(seq, half, position),
    });
    this.vocabSize = vocabSize;
    this.nullClassId = nullClassId;
    this.length = kv.positions;
    this.scratch = new Float32Array(vocabSize);
  }

  get stats(): BatchingStats {
    return {
      activeRows: this.table.size,
      queuedSequences: this.pending.length,
      steps: this.steps,
      ...this.speculative.stats,
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
          window: null,
        });
      });
      if (job.sequences.length === 0) resolve([]);
      this.running ??= this.loop().finally(() => (this.running = null));
    });
  }

  /** Cancels a job: its rows leave at the next step boundary and its promise rejects with CANCELLED. */
  cancel(jobId: string): boolean {
    let found = false;
    for (const seq of [...this.pending, ...this.table.owners]) {
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
    while (this.pending.length > 0 || this.table.size > 0) {
      try {
        this.dropCancelled();
        const admitted = this.admit();
        const prefill = admitted.filter((seq) => forcedPrefixLength(seq.spec.forced) > 0);
        if (prefill.length > 0) await this.prefill(prefill);
        this.finishCompleted();
        if (this.table.arRows > 0) await this.step();
        if (this.table.size > this.table.arRows) await this.speculativeStep();
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
      if (this.table.size + need > this.cache.maxRows) break;
      this.pending.shift();
      for (let i = 0; i < need; i++) this.table.add(seq);
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
    this.fitCache();
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
    const out = await this.session.run({
      input_ids: new ort.Tensor('int64', ids, [rows.length, span]),
      position_ids: new ort.Tensor('int64', positions, [rows.length, span]),
      attention_mask: new ort.Tensor('bool', mask, [rows.length, span]),
      ...this.cache.emptyPastFeeds(rows.length),
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

  /** One position for every AR row, all of them in one call over their part of the cache. */
  private async step(): Promise<void> {
    const owners = this.table.owners;
    const arRows = this.table.arRows;
    // A padded lone row: row 1 repeats row 0's inputs over cache row 1 (free or speculative,
    // whatever it holds: it only changes the dummy's outputs, which are never read or cached).
    const fed = arRows === 1 && this.isPaddingLoneRows ? 2 : arRows;
    this.fitCache();
    const slots = this.cache.capacity;
    const ids = new BigInt64Array(fed);
    const positions = new BigInt64Array(fed);
    const mask = new Uint8Array(fed * (slots + 1));
    for (let b = 0; b < fed; b++) {
      const seq = owners[Math.min(b, arRows - 1)]!;
      const half = seq.rows.indexOf(b < arRows ? b : 0);
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
    const arOwners = owners.slice(0, arRows);
    arOwners.forEach((seq, b) => this.cache.write(out, b, 0, 1, b, seq.position));
    for (const seq of arOwners) {
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

  /** One verification call (or a few, past maxSpeculativeTokens) for the speculative rows. */
  private async speculativeStep(): Promise<void> {
    const { owners, arRows, size } = this.table;
    this.fitCache();
    const stepped = await this.speculative.step(owners, arRows, size);
    this.steps++;
    this.reportProgress(stepped);
  }

  /**
   * Sizes the cache for the next call: every row's slots so far and those it writes next (one
   * for an AR row, up to k + 1 for a speculative one), so each call of this step, AR or
   * speculative, sees the same capacity.
   */
  private fitCache(): void {
    let slots = 0;
    for (const seq of this.table.owners) {
      slots = Math.max(slots, seq.position + (isSpeculative(seq) ? this.span : 1));
    }
    this.cache.fit(Math.min(slots, this.length), this.table.size);
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
      for (const seq of [...this.pending, ...this.table.owners]) {
        if (seq.state !== state) continue;
        step = Math.min(step, seq.position);
        tokens[seq.index] = seq.tokens;
      }
      state.job.onProgress({ step, total: this.length, tokens: () => tokens });
    }
  }

  private finishCompleted(): void {
    for (const seq of [...new Set(this.table.owners)]) {
      if (seq.position < this.length) continue;
      this.table.release(seq);
      const state = seq.state;
      state.results[seq.index] = seq.tokens;
      state.remaining--;
      if (state.cancelled) this.settle(state, errors.cancelled(state.job.id));
      else if (state.remaining === 0) this.settle(state);
    }
  }

  private dropCancelled(): void {
    const cancelled = new Set<JobState>();
    for (const seq of [...new Set(this.table.owners)]) {
      if (seq.state.cancelled) {
        this.table.release(seq);
        cancelled.add(seq.state);
      }
    }
    for (let i = this.pending.length - 1; i >= 0; i--) {
      if (this.pending[i]!.state.cancelled) cancelled.add(this.pending.splice(i, 1)[0]!.state);
    }
    for (const state of cancelled) this.settle(state, errors.cancelled(state.job.id));
  }

  private failAll(error: unknown): void {
    const states = new Set([...this.pending, ...this.table.owners].map((seq) => seq.state));
    this.pending.length = 0;
    this.table.clear();
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
