import { describe, expect, it } from 'vitest';
import { isAppError } from '../errors.js';
import {
  checkMaskSize,
  checkSeed,
  MAX_SEED,
  validateJobRequest,
  type JobDraft,
  type JobRequestLimits,
  type RequestModel,
} from './job-request.js';
import {
  draftOfStored,
  QUEUE_KIND,
  toJobParameters,
  toObjectMetadata,
  toStoredParams,
} from './stored-job.js';

const SAMPLING = { cfgScale: 1.5, temperature: 1, topK: 0, topP: 1 };

/** What validateJobRequest reads of a model (the registry's ModelInfo has these fields). */
function tinyModel(capabilities = { inpaint: true, style: true }): RequestModel {
  return {
    id: 'tiny',
    classes: [
      { id: 0, name: 'Smileys' },
      { id: 1, name: 'Animals & Nature' },
      { id: 2, name: 'Food' },
    ],
    capabilities,
    manifest: { sampling: SAMPLING, gpt: { vocabSize: 64 } },
  };
}

const MODEL = tinyModel();
const LIMITS: JobRequestLimits = { maxCount: 16, drawSeed: () => 7 };
const validate = <const D extends JobDraft>(draft: D, model = MODEL) =>
  validateJobRequest(draft, model, LIMITS);

/** The code, field and message a draft is refused with. */
function refusal(draft: JobDraft, model = MODEL): [string, unknown, string] {
  try {
    validate(draft, model);
  } catch (error) {
    if (!isAppError(error)) throw error;
    return [error.code, error.details?.field, error.message];
  }
  throw new Error(`accepted ${JSON.stringify(draft)}`);
}

const INPAINT = { imageKey: 't/a/uploads/i.png', maskKey: 't/a/uploads/m.png' };
const STYLE = { contentKey: 't/a/uploads/c.png', styleKey: 't/a/uploads/s.png' };

describe('validateJobRequest: defaults', () => {
  it('takes the model’s sampling defaults, one image, a drawn seed and no model id', () => {
    expect(validate({ kind: 'generate', classId: 2 })).toEqual({
      kind: 'generate',
      model: null,
      count: 1,
      seed: 7,
      ...SAMPLING,
      decoding: 'ar',
      classId: 2,
    });
  });

  it('decodes speculatively only when asked, and refuses an unknown decoding', () => {
    expect(validate({ kind: 'generate', classId: 0, decoding: 'speculative' }).decoding).toBe(
      'speculative',
    );
    const unknown = { kind: 'generate', classId: 0, decoding: 'jacobi' } as unknown as JobDraft;
    expect(refusal(unknown)).toEqual([
      'BAD_USER_INPUT',
      'decoding',
      'decoding: must be one of ar, speculative, got "jacobi"',
    ]);
  });

  it('keeps every knob given, and only those', () => {
    const request = validate({ kind: 'generate', classId: 0, topK: 40, temperature: 0.8 });
    expect(request).toMatchObject({ cfgScale: 1.5, temperature: 0.8, topK: 40, topP: 1 });
  });

  it('in-paints unconditionally, keeping holistic tokens and compositing', () => {
    const request = validate({ ...INPAINT, kind: 'inpaint', seed: 3 });
    expect(request).toMatchObject({ keepHolistic: true, composite: true });
    expect(request).not.toHaveProperty('classId');
    const given = validate({ ...INPAINT, kind: 'inpaint', keepHolistic: false, composite: false });
    expect(given).toMatchObject({ keepHolistic: false, composite: false });
  });

  it('transfers style by SWAP at strength 0.5', () => {
    expect(validate({ ...STYLE, kind: 'style' })).toMatchObject({ mode: 'swap', strength: 0.5 });
  });

  it('carries input copies through (the worker reads them)', () => {
    const inputCopies = { image: 't/a/inputs/1.png', mask: 't/a/inputs/2.png' };
    expect(validate({ ...INPAINT, kind: 'inpaint', inputCopies }).inputCopies).toBe(inputCopies);
  });
});

