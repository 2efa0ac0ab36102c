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
  | 'SHUTTING_DOWN'
  | 'INTERNAL_SERVER_ERROR';

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
    return new AppError('NOT_FOUND', `${what} ${JSON.stringify(id)} does not exist`, {
      details: { id },
    });
  },
  conflict(message: string, details: Record<string, unknown> = {}): AppError {
    return new AppError('CONFLICT', message, { details });
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
  generationFailed(message: string, cause?: unknown, retryable = false): AppError {
    return new AppError('GENERATION_FAILED', message, { cause, retryable });
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
