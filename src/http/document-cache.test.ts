import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { DocumentCache } from './document-cache.js';

const doc = parse('{ health { ok } }');

describe('DocumentCache', () => {
  it('holds at most maxQueryChars of query text, dropping the least recently used', () => {
    const cache = new DocumentCache({ maxQueryChars: 30 });
    cache.set('a'.repeat(10), doc);
    cache.set('b'.repeat(10), doc);
    cache.set('c'.repeat(10), doc);
    expect(cache.get('a'.repeat(10))).toBe(doc); // now the most recent
    cache.set('d'.repeat(10), doc);
    expect(cache.get('b'.repeat(10))).toBeUndefined();
    expect(cache.get('a'.repeat(10))).toBe(doc);
    expect(cache.size).toBe(30);
  });

  it('stays bounded under any number of distinct documents', () => {
    const cache = new DocumentCache({ maxQueryChars: 1000 });
    for (let i = 0; i < 10_000; i++) cache.set(`{ a${i}: health { ok } }`, doc);
    expect(cache.size).toBeLessThanOrEqual(1000);
    expect(cache.get('{ a9999: health { ok } }')).toBe(doc);
    expect(cache.get('{ a0: health { ok } }')).toBeUndefined();
  });

  it('does not cache a query longer than maxQueryLength, nor count one stored twice twice', () => {
    const cache = new DocumentCache({ maxQueryChars: 100, maxQueryLength: 20 });
    cache.set('x'.repeat(21), doc);
    expect(cache.get('x'.repeat(21))).toBeUndefined();
    cache.set('y'.repeat(20), doc);
    cache.set('y'.repeat(20), doc);
    expect(cache.size).toBe(20);
  });
});
