/**
 * A seeded generator of bad requests: broken bodies, wrong shapes, token soup and mutations
 * with hostile values. The same seed gives the same requests, so a failure reproduces.
 */

/** mulberry32: a small, fast, seedable PRNG. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FuzzRequest {
  transport: 'http' | 'ws' | 'sse';
  /** For HTTP: the raw body text; for graphql-ws and graphql-sse: the query. */
  body: string;
  variables?: Record<string, unknown>;
  contentType?: string;
}

const HOSTILE_VALUES: readonly string[] = [
  '-1',
  '0',
  '2147483647',
  '2147483648',
  '-2147483649',
  '1e20',
  '1e309',
  '3.5',
  'NaN',
  '"x"',
  '""',
  'null',
  'true',
  '[]',
  '{}',
  `"${'z'.repeat(300)}"`,
  '"../../etc/passwd"',
  '"t/other/uploads/x.png"',
  '"\\u0000"',
  '[1, 2, 3]',
];
const FIELDS = [
  'classId',
  'className',
  'count',
  'seed',
  'cfgScale',
  'temperature',
  'topK',
  'topP',
  'priority',
  'idempotencyKey',
  'model',
  'imageKey',
  'maskKey',
  'strength',
  'mode',
];
const MUTATIONS = [
  'generateImages',
  'inpaintImage',
  'transferStyle',
  'cancelJob',
  'retryJob',
  'createUpload',
];
const TOKENS = [
  '{',
  '}',
  '(',
  ')',
  ':',
  '...',
  '@',
  '$',
  '!',
  '[',
  ']',
  'jobs',
  'first',
  '100',
  'edges',
  'node',
  'outputs',
  'url',
  'fragment',
  'on',
  'Query',
  'query',
  'mutation',
  'subscription',
  'health',
  'ok',
  '__schema',
  'types',
  'fields',
  'name',
  '"s"',
  'include',
  'if',
  'true',
  '#',
  '=',
  '|',
];

export function fuzzRequests(seed: number, count: number): FuzzRequest[] {
  const random = prng(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const int = (max: number) => Math.floor(random() * max);
  const hostileMutation = () => {
    const fields = Array.from(
      { length: 1 + int(4) },
      () => `${pick(FIELDS)}: ${pick(HOSTILE_VALUES)}`,
    );
    const name = pick(MUTATIONS);
    const args =
      name === 'cancelJob' || name === 'retryJob'
        ? `id: ${pick(HOSTILE_VALUES)}`
        : `input: { ${fields.join(', ')} }`;
    return `mutation { ${name}(${args}) { ${pick(['id', 'status', 'key url', '__typename'])} } }`;
  };
  const tokenSoup = () => Array.from({ length: 1 + int(40) }, () => pick(TOKENS)).join(' ');
  const hostileQuery = () =>
    pick([
      `{ jobs(first: ${pick(HOSTILE_VALUES)}) { edges { node { id } } } }`,
      `{ job(id: ${pick(HOSTILE_VALUES)}) { id status } }`,
      `{ jobs(after: ${pick(HOSTILE_VALUES)}) { pageInfo { endCursor } } }`,
      `{ jobs(filter: { status: [${pick(['QUEUED', 'NOPE', '1', '"x"'])}] }) { edges { cursor } } }`,
      `{ ${'x: '.repeat(int(5))}health { ok } }`,
    ]);
  const bodies: (() => string)[] = [
    () => JSON.stringify({ query: hostileMutation() }),
    () => JSON.stringify({ query: hostileQuery() }),
    () => JSON.stringify({ query: tokenSoup() }),
    () => JSON.stringify({ query: pick(['', ' ', '{}', '{ }']) }),
    () =>
      `{"query": ${pick(['1', 'null', '[]', '{}', 'true', '"{ health { ok } }", "variables": 5', '"{ health { ok } }", "variables": "x"'])}}`,
    () => JSON.stringify([{ query: '{ health { ok } }' }, { query: '{ health { ok } }' }]),
    () => `${'['.repeat(1 + int(2000))}${']'.repeat(int(2000))}`,
    () => Array.from({ length: 1 + int(64) }, () => String.fromCharCode(int(256))).join(''),
    () =>
      JSON.stringify({
        query: '{ health { ok } }',
        extensions: { persistedQuery: { version: 1, sha256Hash: 'ab'.repeat(int(40)) } },
      }),
    () => JSON.stringify({ query: hostileMutation(), variables: { x: pick(HOSTILE_VALUES) } }),
  ];
  return Array.from({ length: count }, (): FuzzRequest => {
    const transport = random();
    if (transport < 0.15) {
      return { transport: 'ws', body: pick([hostileMutation, hostileQuery, tokenSoup])() };
    }
    if (transport < 0.3) {
      return { transport: 'sse', body: pick([hostileMutation, hostileQuery, tokenSoup])() };
    }
    return {
      transport: 'http',
      body: pick(bodies)(),
      contentType: pick([
        'application/json',
        'application/json',
        'application/json',
        'text/plain',
        'application/graphql-response+json',
      ]),
    };
  });
}
