/**
 * Counter-based random numbers: Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers:
 * as easy as 1, 2, 3", SC 2011; https://doi.org/10.1145/2063384.2063405, Random123). A block is a pure
 * function of (counter, key), so a row's draws depend only on its seed and step — never on the batch
 * it shares, the order of calls or how many draws other rows made. `tools/hita/sample.py` holds the
 * identical Python reference (`philox4x32`, `row_uniform`).
 */
import { errors } from '../../errors.js';

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
const ROUNDS = 10;
const TWO_POW_32 = 4294967296;
const TWO_POW_26 = 67108864;
const TWO_POW_53 = 9007199254740992;

// Results of the last mulHiLo call; module-level so the hot path allocates nothing.
let productHi = 0;
let productLo = 0;

/**
 * Exact 32×32→64-bit product of two uint32 values, split into 16-bit halves so every partial product
 * stays below 2^32 (exact in a double). Writes `productHi` and `productLo` as uint32.
 */
function mulHiLo(a: number, b: number): void {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const ll = aLo * bLo;
  const lh = aLo * bHi;
  const hl = aHi * bLo;
  const hh = aHi * bHi;
  // Bits 16..31 of the product plus what carries out of them into bit 32 and above.
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  productLo = (((mid & 0xffff) << 16) | (ll & 0xffff)) >>> 0;
  productHi = (hh + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) >>> 0;
}

/** Runs the 10 rounds on uint32 words and writes the block into `out[0..3]`. */
function philoxInto(
  out: Uint32Array,
  n0: number,
  n1: number,
  n2: number,
  n3: number,
  k0: number,
  k1: number,
): void {
  let c0 = n0 >>> 0;
  let c1 = n1 >>> 0;
  let c2 = n2 >>> 0;
  let c3 = n3 >>> 0;
  let key0 = k0 >>> 0;
  let key1 = k1 >>> 0;
  for (let round = 0; round < ROUNDS; round++) {
    if (round > 0) {
      key0 = (key0 + W0) >>> 0;
      key1 = (key1 + W1) >>> 0;
    }
    mulHiLo(M0, c0);
    const hi0 = productHi;
    const lo0 = productLo;
    mulHiLo(M1, c2);
    c0 = (productHi ^ c1 ^ key0) >>> 0;
    c1 = productLo;
    c2 = (hi0 ^ c3 ^ key1) >>> 0;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

/**
 * One Philox4x32-10 block.
 *
 * @param counter four words, each taken modulo 2^32
 * @param key two words, each taken modulo 2^32
 * @returns a new `Uint32Array(4)`
 */
export function philox4x32(
  counter: readonly [number, number, number, number],
  key: readonly [number, number],
): Uint32Array {
  const out = new Uint32Array(4);
  philoxInto(out, counter[0], counter[1], counter[2], counter[3], key[0], key[1]);
  return out;
}

/**
 * The random stream of one sequence (one output image). The seed is the Philox key: its low 32 bits
 * are key word 0 and its high 21 bits key word 1. Draw `(step, lane)` is the block for counter
 * `[step, lane, 0, 0]`, so a draw is fixed by `(seed, step, lane)` alone.
 */
export class RowRng {
  readonly seed: number;
  private readonly key0: number;
  private readonly key1: number;
  private readonly block = new Uint32Array(4);

  /**
   * @param seed an integer in [0, Number.MAX_SAFE_INTEGER]
   * @throws AppError `INTERNAL_SERVER_ERROR` (field `seed`) for anything else: seeds are
   *   validated long before (validateJobRequest), so this is an assertion
   */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      const broken = errors.badInput(
        'seed',
        `must be an integer in [0, 2^53 - 1], got ${String(seed)}`,
        {
          received: Number.isFinite(seed) ? seed : String(seed),
        },
      );
      throw errors.unvalidated(broken);
    }
    this.seed = seed;
    this.key0 = seed % TWO_POW_32;
    this.key1 = Math.floor(seed / TWO_POW_32);
  }

  /**
   * A uniform double in [0, 1): 53 random bits (the top 27 of word 0 and the top 26 of word 1 of the
   * block for counter `[step, lane, 0, 0]`) divided by 2^53.
   *
   * @param step the decode step (token position), a uint32
   * @param lane a sub-stream for extra draws at the same step, a uint32 @default 0
   * @throws RangeError when `step` or `lane` is not a uint32
   */
  uniform(step: number, lane = 0): number {
    if (step >>> 0 !== step || lane >>> 0 !== lane) {
      throw new RangeError(`step and lane must be uint32 integers, got ${step}, ${lane}`);
    }
    philoxInto(this.block, step, lane, 0, 0, this.key0, this.key1);
    const high27 = this.block[0]! >>> 5;
    const low26 = this.block[1]! >>> 6;
    return (high27 * TWO_POW_26 + low26) / TWO_POW_53;
  }
}
