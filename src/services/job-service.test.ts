/**
 * JobService on its real parts: an SQLite queue and an fs store in a temporary directory, and the
 * model registry over the shipped models/. What it stores is checked in the SQLite row itself.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAppError } from '../errors.js';
import { ModelRegistry } from '../inference/model/model-registry.js';
import { PACKAGE_ROOT } from '../paths.js';
import { SqliteJobQueue } from '../queue/sqlite/sqlite-job-queue.js';
import { FsObjectStore } from '../storage/fs-object-store.js';
import { jobRequest } from '../worker/job-io.js';
import { inputFingerprint } from './input-fingerprint.js';
import { JobService } from './job-service.js';
import { RetentionService } from './retention-service.js';

const TENANT = 'alice';
const LIMITS = {
  maxCount: 16,
  maxImageBytes: 1 << 20,
  maxImagePixels: 1 << 20,
  maxRetentionHours: 168,
};
/** hita-tiny-random's sampling defaults (models/hita-tiny-random/model.json). */
const DEFAULTS = { cfgScale: 1.5, temperature: 1, topK: 0, topP: 1 };

let dir: string;
let queue: SqliteJobQueue;
let store: FsObjectStore;
let registry: ModelRegistry;
let jobs: JobService;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hita-job-service-'));
  queue = new SqliteJobQueue({ path: join(dir, 'queue.sqlite') });
  await queue.start();
  store = new FsObjectStore({ rootDir: join(dir, 'objects'), signingSecret: 'x'.repeat(32) });
  await store.start();
  registry = new ModelRegistry({
    modelsDir: join(PACKAGE_ROOT, 'models'),
    defaultModel: 'hita-tiny-random',
  });
  const retention = new RetentionService({ queue, store, uploadRetentionMs: 3_600_000 });
  jobs = new JobService({ queue, registry, store, limits: LIMITS, retention });
});
afterAll(async () => {
  await queue?.close();
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

/** The params column of a job's row, as stored. */
function storedParams(id: string): string {
  const db = new Database(join(dir, 'queue.sqlite'), { readonly: true });
  try {
    return (db.prepare('SELECT params FROM jobs WHERE id = ?').get(id) as { params: string })
      .params;
  } finally {
    db.close();
  }
}

let uploads = 0;
async function upload(width: number, height: number): Promise<string> {
  const key = `t/${TENANT}/uploads/${++uploads}.png`;
  const png = await sharp({ create: { width, height, channels: 3, background: '#fff' } })
    .png()
    .toBuffer();
  await store.put(key, png, { contentType: 'image/png' });
  return key;
}

async function refusal(call: Promise<unknown>): Promise<[string, unknown, string]> {
  const error = await call.then(
    () => new Error('accepted'),
    (e: unknown) => e,
  );
  if (!isAppError(error)) throw error;
  return [error.code, error.details?.field, error.message];
}

describe('JobService', () => {
  it('stores a generate request as the flat JSON queues have always held, with the model asked for', async () => {
    const job = await jobs.generate(TENANT, { className: 'Class 1', seed: 11, count: 2, topK: 5 });
    expect(job).toMatchObject({ kind: 'GENERATE', model: null, priority: 0 });
    expect(storedParams(job.id)).toBe(
      '{"count":2,"seed":11,"cfgScale":1.5,"temperature":1,"topK":5,"topP":1,"decoding":"ar","classId":1}',
    );
    const named = await jobs.generate(TENANT, { model: 'hita-tiny-random', classId: 3, seed: 1 });
    expect(named.model).toBe('hita-tiny-random');
  });

  it('in-paints with copies of the checked inputs, and stores the keys given beside them', async () => {
    const [imageKey, maskKey] = [await upload(8, 6), await upload(8, 6)];
    const job = await jobs.inpaint(TENANT, { imageKey, maskKey, seed: 4, keepHolistic: false });
    const params = JSON.parse(storedParams(job.id)) as Record<string, unknown>;
    expect(Object.keys(params)).toEqual([
      'count',
      'seed',
      'cfgScale',
      'temperature',
      'topK',
      'topP',
      'decoding',
      'imageKey',
      'maskKey',
      'keepHolistic',
      'composite',
      'inputCopies',
    ]);
    expect(params).toMatchObject({
      ...DEFAULTS,
      imageKey,
      maskKey,
      keepHolistic: false,
      composite: true,
    });
    const copies = job.params.inputCopies!;
    expect(await store.get(copies.image!)).toEqual(await store.get(imageKey));
    expect(await store.get(copies.mask!)).toEqual(await store.get(maskKey));
  });

  it('transfers style by SWAP at strength 0.5 unless told otherwise', async () => {
    const [contentKey, styleKey] = [await upload(8, 8), await upload(8, 8)];
    const swap = await jobs.transferStyle(TENANT, { contentKey, styleKey, seed: 2 });
    expect(swap.params).toMatchObject({ mode: 'swap', strength: 0.5, count: 1 });
    const regenerate = await jobs.transferStyle(TENANT, {
      contentKey,
      styleKey,
      mode: 'regenerate',
      strength: 0.9,
      count: 2,
      classId: 1,
    });
    expect(regenerate.params).toMatchObject({
      mode: 'regenerate',
      strength: 0.9,
      count: 2,
      classId: 1,
    });
  });

  it('hands the worker what it validated: the stored job validates again to the same request', async () => {
    const [imageKey, maskKey] = [await upload(8, 6), await upload(8, 6)];
    const job = await jobs.inpaint(TENANT, { imageKey, maskKey, classId: 2, seed: 8 });
    const request = await jobRequest(job, registry);
    expect(request).toEqual({ kind: 'inpaint', model: null, ...job.params });
  });

  it('keeps the API’s texts and fields for every rule', async () => {
    const [imageKey, smallMask] = [await upload(48, 40), await upload(20, 20)];
    expect(await refusal(jobs.generate(TENANT, {}))).toEqual([
      'BAD_USER_INPUT',
      'classId',
      'classId: give classId or className',
    ]);
    expect(await refusal(jobs.generate(TENANT, { className: 'dragons' }))).toEqual([
      'BAD_USER_INPUT',
      'className',
      'className: "dragons" is not a class of hita-tiny-random',
    ]);
    expect(await refusal(jobs.inpaint(TENANT, { imageKey, maskKey: smallMask }))).toEqual([
      'BAD_USER_INPUT',
      'maskKey',
      'maskKey: is 20×20, the image is 48×40; they must match',
    ]);
    // Checked before any input image is read: these keys name nothing.
    const missing = { contentKey: `t/${TENANT}/a`, styleKey: `t/${TENANT}/b` };
    expect(await refusal(jobs.transferStyle(TENANT, { ...missing, strength: 3 }))).toEqual([
      'BAD_USER_INPUT',
      'strength',
      'strength: must be in [0, 1], got 3',
    ]);
    expect(await refusal(jobs.transferStyle(TENANT, { ...missing, count: 2 }))).toEqual([
      'BAD_USER_INPUT',
      'count',
      'count: SWAP is deterministic: it makes one image',
    ]);
    expect((await refusal(jobs.generate(TENANT, { classId: 1, priority: 11 })))[1]).toBe(
      'priority',
    );
    expect((await refusal(jobs.generate(TENANT, { classId: 1, model: 'nope' })))[2]).toMatch(
      /^model: "nope" is not served here; known: hita-tiny-emoji, hita-tiny-random$/,
    );
  });

  it('binds an idempotency key to the input as sent, nulls and key order aside', async () => {
    const input = { classId: 4, seed: 3, idempotencyKey: 'order-1' };
    const first = await jobs.generate(TENANT, input);
    const again = await jobs.generate(TENANT, {
      seed: 3,
      classId: 4,
      idempotencyKey: 'order-1',
      topP: null as unknown as undefined,
    });
    expect(again.id).toBe(first.id);
    // The fingerprint is of the input, not of the request: the same image asked another way differs.
    expect(inputFingerprint('generateImages', input)).not.toBe(
      inputFingerprint('generateImages', { ...input, topP: 1 }),
    );
    expect((await refusal(jobs.generate(TENANT, { ...input, topP: 1 })))[0]).toBe('CONFLICT');
  });

  it('refuses new jobs once it stops accepting', async () => {
    const closing = new JobService({
      queue,
      registry,
      store,
      limits: LIMITS,
      retention: { releaseNow: async () => true },
    });
    closing.stopAccepting();
    expect((await refusal(closing.generate(TENANT, { classId: 1 })))[0]).toBe('SHUTTING_DOWN');
  });
});
