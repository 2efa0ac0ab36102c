/**
 * Speculative Jacobi decoding over the shared KV cache (Teng et al., "Accelerating
 * Auto-regressive Text-to-Image Generation with Training-free Speculative Jacobi Decoding",
 * https://arxiv.org/abs/2410.01699): training-free, the model drafts for itself.
 *
 * A call feeds each speculative row T = k + 1 positions: the input of its next position n, then
 * its drafts d_0 … d_{c−1} (c ≤ k) for positions n … n + c − 1, padded to T with masked
 * positions, so every speculative call has the same T whatever its rows are. The logits at
 * position n + j give p_j, the processed distribution of that position given the drafts before
 * it. Drafts are verified in order with the rule of speculative-acceptance.ts; the first rejected
 * one is replaced by a draw from the residual and ends the call's progress; when all c pass, one
 * more token is drawn from p_c. So each call makes 1 … c + 1 tokens, distributed exactly as AR
 * sampling's, and only those positions' keys and values enter the cache.
 *
 * The next drafts are the Jacobi update: position n + j after the new tokens is drawn from this
 * call's p_j (computed on a prefix that may have changed), and positions past n + c from p_c, the
 * last distribution the call gave. Forced tokens (in-painting, style regenerate) are drafts that
 * are accepted as they are and never drawn.
 *
 * Every draw is keyed to (seed, position, lane) through RowRng: lane 0 the token's own draw (the
 * residual or the last token; AR uses lane 0 too), lane 1 the acceptance test, lane 2 + i a draft
 * drawn in the image's i-th call. An image's calls depend only on its own tokens, so its bytes are
 * the same alone or in any batch.
 */
import * as ort from 'onnxruntime-node';
import { processedDistribution } from '../sampling/sampler.js';
import { drawFrom, verifyDraft } from '../sampling/speculative-acceptance.js';
import { DraftWindow } from './draft-window.js';
import type { KvCache } from './kv-cache.js';
import type { Sequence } from './sequence.js';
import { FREE } from './token-layout.js';

const TOKEN_LANE = 0;
const ACCEPT_LANE = 1;
const DRAFT_LANE = 2;

export interface SpeculativeDecoderOptions {
  session: ort.InferenceSession;
  cache: KvCache;
  vocabSize: number;
  /** Drafts per row and call, k ≥ 1. */
  draftLength: number;
  /** Cap on rows × (k + 1) per call; more rows are split over several calls. */
  maxTokensPerCall: number;
  /** Input id at a position of a row: the class (or null class) at 0, else the previous token. */
  inputAt: (seq: Sequence, half: number, position: number) => number;
}

/** What speculative decoding has done so far (engine stats, the bench). */
export interface SpeculativeStats {
  /** Verification calls (one per chunk of rows). */
  calls: number;
  /** Sampled drafts verified (forced ones are not counted). */
  draftsTested: number;
  draftsAccepted: number;
}

interface CallOutput {
  out: ort.InferenceSession.OnnxValueMapType;
  first: number;
}

export class SpeculativeDecoder {
  readonly stats: SpeculativeStats = { calls: 0, draftsTested: 0, draftsAccepted: 0 };
  private readonly options: SpeculativeDecoderOptions;
  private readonly length: number;
  private readonly span: number;
  /** p_0 … p_k of the sequence being advanced; `known[j]` once p_j is computed. */
  private readonly probs: Float64Array;
  private readonly known: boolean[];
  private readonly scratch: Float32Array;

  constructor(options: SpeculativeDecoderOptions) {
    this.options = options;
    this.length = options.cache.shape.positions;
    this.span = options.draftLength + 1;
    this.probs = new Float64Array(this.span * options.vocabSize);
    this.known = new Array<boolean>(this.span).fill(false);
    this.scratch = new Float32Array(options.vocabSize);
  }

  /**
   * One verification step for the speculative rows `first … end − 1` of `owners` (a packed
   * group, RowTable). Returns the sequences it advanced.
   */
  async step(owners: readonly Sequence[], first: number, end: number): Promise<Sequence[]> {
    const { vocabSize, maxTokensPerCall } = this.options;
    const seqs = [...new Set(owners.slice(first, end))];
    for (const seq of seqs) seq.window ??= this.openWindow(seq);
    const rowsPerCall = Math.max(1, Math.floor(maxTokensPerCall / this.span));
    const calls: CallOutput[] = [];
    for (let from = first; from < end; from += rowsPerCall) {
      const to = Math.min(end, from + rowsPerCall);
      calls.push({ out: await this.run(owners, from, to), first: from });
      this.stats.calls++;
    }
    const locate = (row: number) => {
      const call = calls[Math.floor((row - first) / rowsPerCall)]!;
      return { out: call.out, b: row - call.first };
    };
    const logitsAt = (row: number, j: number) => {
      const { out, b } = locate(row);
      const at = (b * this.span + j) * vocabSize;
      return (out.logits!.data as Float32Array).subarray(at, at + vocabSize);
    };
    for (const seq of seqs) {
      const tokens = this.advance(seq, logitsAt);
      for (const row of seq.rows) {
        const { out, b } = locate(row);
        this.options.cache.write(out, b, 0, tokens, row, seq.position - tokens);
      }
    }
    return seqs;
  }

