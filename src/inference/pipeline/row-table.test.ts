import { describe, expect, it } from 'vitest';
import type { Decoding } from '../../jobs/decoding.js';
import { RowTable } from './row-table.js';
import type { Sequence } from './sequence.js';

/** A sequence with only what the table reads. */
function seq(decoding: Decoding): Sequence {
  return { spec: { decoding }, rows: [] } as unknown as Sequence;
}

/**
 * A table over a fake cache whose row r holds the label of what was written there, so a move
 * that loses or misplaces a row's keys and values shows.
 */
function table() {
  const cache: (string | undefined)[] = [];
  const rows = new RowTable((from, to) => (cache[to] = cache[from]));
  const labels = new Map<Sequence, string>();
  const add = (s: Sequence, label: string) => {
    labels.set(s, label);
    rows.add(s);
    cache[s.rows.at(-1)!] = `${label}${s.rows.length - 1}`;
  };
  /** Every invariant: groups packed (AR first), owners and rows agree, cache rows follow. */
  const check = () => {
    const { owners, arRows, size } = rows;
    expect(owners).toHaveLength(size);
    owners.forEach((owner, r) => {
      expect(owner.spec.decoding === 'speculative', `row ${r}`).toBe(r >= arRows);
      const half = owner.rows.indexOf(r);
      expect(half, `row ${r}`).toBeGreaterThanOrEqual(0);
      expect(cache[r]).toBe(`${labels.get(owner)}${half}`);
    });
  };
  return { rows, add, check };
}

describe('RowTable', () => {
  it('keeps AR rows first and speculative rows after, packed, through adds and releases', () => {
    const { rows, add, check } = table();
    const [a, b, s, t, c] = [
      seq('ar'),
      seq('ar'),
      seq('speculative'),
      seq('speculative'),
      seq('ar'),
    ];
    add(s, 's');
    add(s, 's'); // a CFG image: two rows
    add(a, 'a');
    check();
    add(t, 't');
    add(b, 'b');
    add(b, 'b');
    check();
    expect([rows.arRows, rows.size]).toEqual([3, 6]);
    rows.release(a);
    check();
    add(c, 'c');
    rows.release(s);
    check();
    rows.release(b);
    check();
    expect(rows.owners).toEqual([c, t]);
    rows.release(t);
    rows.release(c);
    expect([rows.arRows, rows.size]).toEqual([0, 0]);
  });

  it('releases a CFG image whose rows are apart', () => {
    const { rows, add, check } = table();
    const [a, b, s] = [seq('ar'), seq('ar'), seq('speculative')];
    add(a, 'a');
    add(b, 'b');
    add(a, 'a'); // rows 0 and 2
    add(s, 's');
    check();
    expect(a.rows).toEqual([0, 2]);
    rows.release(a);
    check();
    expect(rows.owners).toEqual([b, s]);
    expect(a.rows).toEqual([]);
  });
});
