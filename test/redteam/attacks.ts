/**
 * The red-team suite's attacks: operations that multiply work, break limits or probe for
 * internals, each with the code it must be refused with. Every one runs over HTTP and graphql-ws.
 */
import type { ErrorCode } from '../../src/errors.js';

export interface Attack {
  name: string;
  query: string;
  variables?: Record<string, unknown>;
  /** Accepted codes of the first error (a refusal may meet two limits; either may answer). */
  expect: readonly ErrorCode[];
  /** Only where introspection is on (development) or off (production). */
  onlyWhenIntrospection?: boolean;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const BIG_PAGE = 'jobs(first: 100) { edges { node { outputs { url thumbnailUrl } } } }';
const generate = (i: number) => `g${i}: generateImages(input: { classId: 1, seed: ${i} }) { id }`;

export const ATTACKS: readonly Attack[] = [
  {
    name: '5,000 aliases of a 100-job page with signed URLs (379 KB)',
    query: `{ ${range(5000)
      .map((i) => `a${i}: ${BIG_PAGE}`)
      .join(' ')} }`,
    expect: ['QUERY_TOO_COMPLEX'],
  },
  {
    name: '16 aliases (under the token limit, over the alias limit)',
    query: `{ ${range(16)
      .map((i) => `a${i}: health { ok }`)
      .join(' ')} }`,
    expect: ['QUERY_TOO_COMPLEX'],
  },
  {
    name: 'three big pages under three aliases (over the cost budget)',
    query: `{ ${range(3)
      .map((i) => `a${i}: ${BIG_PAGE}`)
      .join(' ')} }`,
    expect: ['QUERY_TOO_COMPLEX'],
  },
  {
    name: 'the same big page repeated without aliases',
    query: `{ ${BIG_PAGE} ${BIG_PAGE} ${BIG_PAGE} }`,
    expect: ['QUERY_TOO_COMPLEX'],
  },
  {
    name: 'a fragment spread many times',
    query: `{ ...F ...F ...F } fragment F on Query { ${BIG_PAGE} }`,
    expect: ['QUERY_TOO_COMPLEX'],
  },
  {
    name: 'fragments that spread each other twice, 30 deep',
    query: `{ ...F0 } ${range(30)
      .map(
        (i) =>
          `fragment F${i} on Query { ${i === 29 ? 'health { ok }' : `...F${i + 1} ...F${i + 1}`} }`,
      )
      .join(' ')}`,
    expect: ['QUERY_TOO_COMPLEX', 'GRAPHQL_VALIDATION_FAILED'],
  },
  {
    name: 'a page of a million jobs',
    query: '{ jobs(first: 1000000) { edges { node { id } } } }',
    expect: ['QUERY_TOO_COMPLEX'],
  },
  {
    name: 'a page size hidden in a variable',
    query: 'query($n: Int!) { jobs(first: $n) { edges { node { outputs { url } } } } }',
    variables: { n: 5000 },
    expect: ['QUERY_TOO_COMPLEX'],
  },
  {
    name: 'twelve directives',
    query: `{ health @include(if: true) { ok @include(if: true) queue @include(if: true)
      storage @include(if: true) workers @include(if: true) } queue @include(if: true) {
      depth @include(if: true) running @include(if: true) workers @include(if: true) }
      models @include(if: true) { id @include(if: true) description @include(if: true) } }`,
    expect: ['QUERY_TOO_COMPLEX'],
  },
  {
    name: 'a type chain 20 deep',
    query: `{ __type(name: "Job") { fields { type ${'{ ofType '.repeat(18)}{ name }${' }'.repeat(18)} } } }`,
    expect: ['QUERY_TOO_COMPLEX', 'GRAPHQL_VALIDATION_FAILED'],
  },
  {
    name: 'introspection that re-enters fields through type',
    query: '{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }',
    expect: ['QUERY_TOO_COMPLEX', 'GRAPHQL_VALIDATION_FAILED'],
  },
  {
    name: 'introspection (production: off)',
    query: '{ __schema { queryType { name } } }',
    expect: ['GRAPHQL_VALIDATION_FAILED'],
    onlyWhenIntrospection: false,
  },
  {
    name: 'two job-creating fields in one operation',
    query: `mutation { ${range(2).map(generate).join(' ')} }`,
    expect: ['BAD_USER_INPUT'],
  },
  {
    name: '200 aliased generateImages',
    query: `mutation { ${range(200).map(generate).join(' ')} }`,
    expect: ['QUERY_TOO_COMPLEX'],
  },
  {
    name: 'a billion images',
    query: 'mutation { generateImages(input: { classId: 1, count: 1000000000 }) { id } }',
    expect: ['BAD_USER_INPUT'],
  },
  {
    name: 'a seed whose last image overflows Int',
    query: 'mutation { generateImages(input: { classId: 1, seed: 2147483647, count: 2 }) { id } }',
    expect: ['BAD_USER_INPUT'],
  },
  {
    name: 'a 900 KB class name',
    query: 'mutation($n: String!) { generateImages(input: { className: $n }) { id } }',
    variables: { n: 'x'.repeat(900_000) },
    expect: ['BAD_USER_INPUT'],
  },
  {
    name: 'a model id that is a path',
    query:
      'mutation { generateImages(input: { classId: 1, model: "../models/hita-tiny-random" }) { id } }',
    expect: ['BAD_USER_INPUT'],
  },
  {
    name: 'an unknown model',
    query: 'mutation { generateImages(input: { classId: 1, model: "no-such-model" }) { id } }',
    expect: ['BAD_USER_INPUT'],
  },
  {
    name: 'a variable of the wrong type',
    query: 'mutation($c: Int) { generateImages(input: { classId: $c }) { id } }',
    variables: { c: 'three' },
    expect: ['BAD_USER_INPUT'],
  },
  { name: 'an unknown field', query: '{ nope }', expect: ['GRAPHQL_VALIDATION_FAILED'] },
  { name: 'a syntax error', query: '{ jobs(first: ', expect: ['GRAPHQL_PARSE_FAILED'] },
  {
    name: 'an unknown job',
    query: '{ job(id: "nope") { id outputs { url } } }',
    expect: [],
  },
  {
    name: 'two operations and no operation name',
    query: 'query A { health { ok } } query B { health { ok } }',
    expect: ['OPERATION_RESOLUTION_FAILURE', 'BAD_REQUEST'],
  },
];

/** A subscription to a job that does not exist: NOT_FOUND on graphql-ws. */
export const SUBSCRIBE_UNKNOWN = 'subscription { jobUpdated(id: "nope") { sequence } }';
