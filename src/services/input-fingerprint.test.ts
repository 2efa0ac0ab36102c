import { describe, expect, it } from 'vitest';
import { inputFingerprint } from './input-fingerprint.js';

describe('inputFingerprint', () => {
  it('ignores key order and treats null like an omitted field', () => {
    const a = inputFingerprint('generateImages', { classId: 1, seed: 4, count: 2 });
    expect(inputFingerprint('generateImages', { count: 2, seed: 4, classId: 1 })).toBe(a);
    expect(inputFingerprint('generateImages', { classId: 1, seed: 4, count: 2, model: null })).toBe(
      a,
    );
    expect(inputFingerprint('generateImages', { classId: 1, count: 2, seed: undefined })).toBe(
      inputFingerprint('generateImages', { classId: 1, count: 2 }),
    );
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });

  it('tells apart other values, other fields and other mutations', () => {
    const a = inputFingerprint('generateImages', { classId: 1 });
    expect(inputFingerprint('generateImages', { classId: 2 })).not.toBe(a);
    expect(inputFingerprint('generateImages', { classId: 1, seed: 0 })).not.toBe(a);
    expect(inputFingerprint('transferStyle', { classId: 1 })).not.toBe(a);
    expect(inputFingerprint('generateImages', { classId: '1' })).not.toBe(a);
  });
});
