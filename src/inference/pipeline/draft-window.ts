/**
 * The drafts of one speculatively decoded image (speculative-decoder.ts): up to k tokens for the
 * positions right after the ones it has, each with the distribution q it was drawn from, which
 * its verification needs. A forced token is a draft too, one that needs no q.
 */
/** Drafts per row and verification call (k) unless a caller picks another. */
export const DEFAULT_DRAFT_LENGTH = 4;

export class DraftWindow {
  /** Draft i is the token proposed for position `Sequence.position + i`. */
  readonly tokens: Int32Array;
  /** How many of `tokens` are drafts now (fewer near the end, or before any call). */
  count = 0;
  /**
   * Verification calls made so far: draft draws are keyed to it (with the position), so a
   * position drafted again in a later call gets a fresh draw.
   */
  iteration = 0;
  private readonly q: Float64Array;
  private readonly vocabSize: number;

  constructor(draftLength: number, vocabSize: number) {
    this.tokens = new Int32Array(draftLength);
    this.q = new Float64Array(draftLength * vocabSize);
    this.vocabSize = vocabSize;
  }

  /** The distribution draft `i` was drawn from (unused for a forced draft). */
  qAt(i: number): Float64Array {
    return this.q.subarray(i * this.vocabSize, (i + 1) * this.vocabSize);
  }
}
