import * as ort from 'onnxruntime-node';

/** The GPT's cache geometry, from the manifest. */
export interface KvShape {
  layers: number;
  heads: number;
  headDim: number;
  /** Cache slots per row: one per GPT position of an image. */
  positions: number;
}

/** Rungs of a capacity ladder at most: bounds the re-layouts per image and the open-time probe. */
const MAX_RUNGS = 9;

/**
 * Slots between two trimmed capacities: 16 (a vector of floats on AVX-512, two on AVX2), doubled
 * until the ladder has at most MAX_RUNGS rungs (16 at 80 positions, 64 at 569). Every capacity C
 * is ≡ positions (mod the step): a row's logits over C slots were found bitwise those over all of
 * them only for such C (the softmax's vector lanes: on AVX2 any C ≡ positions mod 8 did).
 */
export function capacityStep(positions: number): number {
  let step = 16;
  while (Math.ceil(positions / step) > MAX_RUNGS) step *= 2;
  return step;
}

/** The capacities a trimmed cache can take, smallest first, ending with `positions`. */
export function capacityLadder(positions: number): number[] {
  const step = capacityStep(positions);
  const ladder: number[] = [];
  for (let c = positions % step || step; c <= positions; c += step) ladder.push(c);
  return ladder;
}

/**
 * Preallocated key/value storage for a continuous batch: per layer one buffer of maxRows ×
 * heads × positions × headDim floats, laid out as [maxRows, heads, capacity, headDim], slot s of
 * a row holding position s.
 *
 * Active rows are kept packed at the front (0 … rows−1), so the slab prefix is fed to ORT as the
 * past without copying; unwritten slots are masked out by the caller. A leaving row is replaced by
 * the last one (`move`).
 *
 * With trimming on, the capacity (slots per row fed to the GPT) follows what the rows need
 * (`fit`), on the ladder of `capacityLadder`, so attention reads only slots a row may use instead
 * of all `positions`. Changing it re-lays the rows out inside the same buffer. Off, it stays at
 * `positions`.
 */
export class KvCache {
  readonly shape: KvShape;
  readonly maxRows: number;
  private readonly keys: Float32Array[];
  private readonly values: Float32Array[];
  private readonly ladder: number[];
  private readonly step: number;
  private slots: number;
  private rowStride: number;

  /** @param isTrimming whether the capacity may go below `shape.positions` */
  constructor(shape: KvShape, maxRows: number, isTrimming = false) {
    this.shape = shape;
    this.maxRows = maxRows;
    this.ladder = isTrimming ? capacityLadder(shape.positions) : [shape.positions];
    this.step = capacityStep(shape.positions);
    this.slots = this.ladder[0]!;
    this.rowStride = shape.heads * this.slots * shape.headDim;
    const size = maxRows * shape.heads * shape.positions * shape.headDim;
    this.keys = Array.from({ length: shape.layers }, () => new Float32Array(size));
    this.values = Array.from({ length: shape.layers }, () => new Float32Array(size));
  }

  /** Bytes held by the buffers (the most the rows can fill). */
  get bytes(): number {
    return 2 * this.keys.length * this.keys[0]!.length * 4;
  }

  /** Slots per row now: what `pastFeeds` feeds and callers' masks cover. */
  get capacity(): number {
    return this.slots;
  }

  /**
   * Sets the capacity for the next calls: rows 0 … rows − 1 will use slots below `slots` (at most
   * `positions`). Grows to the smallest capacity that holds them; shrinks only to one that also
   * holds their next `capacityStep` W positions, and only when that is smaller than now. So a
   * shrink is followed by at least W AR steps at the smaller size before the rows grow back,
   * which save ≥ W² slot reads per row, about what the shrink and the growth back cost (copying
   * each row's slots once each way, ≤ 4 · positions slot reads and writes) at 80 positions and
   * far more past that (W² = 4,096 against 2,276 at 569). With no rows it drops to the smallest.
   */
  fit(slots: number, rows: number): void {
    const enough = this.rungFor(slots);
    if (enough > this.slots) this.relayOut(enough, rows);
    else if (rows === 0) this.relayOut(this.ladder[0]!, 0);
    else {
      const roomy = this.rungFor(slots + this.step);
      if (roomy < this.slots) this.relayOut(roomy, rows);
    }
  }

