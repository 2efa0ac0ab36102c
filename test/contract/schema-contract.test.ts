/**
 * The public contract's guards: no breaking change against the schema main shipped
 * (test/contract/schema.v1.graphql, graphql-js findBreakingChanges), a declared cost on every list
 * field and mutation, and a budget that the README's examples fit twice over.
 */
import { readFileSync } from 'node:fs';
import {
  buildSchema,
  findBreakingChanges,
  getNullableType,
  isListType,
  isObjectType,
  parse,
  type GraphQLSchema,
} from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_QUERY_COST } from '../../src/config.js';
import { estimateCost } from '../../src/guard/query-cost.js';
import { buildHitaSchema } from '../../src/resolvers/build-schema.js';

let schema: GraphQLSchema;
beforeAll(async () => {
  schema = await buildHitaSchema();
});

/** The GraphQL operations the README shows, from its curl bodies and its JavaScript blocks. */
export function readmeOperations(readme = readFileSync('README.md', 'utf8')): string[] {
  const curl = [...readme.matchAll(/-d '(\{"query":.*?\})'/g)].map(
    (m) => (JSON.parse(m[1]!) as { query: string }).query,
  );
  const js = [...readme.matchAll(/query: `([^`]+)`/g)].map((m) => m[1]!);
  return [...curl, ...js];
}

describe('the GraphQL contract', () => {
  it('has no breaking change against the schema main shipped', () => {
    const shipped = buildSchema(readFileSync('test/contract/schema.v1.graphql', 'utf8'));
    expect(findBreakingChanges(shipped, schema)).toEqual([]);
  });

  it('declares a cost on every list field and every mutation', () => {
    const undeclared: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (!isObjectType(type) || type.name.startsWith('__')) continue;
      const isMutation = type === schema.getMutationType();
      for (const field of Object.values(type.getFields())) {
        const needsCost = isMutation || isListType(getNullableType(field.type));
        if (needsCost && field.extensions.complexity === undefined) {
          undeclared.push(`${type.name}.${field.name}`);
        }
      }
    }
    expect(undeclared).toEqual([]);
  });

  it('fits every README example twice into the default budget', () => {
    const operations = readmeOperations();
    expect(operations.length).toBeGreaterThanOrEqual(3);
    for (const query of operations) {
      const cost = estimateCost(
        schema,
        { document: parse(query), variables: { id: 'x', after: 0, first: 20 } },
        { maxOutputs: 16 },
      );
      expect(cost, query).toBeLessThanOrEqual(DEFAULT_MAX_QUERY_COST / 2);
    }
  });
});
