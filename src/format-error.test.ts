import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { afterEach, describe, expect, it } from 'vitest';
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
    for (const scope of ['tenant', 'global'] as const)
      expect(
        format(new GraphQLError('x').toJSON(), errors.queueFull(3, scope)).extensions,
      ).toMatchObject({ code: 'QUEUE_FULL', retryable: true, scope });
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

describe('formatError across environments', () => {
  /** Apollo adds `stacktrace` to extensions when includeStacktraceInErrorResponses is on (dev). */
  const STACK = ['Error: boom', '    at resolve (/srv/hita/dist/resolvers/job.resolver.js:12:7)'];
  const withStack = (message: string, extensions: Record<string, unknown> = {}) => ({
    message,
    locations: [{ line: 1, column: 3 }],
    path: ['generateImages'],
    extensions: { ...extensions, stacktrace: STACK },
  });
  /** Every error shape the formatter distinguishes, each with a stack attached. */
  function cases(): [string, GraphQLFormattedError, unknown][] {
    const app = errors.notFound('job', 'j-1');
    const apqMismatch = Object.assign(new Error('provided sha does not match query'), {
      extensions: { http: { status: 400 } },
    });
    return [
      ['AppError', withStack('outer', { code: 'NOT_FOUND' }), app],
      [
        'protocol code',
        withStack('Unknown type "Jbo".', { code: 'GRAPHQL_VALIDATION_FAILED' }),
        new Error(),
      ],
      ['4xx without a code', withStack(apqMismatch.message), apqMismatch],
      [
        'unexpected',
        withStack('ECONNRESET at /srv/hita/x.js'),
        new Error('ECONNRESET at /srv/hita/x.js'),
      ],
    ];
  }
  const original = process.env.NODE_ENV;
  afterEach(() => {
    process.env.NODE_ENV = original;
  });

  it.each(['production', 'development', 'test'])(
    'NODE_ENV=%s: no stack trace, server path or cause leaves, and the answer is the same',
    (env) => {
      process.env.NODE_ENV = env;
      const format = createFormatError({
        logger: { error: () => undefined },
        hideSuggestions: false,
      });
      const answers = cases().map(([, formatted, error]) => format(formatted, error));
      for (const answer of answers) {
        const text = JSON.stringify(answer);
        expect(text).not.toContain('stacktrace');
        expect(text).not.toContain('/srv/hita');
        expect(text).not.toMatch(/\bat resolve\b/);
      }
      process.env.NODE_ENV = 'production';
      const production = createFormatError({
        logger: { error: () => undefined },
        hideSuggestions: false,
      });
      expect(cases().map(([, formatted, error]) => production(formatted, error))).toEqual(answers);
    },
  );

  it('keeps locations and path on what it shows, and only the path on what it masks', () => {
    const format = createFormatError({ logger: { error: () => undefined }, hideSuggestions: true });
    const [app, protocol, badRequest, unexpected] = cases().map(([, f, e]) => format(f, e));
    for (const shown of [app, protocol, badRequest]) {
      expect(shown).toMatchObject({
        locations: [{ line: 1, column: 3 }],
        path: ['generateImages'],
      });
    }
    expect(unexpected).toEqual({
      message: 'internal server error',
      path: ['generateImages'],
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
  });

  it('maps a 4xx refusal without a code to BAD_REQUEST (not a masked 500), unlogged', () => {
    const seen: unknown[] = [];
    const format = createFormatError({
      logger: { error: (obj) => void seen.push(obj) },
      hideSuggestions: true,
    });
    const [, formatted, error] = cases()[2]!; // 4xx without a code
    expect(format(formatted, error)).toMatchObject({
      message: 'provided sha does not match query',
      extensions: { code: 'BAD_REQUEST' },
    });
    expect(seen).toEqual([]);
    // A 5xx, or a status that is no number, is no client error: masked and logged.
    for (const status of [500, '400']) {
      const odd = Object.assign(new Error('x'), { extensions: { http: { status } } });
      expect(format({ message: 'x' }, odd).extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR' });
    }
    expect(seen).toHaveLength(2);
  });

  it('logs what it masks with the error itself, so the cause is kept server-side', () => {
    const seen: Record<string, unknown>[] = [];
    const format = createFormatError({
      logger: { error: (obj) => void seen.push(obj) },
      hideSuggestions: true,
    });
    const cause = new Error('disk full');
    const error = new Error('write failed', { cause });
    format({ message: 'write failed' }, error);
    expect(seen).toEqual([{ err: error, message: 'write failed' }]);
    expect((seen[0]!.err as Error).cause).toBe(cause);
  });

  it('strips "Did you mean" suggestions only when introspection is off (hideSuggestions)', () => {
    const validation = {
      message: 'Cannot query field "jbos" on type "Query". Did you mean "jobs" or "job"?',
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    };
    const logger = { error: () => undefined };
    const hidden = createFormatError({ logger, hideSuggestions: true })(validation, new Error());
    const shown = createFormatError({ logger, hideSuggestions: false })(validation, new Error());
    expect(hidden.message).toBe('Cannot query field "jbos" on type "Query".');
    expect(shown.message).toBe(validation.message);
    // An AppError's message goes through the same filter (type-graphql validation wraps them).
    const app = errors.badInput('kind', 'unknown kind "GENRATE". Did you mean "GENERATE"?');
    const appHidden = createFormatError({ logger, hideSuggestions: true })({ message: 'x' }, app);
    expect(appHidden.message).not.toContain('Did you mean');
    expect(shortenMessage('Unknown argument "sed". Did you mean "seed"?', false)).toContain(
      'seed"?',
    );
  });
});
