import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { validateSamplingParams, type SamplingParams } from './sampling-params.js';

const V = 16384;
const DEFAULTS: SamplingParams = { cfgScale: 1.5, temperature: 1, topK: 0, topP: 1 };

function rejection(params: Partial<SamplingParams>): AppError {
  try {
    validateSamplingParams({ ...DEFAULTS, ...params }, V);
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error(`accepted ${JSON.stringify(params)}`);
}

describe('validateSamplingParams', () => {
  it('returns a frozen copy of valid params', () => {
    const input = { ...DEFAULTS };
    const out = validateSamplingParams(input, V);
    expect(out).toEqual(DEFAULTS);
    expect(out).not.toBe(input);
    expect(Object.isFrozen(out)).toBe(true);
  });

  it.each<Partial<SamplingParams>>([
    { cfgScale: 1 },
    { cfgScale: 20 },
    { temperature: 0 },
    { temperature: 10 },
    { topK: 1 },
    { topK: V },
    { topP: 1e-9 },
    { topP: 1 },
  ])('accepts the boundary value %j', (params) => {
    expect(() => validateSamplingParams({ ...DEFAULTS, ...params }, V)).not.toThrow();
  });

  it.each<[Partial<SamplingParams>, keyof SamplingParams, RegExp]>([
    [{ cfgScale: Number.NaN }, 'cfgScale', /finite number in \[1, 20\], got NaN/],
    [{ cfgScale: Infinity }, 'cfgScale', /finite number in \[1, 20\], got Infinity/],
    [{ cfgScale: 0.99 }, 'cfgScale', /must be in \[1, 20\], got 0\.99/],
    [{ cfgScale: 20.5 }, 'cfgScale', /must be in \[1, 20\], got 20\.5/],
    [{ temperature: -Infinity }, 'temperature', /finite number in \[0, 10\]/],
    [{ temperature: -0.1 }, 'temperature', /must be in \[0, 10\], got -0\.1/],
    [{ temperature: 10.01 }, 'temperature', /must be in \[0, 10\], got 10\.01/],
    [{ topK: Number.NaN }, 'topK', /finite number in \[0, 16384\], got NaN/],
    [{ topK: -1 }, 'topK', /must be in \[0, 16384\], got -1/],
    [{ topK: V + 1 }, 'topK', /must be in \[0, 16384\], got 16385/],
    [{ topK: 2.5 }, 'topK', /must be an integer in \[0, 16384\], got 2\.5/],
    [{ topP: 0 }, 'topP', /must be in \(0, 1\], got 0/],
    [{ topP: -0.5 }, 'topP', /must be in \(0, 1\], got -0\.5/],
    [{ topP: 1.01 }, 'topP', /must be in \(0, 1\], got 1\.01/],
    [{ topP: Number.NaN }, 'topP', /finite number in \(0, 1\], got NaN/],
  ])('rejects %j with BAD_USER_INPUT on %s', (params, field, message) => {
    const err = rejection(params);
    expect(err.code).toBe('BAD_USER_INPUT');
    expect(err.message.startsWith(`${field}: `)).toBe(true);
    expect(err.message).toMatch(message);
    expect(err.details).toMatchObject({ field });
  });

  it('rejects a non-number arriving from an untyped edge', () => {
    const err = rejection({ topP: '0.9' as unknown as number });
    expect(err.message).toBe('topP: must be a finite number in (0, 1], got 0.9');
  });

  it('checks fields in declaration order', () => {
    expect(rejection({ cfgScale: 0, topP: 0 }).details).toMatchObject({ field: 'cfgScale' });
  });

  it('treats a bad vocabSize as a programming error', () => {
    expect(() => validateSamplingParams(DEFAULTS, 0)).toThrow(RangeError);
    expect(() => validateSamplingParams(DEFAULTS, 1.5)).toThrow(RangeError);
  });
});