  /** A new window: the forced tokens right after the prefix, since no p exists yet to draw from. */
  private openWindow(seq: Sequence): DraftWindow {
    const { draftLength, vocabSize } = this.options;
    const window = new DraftWindow(draftLength, vocabSize);
    const room = Math.max(0, Math.min(draftLength, this.length - 1 - seq.position));
    const forced = seq.spec.forced;
    while (window.count < room && forced[seq.position + window.count]! !== FREE) {
      window.tokens[window.count] = forced[seq.position + window.count]!;
      window.count++;
    }
    return window;
  }

  /** Feeds rows `from … to − 1`: each row's next input and its drafts, padded to k + 1. */
  private async run(
    owners: readonly Sequence[],
    from: number,
    to: number,
  ): Promise<ort.InferenceSession.OnnxValueMapType> {
    const rows = to - from;
    const { span, length } = this;
    const slots = this.options.cache.capacity;
    const ids = new BigInt64Array(rows * span);
    const positions = new BigInt64Array(rows * span);
    const mask = new Uint8Array(rows * (slots + span));
    for (let b = 0; b < rows; b++) {
      const seq = owners[from + b]!;
      const half = seq.rows.indexOf(from + b);
      const window = seq.window!;
      const n = seq.position;
      for (let t = 0; t < span; t++) {
        const isValid = t <= window.count;
        const id = t === 0 ? this.options.inputAt(seq, half, n) : window.tokens[t - 1]!;
        ids[b * span + t] = BigInt(isValid ? id : 0);
        positions[b * span + t] = BigInt(Math.min(n + t, length - 1));
        mask[b * (slots + span) + slots + t] = isValid ? 1 : 0;
      }
      mask.fill(1, b * (slots + span), b * (slots + span) + n);
    }
    return this.options.session.run({
      input_ids: new ort.Tensor('int64', ids, [rows, span]),
      position_ids: new ort.Tensor('int64', positions, [rows, span]),
      attention_mask: new ort.Tensor('bool', mask, [rows, slots + span]),
      ...this.options.cache.pastFeeds(rows, from),
    });
  }

  /**
   * Verifies one sequence's drafts against this call's logits, appends the tokens it made and
   * drafts the next window.
   * @returns how many positions were made (their keys and values go into the cache)
   */
  private advance(seq: Sequence, logitsAt: (row: number, j: number) => Float32Array): number {
    const { vocabSize } = this.options;
    this.known.fill(false);
    // p_j on demand: forced positions never need theirs, and a row often stops early.
    const p = (j: number): Float64Array => {
      const dist = this.probs.subarray(j * vocabSize, (j + 1) * vocabSize);
      if (!this.known[j]) {
        const uncond = seq.rows.length > 1 ? logitsAt(seq.rows[1]!, j) : null;
        const cond = logitsAt(seq.rows[0]!, j);
        processedDistribution(cond, uncond, seq.spec.sampling, this.scratch, dist);
        this.known[j] = true;
      }
      return dist;
    };
    const from = seq.position;
    const made = this.verify(seq, p);
    this.redraft(seq, from, p);
    return made;
  }

  /**
   * The acceptance pass: drafts in order until one is rejected (its residual draw takes its
   * place) or all pass (one more token from p_c). Writes the tokens and moves `seq.position`.
   * @returns how many tokens it made, 1 … c + 1
   */
  private verify(seq: Sequence, p: (j: number) => Float64Array): number {
    const window = seq.window!;
    const { forced } = seq.spec;
    const n = seq.position;
    const c = window.count;
    for (let j = 0; j < c; j++) {
      const position = n + j;
      const draft = window.tokens[j]!;
      seq.tokens[position] = draft;
      if (forced[position]! !== FREE) continue;
      this.stats.draftsTested++;
      const uAccept = seq.rng.uniform(position, ACCEPT_LANE);
      const uToken = seq.rng.uniform(position, TOKEN_LANE);
      const verdict = verifyDraft(p(j), window.qAt(j), draft, uAccept, uToken);
      if (!verdict.isAccepted) {
        seq.tokens[position] = verdict.token;
        seq.position = position + 1;
        return j + 1;
      }
      this.stats.draftsAccepted++;
    }
    const position = n + c;
    const fixed = forced[position]!;
    seq.tokens[position] =
      fixed !== FREE ? fixed : drawFrom(p(c), seq.rng.uniform(position, TOKEN_LANE));
    seq.position = position + 1;
    return c + 1;
  }

  /**
   * The Jacobi update: the window after `seq.position`, each draft drawn from this call's
   * distribution at its position (call start `from`), or from the last one (p_c) past it.
   */
  private redraft(seq: Sequence, from: number, p: (j: number) => Float64Array): void {
    const window = seq.window!;
    const { forced } = seq.spec;
    const c = window.count;
    const next = seq.position;
    const room = Math.max(0, Math.min(this.options.draftLength, this.length - 1 - next));
    for (let i = 0; i < room; i++) {
      const position = next + i;
      const fixed = forced[position]!;
      if (fixed !== FREE) {
        window.tokens[i] = fixed;
        continue;
      }
      const source = p(Math.min(position - from, c));
      window.qAt(i).set(source);
      window.tokens[i] = drawFrom(source, seq.rng.uniform(position, DRAFT_LANE + window.iteration));
    }
    window.count = room;
    window.iteration++;
  }
}
