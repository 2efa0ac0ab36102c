import * as ort from 'onnxruntime-node';

/** The GPT's cache geometry, from the manifest. */
export interface KvShape {
  layers: number;
  heads: number;
  headDim: number;
  /** Cache slots per row: one per GPT position of an image. */
  positions: number;
}

/**
 * Preallocated key/value storage for a continuous batch: per layer one slab
 * [maxRows, heads, positions, headDim], slot s of a row holding position s.
 *
 * Active rows are kept packed at the front (0 … rows−1), so the slab prefix is fed to ORT as the
 * past without copying; unwritten slots are masked out by the caller. A leaving row is replaced by
 * the last one (`move`), which is the only copy the cache ever makes.
 */
export class KvCache {
  readonly shape: KvShape;
  readonly maxRows: number;
  private readonly keys: Float32Array[];
  private readonly values: Float32Array[];
  private readonly rowStride: number;
  private readonly slotStride: number;

  constructor(shape: KvShape, maxRows: number) {
    this.shape = shape;
    this.maxRows = maxRows;
    this.slotStride = shape.headDim;
    this.rowStride = shape.heads * shape.positions * shape.headDim;
    this.keys = Array.from(
      { length: shape.layers },
      () => new Float32Array(maxRows * this.rowStride),
    );
    this.values = Array.from(
      { length: shape.layers },
      () => new Float32Array(maxRows * this.rowStride),
    );
  }

  /** Bytes held by the slabs. */
  get bytes(): number {
    return 2 * this.shape.layers * this.maxRows * this.rowStride * 4;
  }

  /**
   * `past_key_{l}` / `past_value_{l}` feeds over `rows` rows from row `first`, every slot
   * included (a view of the slab, no copy).
   */
  pastFeeds(rows: number, first = 0): Record<string, ort.Tensor> {
    const { heads, positions, headDim } = this.shape;
    const dims = [rows, heads, positions, headDim];
    const feeds: Record<string, ort.Tensor> = {};
    for (let l = 0; l < this.shape.layers; l++) {
      feeds[`past_key_${l}`] = new ort.Tensor(
        'float32',
        this.keys[l]!.subarray(first * this.rowStride, (first + rows) * this.rowStride),
        dims,
      );
      feeds[`past_value_${l}`] = new ort.Tensor(
        'float32',
        this.values[l]!.subarray(first * this.rowStride, (first + rows) * this.rowStride),
        dims,
      );
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
    const { heads, headDim, positions } = this.shape;
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
          const dst = row * this.rowStride + (h * positions + slot) * this.slotStride;
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
}
