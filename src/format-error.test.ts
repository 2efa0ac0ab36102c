import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { errors } from './errors.js';
import { createFormatError, shortenMessage } from './format-error.js';

const logged: unknown[] = [];
const logger = { error: (obj: Record<string, unknown>) => void logged.push(obj) };

describe('formatError', () => {
  const format = createFormatError({ logger, hideSuggestions: true });

  it('shows an AppError behind any wrapper with its code, field and retry hint', () => {
    const app = errors.rateLimited('slow down', 7);
    const wrapped = new GraphQLError('outer', {
      originalError: new GraphQLError('inner', { originalError: app }),
    });
    expect(format(wrapped.toJSON(), wrapped)).toMatchObject({
      message: 'slow down',
      extensions: { code: 'RATE_LIMITED', retryable: true, retryAfterSeconds: 7 },
    });
    const input = errors.badInput('seed', 'too big');
    expect(format(new GraphQLError('x').toJSON(), input).extensions).toMatchObject({
      field: 'seed',
    });
  });

  it('passes protocol codes with nothing but the code, and masks the rest', () => {
    const validation = {
      message: 'Cannot query field "jbos" on type "Query". Did you mean "jobs"?',
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED', stacktrace: ['at /srv/x.js'] },
    };
    expect(format(validation, new Error('x'))).toEqual({
      message: 'Cannot query field "jbos" on type "Query".',
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
    const unknown = format(
      { message: 'ENOENT /srv/models/x', path: ['job'] },
      new Error('ENOENT /srv/models/x'),
    );
    expect(unknown).toEqual({
      message: 'internal server error',
      path: ['job'],
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
    expect(logged).toHaveLength(1);
  });

  it('maps the parser token limit to QUERY_TOO_COMPLEX', () => {
    const parse = {
      message: 'Syntax Error: Document contains more that 2000 tokens. Parsing aborted.',
      extensions: { code: 'GRAPHQL_PARSE_FAILED' },
    };
    expect(format(parse, new Error()).extensions?.code).toBe('QUERY_TOO_COMPLEX');
  });

  it('cuts echoed values to 100 characters and messages to 1,000', () => {
    const echoed = shortenMessage(`Variable "$n" got invalid value "${'x'.repeat(5000)}"`, false);
    expect(echoed).toBe(`Variable "$n" got invalid value "${'x'.repeat(100)}…"`);
    expect(shortenMessage('y'.repeat(5000), false)).toHaveLength(1001);
  });
});
