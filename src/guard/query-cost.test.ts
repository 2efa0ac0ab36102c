/**
 * estimateCost walks from the operation with the coerced variables; graphql-query-complexity's
 * getComplexity visits the whole document and coerces again. Both must agree on every document.
 */
import { getComplexity } from 'graphql-query-complexity';
import { parse, type GraphQLSchema } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { ATTACKS } from '../../test/redteam/attacks.js';
import { buildHitaSchema } from '../resolvers/build-schema.js';
import * as demo from '../../web/src/operations.js';
import { ESTIMATORS, MAX_QUERY_NODES, estimateCost } from './query-cost.js';

const CONTEXT = { maxOutputs: 16 };

const CASES: [string, Record<string, unknown>][] = [
  ['{ jobs(first: 7) { edges { node { id outputs { url } } } } }', {}],
  ['query($n: Int!) { jobs(first: $n) { edges { node { outputs { url } } } } }', { n: 3 }],
  ['query($n: Int!) { jobs(first: $n) { edges { node { outputs { url } } } } }', { n: 90 }],
  [
    'query($b: Boolean!) { health { ok } jobs(first: 50) @include(if: $b) { edges { cursor } } }',
    { b: true },
  ],
  [
    'query($b: Boolean!) { health { ok } jobs(first: 50) @include(if: $b) { edges { cursor } } }',
    { b: false },
  ],
  [
    'query($s: Boolean!) { jobs(first: 50) @skip(if: $s) { edges { cursor } } queue { depth } }',
    { s: true },
  ],
  ['{ node(id: "x") { id ... on Job { outputs { url } } } }', {}],
  ['{ ...F ...F } fragment F on Query { jobs(first: 10) { edges { node { id } } } }', {}],
  ['mutation($c: Int) { generateImages(input: { classId: 1, count: $c }) { id } }', { c: 12 }],
  ['mutation($c: Int) { generateImages(input: { classId: 1, count: $c }) { id } }', {}],
  ['query A { health { ok } } query B { jobs(first: 30) { edges { cursor } } }', {}],
  [demo.MODELS_QUERY, {}],
  [demo.JOBS_QUERY, { first: demo.MAX_LISTED_JOBS }],
  [demo.jobMutationDocument('generateImages', 'GenerateInput'), { input: { count: 16 } }],
  [demo.JOB_UPDATED, { id: 'x', after: 0 }],
];

describe('estimateCost', () => {
  let schema: GraphQLSchema;
  beforeAll(async () => {
    schema = await buildHitaSchema();
  });

  const library = (query: string, variables: Record<string, unknown>, operationName?: string) =>
    getComplexity({
      schema,
      query: parse(query),
      variables,
      ...(operationName ? { operationName } : {}),
      estimators: [...ESTIMATORS],
      context: CONTEXT,
      maxQueryNodes: MAX_QUERY_NODES,
    });

  it.each(CASES)('agrees with getComplexity on %s %j', (query, variables) => {
    const names = [...query.matchAll(/(?:query|mutation|subscription) (\w+)/g)].map((m) => m[1]);
    for (const operationName of names.length > 0 ? names : [undefined]) {
      expect(
        estimateCost(schema, { document: parse(query), operationName, variables }, CONTEXT),
      ).toBe(library(query, variables, operationName));
    }
  });

  it('agrees with getComplexity on every red-team attack the estimator accepts', () => {
    let compared = 0;
    // The big ones are refused by the token limit before any estimate; they only cost time here.
    for (const attack of ATTACKS.filter((a) => a.query.length < 20_000)) {
      let expected: number;
      try {
        expected = library(attack.query, attack.variables ?? {});
      } catch {
        continue; // refused before the estimate (syntax, unknown field, too many nodes, …)
      }
      expect(
        estimateCost(
          schema,
          { document: parse(attack.query), variables: attack.variables ?? {} },
          CONTEXT,
        ),
        attack.name,
      ).toBe(expected);
      compared += 1;
    }
    expect(compared).toBeGreaterThan(10);
  });

  it('refuses a document over the node limit, as getComplexity does', () => {
    const query = `{ ${Array.from({ length: 10_001 }, (_, i) => `a${i}: health { ok }`).join(' ')} }`;
    expect(() => estimateCost(schema, { document: parse(query), variables: {} }, CONTEXT)).toThrow(
      /maximum allowed number of nodes/,
    );
  });
});
