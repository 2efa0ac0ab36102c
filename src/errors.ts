/**
 * The single error type of hita-serve. Every failure that crosses a seam (queue, store, engine,
 * resolver) is an `AppError` made by one of the named constructors below, so callers never see
 * which engine produced it. `code` becomes GraphQL `extensions.code`.
 */
export type ErrorCode =
  | 'BAD_USER_INPUT'
  | 'NOT_FOUND'
  | 'FORBIDDEN'
  | 'UNAUTHENTICATED'
  | 'CONFLICT'
  | 'QUEUE_FULL'
  | 'RATE_LIMITED'
  | 'CANCELLED'
  | 'GENERATION_FAILED'
  | 'MODEL_UNAVAILABLE'
  | 'EXECUTION_PROVIDER_UNAVAILABLE'
  | 'STORAGE_UNAVAILABLE'
  | 'JOB_UNREADABLE'
  | 'QUERY_TOO_COMPLEX'
  | 'SHUTTING_DOWN'
  // A job's failure code (JobError.code) when its worker was lost with no attempt left.
  | 'WORKER_LOST'
  | 'PAYLOAD_TOO_LARGE'
  | 'INTERNAL_SERVER_ERROR'
  // Protocol codes Apollo Server produces itself; listed so that the catalogue is closed.
  | 'GRAPHQL_PARSE_FAILED'
  | 'GRAPHQL_VALIDATION_FAILED'
  | 'BAD_REQUEST'
  | 'OPERATION_RESOLUTION_FAILURE'
  | 'PERSISTED_QUERY_NOT_FOUND'
  | 'PERSISTED_QUERY_NOT_SUPPORTED';

/**
 * One entry per code: a code added to `ErrorCode` without one here (or one here that is not a
 * code) fails to compile, so `ERROR_CODES` is the catalogue itself.
 */
const CATALOGUE: Record<ErrorCode, true> = {
  BAD_USER_INPUT: true,
  NOT_FOUND: true,
  FORBIDDEN: true,
  UNAUTHENTICATED: true,
  CONFLICT: true,
  QUEUE_FULL: true,
  RATE_LIMITED: true,
  CANCELLED: true,
  GENERATION_FAILED: true,
  MODEL_UNAVAILABLE: true,
  EXECUTION_PROVIDER_UNAVAILABLE: true,
  STORAGE_UNAVAILABLE: true,
  JOB_UNREADABLE: true,
  QUERY_TOO_COMPLEX: true,
  SHUTTING_DOWN: true,
  WORKER_LOST: true,
  PAYLOAD_TOO_LARGE: true,
  INTERNAL_SERVER_ERROR: true,
  GRAPHQL_PARSE_FAILED: true,
  GRAPHQL_VALIDATION_FAILED: true,
  BAD_REQUEST: true,
  OPERATION_RESOLUTION_FAILURE: true,
  PERSISTED_QUERY_NOT_FOUND: true,
  PERSISTED_QUERY_NOT_SUPPORTED: true,
};

/** Every code of the catalogue, for checks that a response's code is one of ours. */
export const ERROR_CODES: readonly ErrorCode[] = Object.freeze(
  Object.keys(CATALOGUE) as ErrorCode[],
);

/** Whether `value` is a code of the catalogue (a code read back from storage or a thread). */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(CATALOGUE, value);
}

/** The HTTP status of a whole request refused with this code (GraphQL field errors stay 200). */
export function httpStatusOf(code: ErrorCode): number {
  switch (code) {
    case 'UNAUTHENTICATED':
      return 401;
    case 'FORBIDDEN':
      return 403;
    case 'NOT_FOUND':
      return 404;
    case 'PAYLOAD_TOO_LARGE':
      return 413;
    case 'RATE_LIMITED':
      return 429;
    case 'INTERNAL_SERVER_ERROR':
      return 500;
    case 'QUEUE_FULL':
    case 'SHUTTING_DOWN':
    case 'MODEL_UNAVAILABLE':
    case 'STORAGE_UNAVAILABLE':
      return 503;
    default:
      return 400;
  }
}

