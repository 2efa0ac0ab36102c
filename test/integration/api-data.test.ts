/**
 * Stored data and inputs the API must keep consistent, through real HTTP on both queue engines:
 * seeds at the top of their range, records that cannot be shown, idempotency keys reused with
 * other parameters, inputs overwritten after enqueue and over-long upload file names. Without
 * redis-server the Redis run is skipped with a `SKIP` line, and fails under CI=true
 * (test/support/require-service.ts).
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FsObjectStore } from '../../src/storage/fs-object-store.js';
import { gradientPng, maskPng } from '../support/images.js';
import { startApi, type ApiHarness } from '../support/api-harness.js';
import { startRedis } from '../support/redis-server.js';
import { hasService, tryStart } from '../support/require-service.js';

const redis = await tryStart(startRedis);
afterAll(async () => {
  if (!(redis instanceof Error)) await redis.stop();
});

const GENERATE = 'mutation($i: GenerateInput!) { generateImages(input: $i) { id } }';
const UPLOAD = 'mutation($i: CreateUploadInput!) { createUpload(input: $i) { key url } }';

/** Rewrites one field of a stored job behind the API's back, as an older build might have left it. */
interface StoreAccess {
  setField(id: string, field: 'outputs' | 'fingerprint', value: string | null): Promise<void>;
  close(): Promise<void>;
}

function sqliteAccess(dataDir: string): StoreAccess {
  const db = new Database(join(dataDir, 'queue.sqlite'));
  const column = { outputs: 'outputs', fingerprint: 'idempotency_fingerprint' } as const;
  return {
    async setField(id, field, value) {
      db.prepare(`UPDATE jobs SET ${column[field]} = ? WHERE id = ?`).run(value, id);
    },
    async close() {
      db.close();
    },
  };
}

function redisAccess(url: string): StoreAccess {
  const client = new Redis(url);
  const field = { outputs: 'outputs', fingerprint: 'idemFingerprint' } as const;
  return {
    async setField(id, name, value) {
      if (value === null) await client.hdel(`hita:job:${id}`, field[name]);
      else await client.hset(`hita:job:${id}`, field[name], value);
    },
    async close() {
      client.disconnect();
    },
  };
}

const engines: [string, Record<string, string>][] = [['sqlite', {}]];
if (hasService('redis-server (API data on redis)', redis)) {
  engines.push([
    'redis',
    { REDIS_URL: redis.url, HITA_WEBHOOK_SECRET: 'test-webhook-secret-0123456789' },
  ]);
}

describe.each(engines)('API data integrity on %s', (engine, env) => {
  let api: ApiHarness;
  let store: StoreAccess;
  beforeAll(async () => {
    // No workers: jobs stay QUEUED, so nothing but the test changes a stored record.
    api = await startApi({ HITA_WORKERS: '0', ...env });
    store = engine === 'sqlite' ? sqliteAccess(api.dataDir) : redisAccess(env.REDIS_URL!);
  });
  afterAll(async () => {
    await store?.close();
    await api?.stop();
  });

  const generate = (input: Record<string, unknown>) =>
    api.gql<{ generateImages: { id: string } }>(GENERATE, { i: input });

  it('pages on from any edge of a page, not only the last', async () => {
    for (const seed of [11, 12, 13]) await generate({ classId: 2, seed });
    const LIST =
      'query($after: String) { jobs(first: 3, after: $after) { edges { cursor node { id } } } }';
    type Page = { jobs: { edges: { cursor: string; node: { id: string } }[] } };
    const first = await api.gql<Page>(LIST, {});
    const edges = first.data!.jobs.edges;
    const after = await api.gql<Page>(LIST, { after: edges[0]!.cursor });
    expect(after.errors).toBeUndefined();
    expect(after.data!.jobs.edges.map((e) => e.node.id).slice(0, 2)).toEqual(
      edges.slice(1).map((e) => e.node.id),
    );
  });

  it('refuses a seed whose last image would pass 2^31 − 1, on seed', async () => {
    const { errors } = await generate({ classId: 1, seed: 2_147_483_647, count: 2 });
    expect(errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'seed' });
    const top = await generate({ classId: 1, seed: 2_147_483_646, count: 2 });
    expect(top.errors).toBeUndefined();
  });

  it('leaves a record it cannot show out of jobs, and answers JOB_UNREADABLE for it', async () => {
    const good = (await generate({ classId: 1, seed: 1 })).data!.generateImages.id;
    const bad = (await generate({ classId: 1, seed: 2 })).data!.generateImages.id;
    const outputs = [
      {
        key: `t/dev/jobs/${bad}/1-2147483648.png`,
        thumbnailKey: `t/dev/jobs/${bad}/1-2147483648.webp`,
        width: 32,
        height: 32,
        seed: 2 ** 31,
        format: 'png',
      },
    ];
    await store.setField(bad, 'outputs', JSON.stringify(outputs));
    const listed = await api.gql<{ jobs: { edges: { node: { id: string } }[] } }>(
      '{ jobs(first: 50) { edges { node { id status outputs { seed } } } } }',
    );
    expect(listed.errors).toBeUndefined();
    const ids = listed.data!.jobs.edges.map((edge) => edge.node.id);
    expect(ids).toContain(good);
    expect(ids).not.toContain(bad);
    const one = await api.gql(`{ job(id: "${bad}") { id outputs { seed } } }`);
    expect(one.errors?.[0]?.extensions).toMatchObject({
      code: 'JOB_UNREADABLE',
      details: { id: bad },
    });
    expect((await api.gql(`{ job(id: "${good}") { id } }`)).errors).toBeUndefined();
  });

  it('answers CONFLICT for a reused idempotency key with other parameters', async () => {
    const key = `order-${engine}-1`;
    const first = await generate({ classId: 1, idempotencyKey: key });
    expect(first.errors).toBeUndefined();
    const id = first.data!.generateImages.id;
    const other = await generate({ classId: 1, seed: 5, idempotencyKey: key });
    expect(other.errors?.[0]?.extensions).toMatchObject({
      code: 'CONFLICT',
      details: { idempotencyKey: key },
    });
    expect(other.errors?.[0]?.message).toContain(key);
    const otherClass = await generate({ classId: 2, idempotencyKey: key });
    expect(otherClass.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    // Whereas the same input, and the same input with explicit nulls, is the same job.
    expect((await generate({ classId: 1, idempotencyKey: key })).data?.generateImages.id).toBe(id);
    const nulls = await generate({ classId: 1, seed: null, className: null, idempotencyKey: key });
    expect(nulls.data?.generateImages.id).toBe(id);
  });

  it('keeps the old answer for a key stored without a fingerprint', async () => {
    const key = `order-${engine}-legacy`;
    const id = (await generate({ classId: 1, idempotencyKey: key })).data!.generateImages.id;
    await store.setField(id, 'fingerprint', null);
    const again = await generate({ classId: 3, seed: 9, idempotencyKey: key });
    expect(again.errors).toBeUndefined();
    expect(again.data!.generateImages.id).toBe(id);
  });

  it('refuses an upload file name over 255 bytes of UTF-8, on filename', async () => {
    const ok = await api.gql(UPLOAD, {
      i: { contentType: 'image/png', filename: 'é'.repeat(127) },
    });
    expect(ok.errors).toBeUndefined();
    const long = await api.gql(UPLOAD, {
      i: { contentType: 'image/png', filename: 'é'.repeat(128) },
    });
    expect(long.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'filename',
    });
  });
});