describe('validateJobRequest: rules', () => {
  it('resolves a class name case-insensitively and trimmed', () => {
    expect(validate({ kind: 'generate', className: '  animals & NATURE ' }).classId).toBe(1);
  });

  it.each<[string, JobDraft, string, RegExp]>([
    ['no class', { kind: 'generate' }, 'classId', /give classId or className/],
    [
      'both class fields',
      { kind: 'generate', classId: 1, className: 'Food' },
      'classId',
      /not both/,
    ],
    ['a class out of range', { kind: 'generate', classId: 3 }, 'classId', /0 … 2, got 3/],
    [
      'an unknown class name',
      { kind: 'generate', className: 'Dragons' },
      'className',
      /"Dragons" is not a class of tiny/,
    ],
    ['a count of zero', { kind: 'generate', classId: 1, count: 0 }, 'count', /1 … 16, got 0/],
    ['a count over the limit', { kind: 'generate', classId: 1, count: 17 }, 'count', /1 … 16/],
    ['a negative seed', { kind: 'generate', classId: 1, seed: -1 }, 'seed', /got -1/],
    [
      'a seed whose last image passes 2^31 − 1',
      { kind: 'generate', classId: 1, seed: MAX_SEED, count: 2 },
      'seed',
      /0 … 2147483646/,
    ],
    [
      'a cfg scale below 1',
      { kind: 'generate', classId: 1, cfgScale: 0.5 },
      'cfgScale',
      /must be in \[1, 20\]/,
    ],
    ['top-p of zero', { kind: 'generate', classId: 1, topP: 0 }, 'topP', /must be in \(0, 1\]/],
    ['top-k above the vocabulary', { kind: 'generate', classId: 1, topK: 65 }, 'topK', /\[0, 64\]/],
    [
      'a strength above 1',
      { ...STYLE, kind: 'style', strength: 3 },
      'strength',
      /^strength: must be in \[0, 1\], got 3$/,
    ],
    [
      'a strength that is not a number',
      { ...STYLE, kind: 'style', strength: NaN },
      'strength',
      /got NaN/,
    ],
    [
      'two SWAP images',
      { ...STYLE, kind: 'style', count: 2 },
      'count',
      /^count: SWAP is deterministic: it makes one image$/,
    ],
  ])('refuses %s with BAD_USER_INPUT on its field', (_, draft, field, message) => {
    const [code, named, text] = refusal(draft);
    expect([code, named]).toEqual(['BAD_USER_INPUT', field]);
    expect(text).toMatch(message);
  });

  it('lets REGENERATE make several images', () => {
    expect(validate({ ...STYLE, kind: 'style', mode: 'regenerate', count: 3 }).count).toBe(3);
  });

  it('needs the image encoder for in-painting and style transfer, not for generation', () => {
    const blind = tinyModel({ inpaint: false, style: false });
    expect(refusal({ ...INPAINT, kind: 'inpaint' }, blind)).toEqual([
      'BAD_USER_INPUT',
      'model',
      'model: tiny has no image encoder, so it cannot in-paint',
    ]);
    expect(refusal({ ...STYLE, kind: 'style' }, blind)[2]).toMatch(/cannot transfer style$/);
    expect(validate({ kind: 'generate', classId: 0 }, blind).kind).toBe('generate');
  });

  it('checks capability, class, strength, count, seed, sampling, then the SWAP count', () => {
    const blind = tinyModel({ inpaint: false, style: false });
    const all = { ...STYLE, kind: 'style', classId: 9, strength: 2, count: 0 } as const;
    expect(refusal(all, blind)[1]).toBe('model');
    expect(refusal(all)[1]).toBe('classId');
    expect(refusal({ ...all, classId: 1 })[1]).toBe('strength');
    expect(refusal({ ...all, classId: 1, strength: 1 })[1]).toBe('count');
    const late = { ...STYLE, kind: 'style', seed: -1, topP: 0, count: 2 } as const;
    expect(refusal(late)[1]).toBe('seed');
    expect(refusal({ ...late, seed: 1 })[1]).toBe('topP');
    expect(refusal({ ...late, seed: 1, topP: 1 })[2]).toMatch(/SWAP/);
  });

  it('draws a seed that keeps every image’s seed within 2^31 − 1', () => {
    const bounds: number[] = [];
    validateJobRequest({ kind: 'generate', classId: 0, count: 16 }, MODEL, {
      maxCount: 16,
      drawSeed: (max) => (bounds.push(max), 0),
    });
    expect(bounds).toEqual([2 ** 31 - 16]);
  });
});

describe('checkSeed', () => {
  it('keeps seed + count − 1 within 2^31 − 1, given or drawn', () => {
    expect(checkSeed(MAX_SEED - 1, 2, () => 0)).toBe(MAX_SEED - 1);
    expect(() => checkSeed(MAX_SEED, 2, () => 0)).toThrow(/seed: .*0 … 2147483646/);
    expect(checkSeed(MAX_SEED, 1, () => 0)).toBe(MAX_SEED);
    const bounds: number[] = [];
    checkSeed(undefined, 16, (max) => bounds.push(max));
    expect(bounds).toEqual([2 ** 31 - 16]);
  });
});

describe('checkMaskSize', () => {
  it('names the mask field and both sizes', () => {
    expect(() =>
      checkMaskSize({ width: 4, height: 3 }, { width: 4, height: 3 }, 'mask'),
    ).not.toThrow();
    expect(() =>
      checkMaskSize({ width: 48, height: 40 }, { width: 20, height: 20 }, 'maskKey'),
    ).toThrow('maskKey: is 20×20, the image is 48×40; they must match');
  });
});

