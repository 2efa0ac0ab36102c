/** The guard's per-document facts never stand in for what depends on variables or the tenant. */
import { parse, type GraphQLSchema } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { isAppError } from '../errors.js';
import { buildHitaSchema } from '../resolvers/build-schema.js';
import { CostRateLimiter } from './cost-rate-limiter.js';
import { OperationGuard } from './operation-guard.js';

const LIMITS = {
  maxTokens: 1000,
  maxDepth: 10,
  maxAliases: 15,
  maxDirectives: 50,
  maxCost: 1000,
  introspection: false,
};

describe('OperationGuard', () => {
  let schema: GraphQLSchema;
  beforeAll(async () => {
    schema = await buildHitaSchema();
  });
  const guardWith = (points: number) =>
    new OperationGuard({
      schema,
      limits: LIMITS,
      costContext: { maxOutputs: 16 },
      rateLimiter: new CostRateLimiter({ points, windowSeconds: 60 }),
      maxJobsPerRequest: 1,
    });
  const codeOf = (work: Promise<unknown>) =>
    work.then(
      () => 'admitted',
      (error: unknown) => (isAppError(error) ? error.code : 'thrown'),
    );

  it('estimates a page size from a variable on every admission of the same document', async () => {
    const guard = guardWith(1e9);
    const document = parse(
      'query($n: Int!) { jobs(first: $n) { edges { node { outputs { url } } } } }',
    );
    const small = await guard.admit({ document, variables: { n: 2 }, tenant: 't' });
    const larger = await guard.admit({ document, variables: { n: 4 }, tenant: 't' });
    expect(larger.cost.requestedQueryCost).toBeGreaterThan(small.cost.requestedQueryCost);
    expect(await codeOf(guard.admit({ document, variables: { n: 5000 }, tenant: 't' }))).toBe(
      'QUERY_TOO_COMPLEX',
    );
    expect(await codeOf(guard.admit({ document, variables: { n: 'x' }, tenant: 't' }))).toBe(
      'BAD_USER_INPUT',
    );
  });

  it('estimates an operation without variables once and charges its cost every time', async () => {
    const guard = guardWith(25);
    const document = parse('{ health { ok } }'); // costs 5
    const reports = [];
    for (let i = 0; i < 5; i++)
      reports.push((await guard.admit({ document, variables: {}, tenant: 't' })).cost);
    expect(reports.map((r) => r.requestedQueryCost)).toEqual([5, 5, 5, 5, 5]);
    expect(reports.map((r) => r.currentlyAvailable)).toEqual([20, 15, 10, 5, 0]);
    expect(await codeOf(guard.admit({ document, variables: {}, tenant: 't' }))).toBe(
      'RATE_LIMITED',
    );
    expect(await codeOf(guard.admit({ document, variables: {}, tenant: 'u' }))).toBe('admitted');
  });

  it('refuses an over-budget document without variables every time, not only the first', async () => {
    const guard = guardWith(1e9);
    const document = parse(
      '{ a: jobs(first: 100) { edges { node { outputs { url } } } } b: jobs(first: 100) { edges { node { outputs { url } } } } }',
    );
    for (let i = 0; i < 3; i++)
      expect(await codeOf(guard.admit({ document, variables: {}, tenant: 't' }))).toBe(
        'QUERY_TOO_COMPLEX',
      );
  });

  it('holds the job-field cap on every admission of the same document', async () => {
    const guard = guardWith(1e9);
    const document = parse(
      'mutation { a: generateImages(input: { classId: 1 }) { id } b: generateImages(input: { classId: 2 }) { id } }',
    );
    for (let i = 0; i < 3; i++)
      expect(await codeOf(guard.admit({ document, variables: {}, tenant: 't' }))).toBe(
        'BAD_USER_INPUT',
      );
  });

  it('keeps the operations of one document apart', async () => {
    const guard = guardWith(1e9);
    const document = parse(
      'query Small { health { ok } } query Big { jobs(first: 30) { edges { node { id } } } }',
    );
    const admit = (operationName: string) =>
      guard.admit({ document, operationName, variables: {}, tenant: 't' });
    const small = (await admit('Small')).cost.requestedQueryCost;
    const big = (await admit('Big')).cost.requestedQueryCost;
    expect(big).toBeGreaterThan(small);
    expect((await admit('Small')).cost.requestedQueryCost).toBe(small);
  });
});
