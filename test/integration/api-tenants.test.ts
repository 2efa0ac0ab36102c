/** API keys, tenant isolation, uploads and the table of bad inputs, over real HTTP and WebSocket. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gradientPng, maskPng } from '../support/images.js';
import { collect, startApi, type ApiHarness } from '../support/api-harness.js';

const ALICE = 'alice-key-123456';
const BOB = 'bob-key-1234567';

interface Upload {
  key: string;
  url: string;
}

describe('tenants, uploads and input validation', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await startApi({
      HITA_API_KEYS: `${ALICE}:alice,${BOB}:bob`,
      HITA_MAX_UPLOAD_BYTES: String(64 * 1024),
    });
  });
  afterAll(async () => {
    await api?.stop();
  });

  async function upload(apiKey: string, bytes: Buffer): Promise<string> {
    const { data, errors } = await api.gql<{ createUpload: Upload }>(
      'mutation { createUpload(input: { contentType: "image/png" }) { key url } }',
      {},
      apiKey,
    );
    expect(errors).toBeUndefined();
    const put = await fetch(data!.createUpload.url, {
      method: 'PUT',
      body: new Uint8Array(bytes),
      headers: { 'content-type': 'image/png' },
    });
    expect(put.status).toBeLessThan(300);
    return data!.createUpload.key;
  }

  it('rejects requests and sockets without a valid key', async () => {
    const anonymous = await api.gql('{ models { id } }');
    expect(anonymous.status).toBe(401);
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const wrong = await api.gql('{ models { id } }', {}, 'not-a-key-at-all');
    expect(wrong.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const client = api.ws('nope-nope-nope');
    const result = await collect(client, 'subscription { jobsUpdated { sequence } }', {});
    expect(String((result.errors[0] as { code?: number }).code ?? result.errors[0])).toContain(
      '4403',
    );
    await client.dispose();
  });

  it('keeps every job, subscription and object inside its tenant', async () => {
    const created = await api.gql<{ generateImages: { id: string } }>(
      'mutation { generateImages(input: { classId: 1, seed: 3 }) { id } }',
      {},
      ALICE,
    );
    const id = created.data!.generateImages.id;
    expect(
      (await api.gql<{ job: unknown }>(`{ job(id: "${id}") { id } }`, {}, BOB)).data!.job,
    ).toBeNull();
    const cancel = await api.gql(`mutation { cancelJob(id: "${id}") { id } }`, {}, BOB);
    expect(cancel.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const bobJobs = await api.gql<{ jobs: { edges: unknown[] } }>(
      '{ jobs(first: 10) { edges { node { id } } } }',
      {},
      BOB,
    );
    expect(bobJobs.data!.jobs.edges).toHaveLength(0);
    const client = api.ws(BOB);
    const watched = await collect(
      client,
      'subscription($id: ID!) { jobUpdated(id: $id) { sequence } }',
      { id },
    );
    await client.dispose();
    expect(JSON.stringify(watched.errors)).toContain('does not exist');
    const aliceImage = await upload(ALICE, await gradientPng(48, 40));
    const aliceMask = await upload(ALICE, await maskPng(48, 40, (_, y) => y > 20));
    const stolen = await api.gql(
      'mutation($i: InpaintInput!) { inpaintImage(input: $i) { id } }',
      { i: { imageKey: aliceImage, maskKey: aliceMask } },
      BOB,
    );
    expect(stolen.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'imageKey',
    });
  });

  it("node(id) finds the caller's job, and nothing of another tenant's or unknown", async () => {
    const created = await api.gql<{ generateImages: { id: string } }>(
      'mutation { generateImages(input: { classId: 1, seed: 4 }) { id } }',
      {},
      ALICE,
    );
    const id = created.data!.generateImages.id;
    const NODE = 'query($id: ID!) { node(id: $id) { __typename id ... on Job { kind } } }';
    const own = await api.gql<{ node: unknown }>(NODE, { id }, ALICE);
    expect(own.errors).toBeUndefined();
    expect(own.data!.node).toEqual({ __typename: 'Job', id, kind: 'GENERATE' });
    const others = await api.gql<{ node: unknown }>(NODE, { id }, BOB);
    expect(others).toMatchObject({ status: 200, data: { node: null } });
    expect(others.errors).toBeUndefined();
    const unknown = await api.gql<{ node: unknown }>(NODE, { id: 'no-such-job' }, ALICE);
    expect(unknown).toMatchObject({ status: 200, data: { node: null } });
    expect(unknown.errors).toBeUndefined();
  });

  it('in-paints an uploaded image end to end', async () => {
    const imageKey = await upload(ALICE, await gradientPng(48, 40));
    const maskKey = await upload(ALICE, await maskPng(48, 40, (_, y) => y > 20));
    const { data, errors } = await api.gql<{
      inpaintImage: { id: string; inputs: { role: string; key: string; url: string }[] };
    }>(
      'mutation($i: InpaintInput!) { inpaintImage(input: $i) { id status inputs { role key url } } }',
      { i: { imageKey, maskKey, classId: 2, seed: 4 } },
      ALICE,
    );
    expect(errors).toBeUndefined();
    // The inputs come back signed, so a client can show before and after.
    const inputs = data!.inpaintImage.inputs;
    expect(inputs.map(({ role, key }) => [role, key])).toEqual([
      ['image', imageKey],
      ['mask', maskKey],
    ]);
    const source = await fetch(inputs[0]!.url);
    expect(source.status).toBe(200);
    expect(Buffer.from(await source.arrayBuffer())).toEqual(await gradientPng(48, 40));
    const client = api.ws(ALICE);
    const { events } = await collect<{
      jobUpdated: { status: string; job: { outputs: { url: string }[] } };
    }>(
      client,
      'subscription($id: ID!) { jobUpdated(id: $id) { status job { outputs { url } } } }',
      { id: data!.inpaintImage.id },
    );
    await client.dispose();
    expect(events.at(-1)!.jobUpdated.status).toBe('SUCCEEDED');
    expect((await fetch(events.at(-1)!.jobUpdated.job.outputs[0]!.url)).status).toBe(200);
  });

  const mutation = (name: string, type: string) =>
    `mutation($i: ${type}!) { ${name}(input: $i) { id } }`;
  const table: [string, string, Record<string, unknown>, string, string | undefined][] = [
    [
      'a class out of range',
      mutation('generateImages', 'GenerateInput'),
      { classId: 99 },
      'BAD_USER_INPUT',
      'classId',
    ],
    [
      'an unknown class name',
      mutation('generateImages', 'GenerateInput'),
      { className: 'dragons' },
      'BAD_USER_INPUT',
      'className',
    ],
    [
      'no class at all',
      mutation('generateImages', 'GenerateInput'),
      {},
      'BAD_USER_INPUT',
      'classId',
    ],
    [
      'a count of zero',
      mutation('generateImages', 'GenerateInput'),
      { classId: 1, count: 0 },
      'BAD_USER_INPUT',
      'count',
    ],
    [
      'a huge count',
      mutation('generateImages', 'GenerateInput'),
      { classId: 1, count: 1000 },
      'BAD_USER_INPUT',
      'count',
    ],
    [
      'a negative seed',
      mutation('generateImages', 'GenerateInput'),
      { classId: 1, seed: -5 },
      'BAD_USER_INPUT',
      'seed',
    ],
    [
      'a cfg scale below 1',
      mutation('generateImages', 'GenerateInput'),
      { classId: 1, cfgScale: 0.5 },
      'BAD_USER_INPUT',
      'cfgScale',
    ],
    [
      'top-p of zero',
      mutation('generateImages', 'GenerateInput'),
      { classId: 1, topP: 0 },
      'BAD_USER_INPUT',
      'topP',
    ],
    [
      'an unknown model',
      mutation('generateImages', 'GenerateInput'),
      { classId: 1, model: 'no-such-model' },
      'BAD_USER_INPUT',
      'model',
    ],
    [
      'a missing image',
      mutation('inpaintImage', 'InpaintInput'),
      { imageKey: 't/alice/uploads/x.png', maskKey: 't/alice/uploads/y.png' },
      'BAD_USER_INPUT',
      'imageKey',
    ],
    [
      'a strength above 1',
      mutation('transferStyle', 'StyleTransferInput'),
      { contentKey: 't/alice/a', styleKey: 't/alice/b', strength: 3 },
      'BAD_USER_INPUT',
      'strength',
    ],
    [
      'a wrong type',
      mutation('generateImages', 'GenerateInput'),
      { classId: 'three' },
      'BAD_USER_INPUT',
      undefined,
    ],
    [
      'a bad content type',
      'mutation($i: CreateUploadInput!) { createUpload(input: $i) { key } }',
      { contentType: 'text/html' },
      'BAD_USER_INPUT',
      'contentType',
    ],
  ];
  it.each(table)('rejects %s with its code and field', async (_, query, input, code, field) => {
    const { errors } = await api.gql(query, { i: input }, ALICE);
    expect(errors?.[0]?.extensions?.code).toBe(code);
    if (field) expect(errors?.[0]?.extensions?.field).toBe(field);
  });

  it('names the first missing key in declared order, every time (the loads run concurrently)', async () => {
    const cases = [
      [
        'inpaintImage',
        'InpaintInput',
        { imageKey: 't/alice/uploads/x', maskKey: 't/alice/uploads/y' },
        'imageKey',
      ],
      [
        'transferStyle',
        'StyleTransferInput',
        { contentKey: 't/alice/uploads/x', styleKey: 't/alice/uploads/y' },
        'contentKey',
      ],
    ] as const;
    for (const [name, type, input, field] of cases) {
      const answers = await Promise.all(
        Array.from({ length: 40 }, () => api.gql(mutation(name, type), { i: input }, ALICE)),
      );
      const fields = new Set(answers.map((a) => a.errors?.[0]?.extensions?.field));
      expect([...fields]).toEqual([field]);
    }
  });

  it('rejects a malformed query, an oversized upload, an undecodable image and a mismatched mask', async () => {
    const malformed = await api.gql('{ jobs(first: ', {}, ALICE);
    expect(malformed.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
    const { data } = await api.gql<{ createUpload: Upload }>(
      'mutation { createUpload(input: { contentType: "image/png" }) { key url } }',
      {},
      ALICE,
    );
    const tooBig = await fetch(data!.createUpload.url, {
      method: 'PUT',
      body: new Uint8Array(100 * 1024).fill(1),
      headers: { 'content-type': 'image/png' },
    });
    expect(tooBig.status).toBe(413);
    const garbage = await upload(ALICE, Buffer.from('definitely not a png'));
    const mask = await upload(ALICE, await maskPng(48, 40, () => true));
    const undecodable = await api.gql(
      mutation('inpaintImage', 'InpaintInput'),
      { i: { imageKey: garbage, maskKey: mask } },
      ALICE,
    );
    expect(undecodable.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'imageKey',
    });
    const image = await upload(ALICE, await gradientPng(48, 40));
    const smallMask = await upload(ALICE, await maskPng(20, 20, () => true));
    const mismatched = await api.gql(
      mutation('inpaintImage', 'InpaintInput'),
      { i: { imageKey: image, maskKey: smallMask } },
      ALICE,
    );
    expect(mismatched.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'maskKey',
    });
  });
});
