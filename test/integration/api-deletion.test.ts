/**
 * deleteJob and retentionHours through real HTTP, on the fs store and on S3 (Swift; skipped with
 * a `SKIP` line when it is not installed): the job's images, thumbnails and input copies are gone
 * from the store and their URLs answer 404, while a job made from its outputs keeps its own
 * copies. On the fs store also `hita serve`'s retention pass at start, which deletes old uploads.
 */
import { mkdtemp, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createObjectStore } from '../../src/storage/create-object-store.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { gradientPng, maskPng } from '../support/images.js';
import { startApi, type ApiHarness } from '../support/api-harness.js';
import { startS3Server, type S3Server } from '../support/s3-server.js';
import { SWIFT_MISSING, hasService, tryStart } from '../support/require-service.js';

const ALICE = 'alice-key-123456';
const BOB = 'bob-key-1234567';
const DAY_S = 24 * 3600;

const GENERATE = 'mutation($i: GenerateInput!) { generateImages(input: $i) { id status } }';
const INPAINT = 'mutation($i: InpaintInput!) { inpaintImage(input: $i) { id } }';
const DELETE = 'mutation($id: ID!) { deleteJob(id: $id) { deletedId } }';
const UPLOAD = 'mutation($i: CreateUploadInput!) { createUpload(input: $i) { key url } }';
const JOB = `query($id: ID!) { job(id: $id) { id status
  outputs { key url thumbnailUrl } inputs { role key url } } }`;

interface JobView {
  id: string;
  status: string;
  outputs: { key: string; url: string; thumbnailUrl: string }[];
  inputs: { role: string; key: string; url: string }[];
}

const s3 = await tryStart(startS3Server, SWIFT_MISSING);
afterAll(async () => {
  if (!(s3 instanceof Error)) await s3.stop();
});

/** A store of the test's own on the API's objects: what is really left. */
type Backend = { env: Record<string, string>; open(dataDir: string): ObjectStore };
const backends: [string, Backend][] = [
  [
    'fs',
    {
      env: {},
      open: (dataDir) =>
        createObjectStore({ kind: 'fs', rootDir: join(dataDir, 'objects'), signingSecret: 'x' }),
    },
  ],
];
if (hasService('S3 server (deletion on s3)', s3)) {
  const server: S3Server = s3;
  const bucket = `hita-delete-${process.pid}`;
  backends.push([
    's3',
    {
      env: {
        S3_ENDPOINT: server.endPoint,
        S3_ACCESS_KEY: server.accessKey,
        S3_SECRET_KEY: server.secretKey,
        S3_BUCKET: bucket,
      },
      open: () =>
        createObjectStore({
          kind: 's3',
          endPoint: server.endPoint,
          accessKey: server.accessKey,
          secretKey: server.secretKey,
          bucket,
        }),
    },
  ]);
}