/** Longest echo of a client's value inside an error message. */
export const MAX_ECHO_CHARS = 100;

/**
 * A client's value as it may appear in a message: JSON, cut to {@link MAX_ECHO_CHARS} characters,
 * so that a 900 KB string is never sent back whole.
 */
export function quote(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length <= MAX_ECHO_CHARS ? text : `${text.slice(0, MAX_ECHO_CHARS)}…`;
}

export interface AppErrorOptions {
  /** Whether running the same work again may succeed. @default false */
  retryable?: boolean;
  /** Safe, structured facts for the client (field path, limits, the value received). */
  details?: Record<string, unknown>;
  cause?: unknown;
  /** The HTTP status of a GraphQL-over-HTTP response carrying this error. @default 200 */
  httpStatus?: number;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;
  /**
   * Only present with `httpStatus`: graphql-js copies an original error's `extensions` onto the
   * GraphQLError, and Apollo takes `extensions.http.status` for the response (then drops it).
   */
  readonly extensions?: { code: ErrorCode; http: { status: number } };

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details;
    if (options.httpStatus !== undefined)
      this.extensions = { code, http: { status: options.httpStatus } };
  }

  toJSON(): {
    code: ErrorCode;
    message: string;
    retryable: boolean;
    details?: Record<string, unknown>;
  } {
    return {
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}

/** Named constructors: each message says what was expected and what arrived. */
export const errors = {
  badInput(field: string, message: string, details: Record<string, unknown> = {}): AppError {
    return new AppError('BAD_USER_INPUT', `${field}: ${message}`, {
      details: { field, ...details },
    });
  },
  notFound(what: string, id: string): AppError {
    return new AppError('NOT_FOUND', `${what} ${quote(id)} does not exist`, {
      details: { id: id.slice(0, MAX_ECHO_CHARS) },
    });
  },
  /** Variables that do not coerce to their declared types (graphql-js names the path). */
  badVariables(message: string): AppError {
    return new AppError('BAD_USER_INPUT', message);
  },
  /**
   * A missing or unknown API key. Carries its HTTP status (401), so that Apollo refuses the whole
   * request with it when the context function throws it as it is.
   */
  unauthenticated(message: string): AppError {
    return new AppError('UNAUTHENTICATED', message, {
      httpStatus: httpStatusOf('UNAUTHENTICATED'),
    });
  },
  /** Any query limit (tokens, depth, aliases, directives, cost): refused before execution. */
  queryTooComplex(message: string, details: Record<string, unknown> = {}): AppError {
    return new AppError('QUERY_TOO_COMPLEX', message, { details });
  },
  /** @param retryAfterSeconds when the tenant has points again */
  rateLimited(
    message: string,
    retryAfterSeconds: number,
    details: Record<string, unknown> = {},
  ): AppError {
    return new AppError('RATE_LIMITED', message, {
      retryable: true,
      details: { retryAfterSeconds, ...details },
    });
  },
  /** A request this server refuses to serve whoever sends it (a browser origin not allowed). */
  forbidden(message: string): AppError {
    return new AppError('FORBIDDEN', message);
  },
  badRequest(message: string): AppError {
    return new AppError('BAD_REQUEST', message);
  },
  payloadTooLarge(limitBytes: number): AppError {
    return new AppError('PAYLOAD_TOO_LARGE', `the request body exceeds ${limitBytes} bytes`, {
      details: { limit: limitBytes },
    });
  },
  /** A failure we did not foresee; its cause is logged, never sent. */
  internal(message: string, cause?: unknown, retryable = false): AppError {
    return new AppError('INTERNAL_SERVER_ERROR', message, { cause, retryable });
  },
  /**
   * A rule that is checked before a request reaches this layer (validateJobRequest), broken
   * anyway: a bug upstream, never the client's input. Keeps the rule's message and details.
   * @param broken the rule's own BAD_USER_INPUT
   */
  unvalidated(broken: AppError): AppError {
    return new AppError('INTERNAL_SERVER_ERROR', broken.message, {
      ...(broken.details ? { details: broken.details } : {}),
      cause: broken,
    });
  },
  conflict(message: string, details: Record<string, unknown> = {}): AppError {
    return new AppError('CONFLICT', message, { details });
  },
  /**
   * QUEUE_FULL, retryable: the same request may succeed once workers drain the queue.
   * @param scope `global`: the whole queue is at HITA_MAX_QUEUED; `tenant`: the caller's own
   *   waiting jobs are at HITA_TENANT_MAX_QUEUED (`extensions.scope`)
   */
  queueFull(maxQueued: number, scope: 'global' | 'tenant'): AppError {
    const whose = scope === 'tenant' ? 'this tenant already has' : 'the queue already holds';
    return new AppError('QUEUE_FULL', `${whose} its maximum of ${maxQueued} waiting jobs`, {
      retryable: true,
      details: { maxQueued, scope },
    });
  },
  cancelled(jobId: string): AppError {
    return new AppError('CANCELLED', `job ${jobId} was cancelled`, { details: { jobId } });
  },
  modelUnavailable(file: string, message: string, cause?: unknown): AppError {
    return new AppError('MODEL_UNAVAILABLE', `${file}: ${message}`, { details: { file }, cause });
  },
  providerUnavailable(provider: string, message: string, cause?: unknown): AppError {
    return new AppError('EXECUTION_PROVIDER_UNAVAILABLE', message, {
      details: { provider },
      cause,
    });
  },
  /**
   * An object store that cannot serve (unreachable, misconfigured, a disk error): `retryable`
   * when trying again may succeed.
   */
  storageUnavailable(message: string, cause?: unknown, retryable = false): AppError {
    return new AppError('STORAGE_UNAVAILABLE', message, { cause, retryable });
  },
  generationFailed(message: string, cause?: unknown, retryable = false): AppError {
    return new AppError('GENERATION_FAILED', message, { cause, retryable });
  },
  /** A stored job the API cannot show as its schema type (a field out of GraphQL's range). */
  jobUnreadable(id: string, field: string, value: unknown): AppError {
    return new AppError(
      'JOB_UNREADABLE',
      `job ${id} cannot be shown: ${field} is ${String(value)}, which its GraphQL type cannot carry`,
      { details: { id, field } },
    );
  },
  /**
   * An error that crossed a thread or process boundary as its `toJSON()` form, made whole again.
   * A code outside the catalogue (a peer of another version) becomes GENERATION_FAILED, keeping
   * the peer's message and retryability.
   */
  revive(serialized: {
    code: string;
    message: string;
    retryable: boolean;
    details?: Record<string, unknown>;
  }): AppError {
    const { code, message, retryable, details } = serialized;
    return new AppError(isErrorCode(code) ? code : 'GENERATION_FAILED', message, {
      retryable,
      ...(details ? { details } : {}),
    });
  },
  /** A new job refused while this process drains (SIGTERM/SIGINT); HTTP 503, retryable. */
  shuttingDown(): AppError {
    return new AppError(
      'SHUTTING_DOWN',
      'this server is shutting down and takes no new jobs; retry (another replica, or this one after its restart)',
      { retryable: true, httpStatus: 503 },
    );
  },
} as const;

/**
 * The one integer-range check of every layer (API services, queue, engine): each keeps its own
 * limits, and they all answer with the same message and `details`.
 * @throws AppError BAD_USER_INPUT naming `field`, with `min`, `max` and `received`
 */
export function requireIntegerInRange(
  field: string,
  value: unknown,
  min: number,
  max: number,
): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw errors.badInput(field, `must be an integer in ${min} … ${max}, got ${String(value)}`, {
      min,
      max,
      received: typeof value === 'number' && Number.isFinite(value) ? value : String(value),
    });
  }
  return value;
}