describe('inputs overwritten after enqueue', () => {
  let api: ApiHarness;
  let worker: ApiHarness | undefined;
  beforeAll(async () => {
    api = await startApi({ HITA_WORKERS: '0' });
  });
  afterAll(async () => {
    await worker?.stop();
    await api?.stop();
    await rm(api.dataDir, { recursive: true, force: true });
  });

  async function upload(bytes: Buffer): Promise<{ key: string; url: string }> {
    const { data } = await api.gql<{ createUpload: { key: string; url: string } }>(UPLOAD, {
      i: { contentType: 'image/png' },
    });
    await put(data!.createUpload.url, bytes);
    return data!.createUpload;
  }

  async function put(url: string, bytes: Buffer): Promise<void> {
    const response = await fetch(url, {
      method: 'PUT',
      body: new Uint8Array(bytes),
      headers: { 'content-type': 'image/png' },
    });
    expect(response.status).toBeLessThan(300);
  }

  it('runs the job on the bytes it validated, and shows those as its inputs', async () => {
    const original = await gradientPng(48, 40);
    const image = await upload(original);
    const mask = await upload(await maskPng(48, 40, (_, y) => y > 20));
    const { data, errors } = await api.gql<{ inpaintImage: { id: string } }>(
      'mutation($i: InpaintInput!) { inpaintImage(input: $i) { id } }',
      { i: { imageKey: image.key, maskKey: mask.key, classId: 2, seed: 4 } },
    );
    expect(errors).toBeUndefined();
    const id = data!.inpaintImage.id;
    // The presigned PUT is still valid: overwrite the validated image with something else.
    await put(image.url, Buffer.from('not an image any more'));
    const inputsQuery = `{ job(id: "${id}") { status inputs { role key url } } }`;
    type Inputs = { job: { status: string; inputs: { role: string; key: string; url: string }[] } };
    const shown = (await api.gql<Inputs>(inputsQuery)).data!.job.inputs;
    expect(shown.map((input) => [input.role, input.key])).toEqual([
      ['image', image.key],
      ['mask', mask.key],
    ]);
    const served = Buffer.from(await (await fetch(shown[0]!.url)).arrayBuffer());
    expect(served.equals(original)).toBe(true);
    // A worker on the same data directory runs it only now, after the overwrite.
    worker = await startApi({ HITA_WORKERS: '1' }, api.dataDir);
    await vi.waitFor(
      async () => {
        const status = (await api.gql<Inputs>(inputsQuery)).data!.job.status;
        expect(['SUCCEEDED', 'FAILED']).toContain(status);
      },
      { timeout: 60_000, interval: 200 },
    );
    const done = await api.gql<{ job: { status: string; error: unknown } }>(
      `{ job(id: "${id}") { status error { code message } } }`,
    );
    expect(done.data!.job).toMatchObject({ status: 'SUCCEEDED', error: null });
  });

  it('keeps no copies for a request that made no new job', async () => {
    const copies = new FsObjectStore({
      rootDir: join(api.dataDir, 'objects'),
      signingSecret: 'x'.repeat(32),
    });
    const before = (await copies.list('t/dev/inputs/')).length;
    const image = await upload(await gradientPng(48, 40));
    const mask = await upload(await maskPng(48, 40, (x) => x > 20));
    const input = { imageKey: image.key, maskKey: mask.key, seed: 1, idempotencyKey: 'once' };
    const ids = [];
    for (let i = 0; i < 2; i += 1) {
      const { data } = await api.gql<{ inpaintImage: { id: string } }>(
        'mutation($i: InpaintInput!) { inpaintImage(input: $i) { id } }',
        { i: input },
      );
      ids.push(data!.inpaintImage.id);
    }
    expect(ids[1]).toBe(ids[0]);
    const refused = await api.gql(
      'mutation($i: InpaintInput!) { inpaintImage(input: $i) { id } }',
      {
        i: { ...input, seed: 2 },
      },
    );
    expect(refused.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    expect((await copies.list('t/dev/inputs/')).length).toBe(before + 2);
  });
});