  /**
   * `past_key_{l}` / `past_value_{l}` feeds over `rows` rows from row `first`, `capacity` slots
   * each (a view of the slab, no copy).
   */
  pastFeeds(rows: number, first = 0): Record<string, ort.Tensor> {
    const { heads, headDim } = this.shape;
    const dims = [rows, heads, this.slots, headDim];
    const from = first * this.rowStride;
    const to = (first + rows) * this.rowStride;
    const feeds: Record<string, ort.Tensor> = {};
    for (let l = 0; l < this.shape.layers; l++) {
      feeds[`past_key_${l}`] = new ort.Tensor('float32', this.keys[l]!.subarray(from, to), dims);
      feeds[`past_value_${l}`] = new ort.Tensor(
        'float32',
        this.values[l]!.subarray(from, to),
        dims,
      );
    }
    return feeds;
  }

  /** Past feeds of no slots (a prefill: every position it sees is in the call). */
  emptyPastFeeds(rows: number): Record<string, ort.Tensor> {
    const { heads, headDim } = this.shape;
    const feeds: Record<string, ort.Tensor> = {};
    for (let l = 0; l < this.shape.layers; l++) {
      for (const kind of ['key', 'value']) {
        const empty = new Float32Array(0);
        feeds[`past_${kind}_${l}`] = new ort.Tensor('float32', empty, [rows, heads, 0, headDim]);
      }
    }
    return feeds;
  }

  /**
   * Copies new keys/values from a graph output into the cache.
   *
   * @param outputs the step's outputs (`new_key_{l}` [B, H, T, D])
   * @param batchIndex the row's index b in that call
   * @param from first index t along T to copy
   * @param count how many positions to copy
   * @param row the cache row
   * @param slot the cache slot receiving position t = from
   */
  write(
    outputs: ort.InferenceSession.OnnxValueMapType,
    batchIndex: number,
    from: number,
    count: number,
    row: number,
    slot: number,
  ): void {
    const { heads, headDim } = this.shape;
    const slots = this.slots;
    if (slot + count > slots) {
      throw new RangeError(`slots ${slot} … ${slot + count - 1} past the capacity ${slots}`);
    }
    for (let l = 0; l < this.shape.layers; l++) {
      for (const [name, slab] of [
        [`new_key_${l}`, this.keys[l]!],
        [`new_value_${l}`, this.values[l]!],
      ] as const) {
        const tensor = outputs[name]!;
        const t = tensor.dims[2]!;
        const data = tensor.data as Float32Array;
        const span = count * headDim;
        for (let h = 0; h < heads; h++) {
          const src = ((batchIndex * heads + h) * t + from) * headDim;
          const dst = row * this.rowStride + (h * slots + slot) * headDim;
          // A plain loop: this runs rows × layers × heads times per step, and a subarray per copy
          // costs more than the copy of one head's few floats.
          for (let i = 0; i < span; i++) slab[dst + i] = data[src + i]!;
        }
      }
    }
  }

  /** Moves row `from` into row `to` (used to keep active rows packed). */
  move(from: number, to: number): void {
    if (from === to) return;
    for (const slab of [...this.keys, ...this.values]) {
      slab.copyWithin(to * this.rowStride, from * this.rowStride, (from + 1) * this.rowStride);
    }
  }

  /** The smallest capacity on the ladder that holds `slots` (the largest past it). */
  private rungFor(slots: number): number {
    return this.ladder.find((c) => c >= slots) ?? this.ladder[this.ladder.length - 1]!;
  }

  /**
   * Re-lays rows 0 … rows − 1 out at `slots` per head, in place: each (row, head) run of slots
   * moves to its new offset, back to front when growing (a run only moves up, over runs already
   * moved) and front to back when shrinking (only down). Slots a shrink cuts hold nothing a row
   * needs; those a growth adds hold stale data, masked like any unwritten slot.
   */
  private relayOut(slots: number, rows: number): void {
    const { heads, headDim } = this.shape;
    const old = this.slots * headDim;
    const next = slots * headDim;
    const kept = Math.min(old, next);
    const runs = rows * heads;
    for (const slab of [...this.keys, ...this.values]) {
      if (next > old) {
        for (let i = runs - 1; i >= 0; i--) slab.copyWithin(i * next, i * old, i * old + kept);
      } else {
        for (let i = 0; i < runs; i++) slab.copyWithin(i * next, i * old, i * old + kept);
      }
    }
    this.slots = slots;
    this.rowStride = heads * slots * headDim;
  }
}
