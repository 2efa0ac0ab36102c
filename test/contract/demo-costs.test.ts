/** The demo page's operations fit twice into the default cost budget, with the limits at default. */
import { parse, specifiedRules, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_QUERY_COST, readServerConfig } from '../../src/config.js';
import { estimateCost } from '../../src/guard/query-cost.js';
import { limitRules } from '../../src/guard/query-limits.js';
import { buildHitaSchema } from '../../src/resolvers/build-schema.js';
import * as demo from '../../web/src/operations.js';

const operations: [string, string, Record<string, unknown>][] = [
  ['models', demo.MODELS_QUERY, {}],
  ['job list', demo.JOBS_QUERY, { first: demo.MAX_LISTED_JOBS }],
  ['queue positions', demo.QUEUED_POSITIONS, {}],
  ['queue status', demo.QUEUE_STATUS, {}],
  [
    'generate',
    demo.jobMutationDocument('generateImages', 'GenerateInput'),
    { input: { count: 16 } },
  ],
  [
    'in-paint',
    demo.jobMutationDocument('inpaintImage', 'InpaintInput'),
    { input: { count: 16, imageKey: 'k', maskKey: 'm' } },
  ],
  [
    'style',
    demo.jobMutationDocument('transferStyle', 'StyleTransferInput'),
    { input: { count: 16, contentKey: 'c', styleKey: 's' } },
  ],
  ['cancel', demo.jobActionDocument('cancelJob'), { id: 'x' }],
  ['upload', demo.CREATE_UPLOAD, { input: { contentType: 'image/png' } }],
  ['follow', demo.JOB_UPDATED, { id: 'x', after: 0 }],
];

describe("the demo page's operations", () => {
  it.each(operations)(
    '%s passes the default limits at most half the budget',
    async (_, query, variables) => {
      const schema = await buildHitaSchema();
      const { api } = readServerConfig({ HITA_DATA_DIR: '/tmp/unused' }, { persistSecret: false });
      const document = parse(query, { maxTokens: api.queryLimits.maxTokens });
      expect(
        validate(schema, document, [...specifiedRules, ...limitRules(api.queryLimits)]),
      ).toEqual([]);
      const cost = estimateCost(schema, { document, variables }, { maxOutputs: 16 });
      expect(cost).toBeLessThanOrEqual(DEFAULT_MAX_QUERY_COST / 2);
    },
  );
});
