import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAppError } from '../errors.js';
import { FsObjectStore } from '../storage/fs-object-store.js';
import type { ObjectStore } from '../storage/object-store.js';
import {
  checkFilename,
  checkImageObjects,
  checkRetentionHours,
  type InputLimits,
} from './input-checks.js';

const limits: InputLimits = {
  maxCount: 16,
  maxImageBytes: 1 << 20,
  maxImagePixels: 1 << 20,
  maxRetentionHours: 168,
};

describe('checkImageObjects', () => {
  let dir: string;
  let store: FsObjectStore;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hita-input-checks-'));
    store = new FsObjectStore({ rootDir: dir, signingSecret: 'x'.repeat(32) });
    const png = await sharp({
      create: { width: 4, height: 3, channels: 3, background: '#808080' },
    })
      .png()
      .toBuffer();
    await store.put('t/a/uploads/ok.png', png, { contentType: 'image/png' });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  /** The real store, but the first field's lookups answer only after the second's have failed. */
  function firstAnswersLast(slowKey: string): ObjectStore {
    const late = <T>(key: string, call: () => Promise<T>): Promise<T> =>
      key === slowKey ? new Promise((r) => setTimeout(r, 30)).then(call) : call();
    return new Proxy(store, {
      get(target, name, receiver) {
        if (name === 'stat') return (key: string) => late(key, () => target.stat(key));
        if (name === 'get') return (key: string) => late(key, () => target.get(key));
        return Reflect.get(target, name, receiver) as unknown;
      },
    });
  }

  it('names the first wrong field in declared order, however the loads finish', async () => {
    const refs = [
      { key: 't/a/uploads/missing-1.png', field: 'imageKey' },
      { key: 't/a/uploads/missing-2.png', field: 'maskKey' },
    ] as const;
    for (const slow of [refs[0].key, refs[1].key]) {
      const error = await checkImageObjects(firstAnswersLast(slow), refs, limits).catch(
        (e: unknown) => e,
      );
      expect(isAppError(error) && error.details?.field).toBe('imageKey');
    }
  });

  it('reports a later field when only it is wrong, and sizes in order when all are right', async () => {
    const error = await checkImageObjects(
      store,
      [
        { key: 't/a/uploads/ok.png', field: 'contentKey' },
        { key: 't/a/uploads/nope.png', field: 'styleKey' },
      ],
      limits,
    ).catch((e: unknown) => e);
    expect(isAppError(error) && error.details?.field).toBe('styleKey');
    const sizes = await checkImageObjects(
      store,
      [
        { key: 't/a/uploads/ok.png', field: 'imageKey' },
        { key: 't/a/uploads/ok.png', field: 'maskKey' },
      ],
      limits,
    );
    expect(sizes).toMatchObject([
      { width: 4, height: 3, contentType: 'image/png' },
      { width: 4, height: 3, contentType: 'image/png' },
    ]);
    expect(sizes[0].bytes.equals(await store.get('t/a/uploads/ok.png'))).toBe(true);
  });
});

describe('checkFilename', () => {
  it('counts UTF-8 bytes, not characters: 255 pass, 256 fail on filename', () => {
    expect(() => checkFilename('a'.repeat(255))).not.toThrow();
    expect(() => checkFilename(undefined)).not.toThrow();
    const error = (() => {
      try {
        checkFilename('€'.repeat(86)); // 258 bytes in 86 characters
      } catch (e) {
        return e;
      }
    })();
    expect(isAppError(error) && error.details).toMatchObject({ field: 'filename', received: 258 });
  });
});

describe('checkRetentionHours', () => {
  const fails = (hours: number, max = 168) => {
    try {
      checkRetentionHours(hours, { ...limits, maxRetentionHours: max });
    } catch (error) {
      return isAppError(error) ? [error.code, error.details?.field] : error;
    }
    return 'accepted';
  };

  it('takes whole hours in (0, maxRetentionHours] as milliseconds; absent stays absent', () => {
    expect(checkRetentionHours(undefined, limits)).toBeUndefined();
    expect(checkRetentionHours(1, limits)).toBe(3_600_000);
    expect(checkRetentionHours(168, limits)).toBe(168 * 3_600_000);
  });

  it('refuses 0, negatives, fractions and more than the server keeps, on retentionHours', () => {
    for (const hours of [0, -1, 1.5, 169])
      expect(fails(hours), String(hours)).toEqual(['BAD_USER_INPUT', 'retentionHours']);
    expect(fails(1, 0.5)).toEqual(['BAD_USER_INPUT', 'retentionHours']);
    expect(fails(2, 2.5)).toBe('accepted');
  });
});
