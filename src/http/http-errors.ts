/**
 * Failures before GraphQL runs (a malformed or oversized body, an unknown error in a route)
 * answer as GraphQL-shaped JSON with a code from the catalogue, never Express's HTML page with a
 * stack trace, and each is logged on one line.
 */
import type { ErrorRequestHandler, Response } from 'express';
import { errors, httpStatusOf, type AppError } from '../errors.js';

interface Logger {
  warn(obj: Record<string, unknown>, message: string): void;
  error(obj: Record<string, unknown>, message: string): void;
}

/** Sends an AppError as `{ errors: [...] }` with the status its code maps to (or `status`). */
export function sendAppError(
  res: Response,
  error: AppError,
  headers: Record<string, string> = {},
  status = httpStatusOf(error.code),
): void {
  res
    .status(status)
    .set(headers)
    .json({ errors: [{ message: error.message, extensions: { code: error.code } }] });
}

/** Express error handler of the whole app; mount it last. */
export function httpErrorHandler(logger: Logger, bodyLimitBytes: number): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const type = (err as { type?: string }).type;
    const status = (err as { status?: number }).status;
    let error: AppError;
    if (type === 'entity.too.large') error = errors.payloadTooLarge(bodyLimitBytes);
    else if (
      type === 'entity.parse.failed' ||
      type === 'encoding.unsupported' ||
      type === 'charset.unsupported'
    )
      error = errors.badRequest('the request body is not valid JSON');
    else if (status !== undefined && status >= 400 && status < 500)
      error = errors.badRequest((err as Error).message ?? 'bad request');
    else error = errors.internal('internal server error', err);
    if (error.code === 'INTERNAL_SERVER_ERROR')
      logger.error({ err, path: req.path }, 'HTTP request failed');
    else
      logger.warn(
        { code: error.code, path: req.path, method: req.method },
        `HTTP request refused: ${error.message}`,
      );
    if (res.headersSent) return;
    sendAppError(res, error);
  };
}