describe.each(backends)('deleteJob on the %s store', (name, backend) => {
  let api: ApiHarness;
  let store: ObjectStore;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'hita-delete-'));
    store = backend.open(dataDir);
    await store.start();
    // Written ten days ago, before the server started: its retention pass at start deletes it.
    await store.put('t/alice/uploads/stale.png', await gradientPng(8, 8), {
      contentType: 'image/png',
    });
    if (name === 'fs') {
      const tenDaysAgo = Date.now() / 1000 - 10 * DAY_S;
      await utimes(
        join(dataDir, 'objects/objects/t/alice/uploads/stale.png'),
        tenDaysAgo,
        tenDaysAgo,
      );
    }
    api = await startApi(
      { HITA_API_KEYS: `${ALICE}:alice,${BOB}:bob`, HITA_MAX_BATCH_ROWS: '2', ...backend.env },
      dataDir,
    );
  });
  afterAll(async () => {
    await api?.stop();
    await store?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const job = async (id: string, key = ALICE) =>
    (await api.gql<{ job: JobView | null }>(JOB, { id }, key)).data?.job ?? null;
  const finished = (id: string) =>
    vi.waitFor(
      async () => {
        const view = await job(id);
        expect(view?.status).toBe('SUCCEEDED');
        return view!;
      },
      { timeout: 60_000, interval: 200 },
    );
  const status = async (url: string) => (await fetch(url)).status;
  async function upload(bytes: Buffer): Promise<string> {
    const { data } = await api.gql<{ createUpload: { key: string; url: string } }>(
      UPLOAD,
      { i: { contentType: 'image/png' } },
      ALICE,
    );
    const put = await fetch(data!.createUpload.url, {
      method: 'PUT',
      body: new Uint8Array(bytes),
      headers: { 'content-type': 'image/png' },
    });
    expect(put.status).toBeLessThan(300);
    return data!.createUpload.key;
  }

  it('deletes a finished job with its images, thumbnails and input copies; a job made from them keeps its own', async () => {
    const made = await api.gql<{ generateImages: { id: string } }>(
      GENERATE,
      { i: { classId: 1, seed: 5 } },
      ALICE,
    );
    const source = await finished(made.data!.generateImages.id);
    const mask = await upload(await maskPng(32, 32, (x) => x > 16));
    const edit = await api.gql<{ inpaintImage: { id: string } }>(
      INPAINT,
      { i: { imageKey: source.outputs[0]!.key, maskKey: mask, seed: 2 } },
      ALICE,
    );
    expect(edit.errors).toBeUndefined();
    const derived = await finished(edit.data!.inpaintImage.id);

    const foreign = await api.gql(DELETE, { id: source.id }, BOB);
    expect(foreign.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(await job(source.id)).not.toBeNull();

    const deleted = await api.gql<{ deleteJob: { deletedId: string } }>(
      DELETE,
      { id: source.id },
      ALICE,
    );
    expect(deleted).toMatchObject({ data: { deleteJob: { deletedId: source.id } } });
    expect(await job(source.id)).toBeNull();
    for (const output of source.outputs) {
      expect(await store.stat(output.key)).toBeNull();
      expect(await status(output.url)).toBe(404);
      expect(await status(output.thumbnailUrl)).toBe(404);
    }
    expect(await store.list(`t/alice/jobs/${source.id}/`)).toEqual([]);
    const again = await api.gql(DELETE, { id: source.id }, ALICE);
    expect(again.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');

    // The in-painting read its own copy of the deleted output: still served, as its images are.
    const kept = (await job(derived.id))!;
    for (const url of [...kept.inputs.map((i) => i.url), kept.outputs[0]!.url])
      expect(await status(url)).toBe(200);
    await api.gql(DELETE, { id: derived.id }, ALICE);
    for (const url of [...kept.inputs.map((i) => i.url), kept.outputs[0]!.url])
      expect(await status(url)).toBe(404);
    expect(await store.stat(mask)).not.toBeNull(); // uploads go by age, not with a job
  });

  it('refuses to delete a queued or running job with CONFLICT; cancelled, it can go', async () => {
    const made = await api.gql<{ generateImages: { id: string } }>(
      GENERATE,
      { i: { classId: 2, count: 16, seed: 1 } },
      ALICE,
    );
    const id = made.data!.generateImages.id;
    const refused = await api.gql(DELETE, { id }, ALICE);
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT' });
    expect(['QUEUED', 'RUNNING']).toContain(
      (refused.errors?.[0]?.extensions?.details as { status?: string })?.status,
    );
    await api.gql('mutation($id: ID!) { cancelJob(id: $id) { id } }', { id }, ALICE);
    await vi.waitFor(async () => expect((await job(id))?.status).toBe('CANCELLED'), {
      timeout: 30_000,
      interval: 100,
    });
    expect((await api.gql(DELETE, { id }, ALICE)).errors).toBeUndefined();
    expect(await store.list(`t/alice/jobs/${id}/`)).toEqual([]);
  });

  it("deletes uploads older than the server's retention at start", async () => {
    if (name !== 'fs') return; // S3 cannot back-date an object; retention.test.ts moves a clock
    await vi.waitFor(async () => expect(await store.stat('t/alice/uploads/stale.png')).toBeNull());
  });

  it('takes retentionHours in 1 … HITA_RETENTION_HOURS, else BAD_USER_INPUT on retentionHours', async () => {
    for (const hours of [0, -3, 169]) {
      const { errors } = await api.gql(
        GENERATE,
        { i: { classId: 1, retentionHours: hours } },
        ALICE,
      );
      expect(errors?.[0]?.extensions, String(hours)).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'retentionHours',
      });
    }
    const image = await upload(await gradientPng(32, 32));
    const mask = await upload(await maskPng(32, 32, (x) => x > 16));
    const inpaint = await api.gql(
      INPAINT,
      { i: { imageKey: image, maskKey: mask, retentionHours: 500 } },
      ALICE,
    );
    expect(inpaint.errors?.[0]?.extensions).toMatchObject({ field: 'retentionHours' });
    const style = await api.gql(
      'mutation($i: StyleTransferInput!) { transferStyle(input: $i) { id } }',
      { i: { contentKey: image, styleKey: mask, retentionHours: 0 } },
      ALICE,
    );
    expect(style.errors?.[0]?.extensions).toMatchObject({ field: 'retentionHours' });
    const ok = await api.gql(GENERATE, { i: { classId: 1, retentionHours: 168 } }, ALICE);
    expect(ok.errors).toBeUndefined();
  });
});