describe('derived shapes', () => {
  it('stores the request less kind and model, as the JSON queues have always held', () => {
    const generate = validate({ kind: 'generate', model: 'tiny', classId: 2, seed: 5, count: 2 });
    expect(JSON.stringify(toStoredParams(generate))).toBe(
      '{"count":2,"seed":5,"cfgScale":1.5,"temperature":1,"topK":0,"topP":1,"decoding":"ar","classId":2}',
    );
    const inpaint = validate({
      ...INPAINT,
      kind: 'inpaint',
      seed: 5,
      inputCopies: { image: 'c1', mask: 'c2' },
    });
    expect(JSON.stringify(toStoredParams(inpaint))).toBe(
      '{"count":1,"seed":5,"cfgScale":1.5,"temperature":1,"topK":0,"topP":1,"decoding":"ar",' +
        '"imageKey":"t/a/uploads/i.png","maskKey":"t/a/uploads/m.png","keepHolistic":true,' +
        '"composite":true,"inputCopies":{"image":"c1","mask":"c2"}}',
    );
    const style = validate({
      ...STYLE,
      kind: 'style',
      seed: 5,
      classId: 1,
      mode: 'regenerate',
      decoding: 'speculative',
    });
    expect(JSON.stringify(toStoredParams(style))).toBe(
      '{"count":1,"seed":5,"cfgScale":1.5,"temperature":1,"topK":0,"topP":1,' +
        '"decoding":"speculative","classId":1,' +
        '"contentKey":"t/a/uploads/c.png","styleKey":"t/a/uploads/s.png","mode":"regenerate","strength":0.5}',
    );
  });

  it('reads a stored job back as the draft that validates to the same request', () => {
    const requests = [
      validate({ kind: 'generate', model: 'tiny', classId: 2, seed: 5 }),
      validate({ ...INPAINT, kind: 'inpaint', seed: 6, inputCopies: { image: 'c1', mask: 'c2' } }),
      validate({ ...STYLE, kind: 'style', seed: 8, mode: 'regenerate', strength: 0.9, count: 2 }),
      validate({ kind: 'generate', classId: 1, seed: 5, decoding: 'speculative' }),
    ];
    for (const request of requests) {
      const stored = {
        id: 'j1',
        kind: QUEUE_KIND[request.kind],
        model: request.model,
        params: toStoredParams(request),
      };
      expect(validate(draftOfStored(stored))).toEqual(request);
    }
  });

  it('fails a stored job that lacks an input key with GENERATION_FAILED', () => {
    const params = { count: 1, seed: 1, ...SAMPLING, imageKey: 'k' };
    expect(() => draftOfStored({ id: 'j1', kind: 'INPAINT', model: null, params })).toThrow(
      expect.objectContaining({ code: 'GENERATION_FAILED', message: 'job j1 lacks an input key' }),
    );
  });

  it('shows the stored parameters as JobParameters, with the precision its outputs record', () => {
    const style = validate({ ...STYLE, kind: 'style', seed: 5, classId: 1 });
    expect(toJobParameters(toStoredParams(style), [{ precision: 'int4' }])).toEqual({
      precision: 'int4',
      classId: 1,
      count: 1,
      seed: 5,
      ...SAMPLING,
      decoding: 'ar',
      mode: 'swap',
      strength: 0.5,
    });
    const generate = toJobParameters(
      toStoredParams(validate({ kind: 'generate', classId: 0 })),
      [],
    );
    // No images yet, or outputs stored before precisions were recorded: fp32.
    expect(generate).toMatchObject({ mode: undefined, strength: undefined, precision: 'fp32' });
    expect(toJobParameters(toStoredParams(style), [{}]).precision).toBe('fp32');
    // Records stored before decodings existed decode AR.
    const { decoding: _decoding, ...older } = toStoredParams(style);
    expect(toJobParameters(older, []).decoding).toBe('ar');
    expect(
      validate(draftOfStored({ id: 'j', kind: 'GENERATE', model: null, params: older })),
    ).toMatchObject({ decoding: 'ar' });
  });

  it('describes stored images with one short metadata value per knob', () => {
    const generate = toStoredParams(validate({ kind: 'generate', classId: 2, cfgScale: 4 }));
    expect(toObjectMetadata(generate)).toEqual({
      'class-id': '2',
      'cfg-scale': '4',
      temperature: '1',
      'top-k': '0',
      'top-p': '1',
      decoding: 'ar',
    });
    const inpaint = toStoredParams(validate({ ...INPAINT, kind: 'inpaint' }));
    expect(toObjectMetadata(inpaint)['class-id']).toBe('none');
  });
});
