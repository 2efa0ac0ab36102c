/**
 * Which sequence owns each KV cache row, with the rows kept packed and in two groups: AR rows
 * first (0 … arRows − 1), then speculative rows (arRows … size − 1). Each group is one
 * contiguous slab range, fed to its own call: an AR call has T = 1, a speculative one T = k + 1,
 * and a row's bytes may not depend on another mode's T. Keeping the groups packed costs at most
 * two row moves per row freed or added.
 */
import { isSpeculative, type Sequence } from './sequence.js';

export class RowTable {
  /** Row r's sequence; a CFG sequence appears twice. */
  readonly owners: Sequence[] = [];
  private arRowCount = 0;
  /** Copies cache row `from` into row `to` (KvCache.move). */
  private readonly moveRow: (from: number, to: number) => void;

  constructor(moveRow: (from: number, to: number) => void) {
    this.moveRow = moveRow;
  }

  /** Rows in use. */
  get size(): number {
    return this.owners.length;
  }

  /** Rows 0 … arRows − 1 are AR rows; the rest are speculative. */
  get arRows(): number {
    return this.arRowCount;
  }

  /** Gives `seq` one more row, in its group. */
  add(seq: Sequence): void {
    const end = this.owners.length;
    if (isSpeculative(seq)) {
      seq.rows.push(end);
      this.owners.push(seq);
      return;
    }
    // The first speculative row, if any, moves to the end to make room at the AR group's end.
    if (end > this.arRowCount) this.move(this.arRowCount, end);
    this.owners[this.arRowCount] = seq;
    seq.rows.push(this.arRowCount);
    this.arRowCount++;
  }

  /** Frees a sequence's rows, keeping both groups packed. */
  release(seq: Sequence): void {
    for (const row of [...seq.rows].sort((a, b) => b - a)) {
      if (row < this.arRowCount) {
        // The AR group's last row fills the hole, the last speculative row the one it leaves.
        const lastAr = this.arRowCount - 1;
        this.move(lastAr, row);
        this.move(this.owners.length - 1, lastAr);
        this.arRowCount--;
      } else {
        this.move(this.owners.length - 1, row);
      }
      this.owners.pop();
    }
    seq.rows = [];
  }

  /** Forgets every row (after a failed call: the engine fails every job). */
  clear(): void {
    this.owners.length = 0;
    this.arRowCount = 0;
  }

  /** Moves the owner of row `from` (and its cache row) to row `to`. */
  private move(from: number, to: number): void {
    if (from === to) return;
    const mover = this.owners[from]!;
    this.moveRow(from, to);
    mover.rows[mover.rows.indexOf(from)] = to;
    this.owners[to] = mover;
  }
}
