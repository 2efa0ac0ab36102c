import { pipeline } from 'node:stream/promises';
import { Router, type Request, type Response } from 'express';
import { errors, isAppError } from '../errors.js';
import type { FsObjectStore } from './fs-object-store.js';

function sendError(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ code, message });
}

/**
 * Ends a rejected upload without reading the rest of its body: close the connection after the
 * reply, and discard what is already arriving so the client gets to read the reply.
 */
function rejectUpload(
  req: Request,
  res: Response,
  status: number,
  code: string,
  message: string,
): void {
  res.setHeader('Connection', 'close');
  sendError(res, status, code, message);
  req.resume();
}

async function serveGet(
  store: FsObjectStore,
  key: string,
  maxAgeSeconds: number,
  req: Request,
  res: Response,
): Promise<void> {
  const object = await store.open(key);
  if (object === null)
    return sendError(res, 404, 'NOT_FOUND', `object ${JSON.stringify(key)} does not exist`);
  const { handle, info, etag } = object;
  // setHeader, not res.set: express would append a charset to text types, changing what was stored.
  res.setHeader('Content-Type', info.contentType);
  res.setHeader('Content-Length', String(info.size));
  res.setHeader('ETag', etag);
  res.setHeader('Last-Modified', info.lastModified.toUTCString());
  // private: the URL is a bearer credential, so shared caches must not keep the body.
  res.setHeader('Cache-Control', `private, max-age=${maxAgeSeconds}`);
  if (req.method === 'HEAD' || req.headers['if-none-match'] === etag) {
    await handle.close();
    res.status(req.method === 'HEAD' ? 200 : 304).end();
    return;
  }
  // The handle pins the inode opened above, so a concurrent put() cannot change the bytes mid-stream.
  await pipeline(handle.createReadStream(), res);
}

async function receivePut(
  store: FsObjectStore,
  key: string,
  signedContentType: string | undefined,
  req: Request,
  res: Response,
): Promise<void> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > store.maxUploadBytes) {
    return rejectUpload(
      req,
      res,
      413,
      'BAD_USER_INPUT',
      `body: ${declared} bytes is over the ${store.maxUploadBytes}-byte upload limit`,
    );
  }
  const sentContentType = req.headers['content-type'];
  if (signedContentType !== undefined && sentContentType !== signedContentType) {
    const message = `signature covers Content-Type ${signedContentType}, got ${sentContentType ?? 'none'}`;
    return rejectUpload(req, res, 403, 'FORBIDDEN', message);
  }
  // destroyOnReturn: false, since destroying the request would close the socket before the 413 goes out.
  const body = req.iterator({ destroyOnReturn: false });
  try {
    await store.putStream(key, body, {
      contentType: signedContentType ?? sentContentType ?? 'application/octet-stream',
    });
  } catch (err) {
    if (isAppError(err) && err.details?.maxUploadBytes !== undefined)
      return rejectUpload(req, res, 413, err.code, err.message);
    throw err;
  }
  res.status(200).end();
}

/**
 * The HTTP side of `FsObjectStore`, mounted by the server at `/objects`: GET/HEAD serve an object and
 * PUT stores one, each only through a URL from presignGet/presignPut. Errors are JSON `{ code,
 * message }`: 403 FORBIDDEN for a bad signature or an expired URL, 404 NOT_FOUND, 413
 * BAD_USER_INPUT past `maxUploadBytes`, 503 STORAGE_UNAVAILABLE.
 */
export function fsObjectRouter(store: FsObjectStore): Router {
  const router = Router();
  router.use(async (req, res) => {
    const isRead = req.method === 'GET' || req.method === 'HEAD';
    if (!isRead && req.method !== 'PUT') {
      res.setHeader('Allow', 'GET, HEAD, PUT');
      return sendError(
        res,
        405,
        'BAD_USER_INPUT',
        `method ${req.method} is not supported; use GET, HEAD or PUT`,
      );
    }
    let key: string;
    try {
      key = decodeURIComponent(req.path.slice(1));
    } catch {
      return sendError(res, 400, 'BAD_USER_INPUT', 'key: malformed percent-encoding in the path');
    }
    const query = new URL(req.originalUrl, 'http://localhost').searchParams;
    const contentType = query.get('contentType') ?? undefined;
    const verdict = store.verify({
      method: req.method,
      key,
      expires: query.get('expires') ?? undefined,
      signature: query.get('signature') ?? undefined,
      contentType,
    });
    if (!verdict.isValid) {
      return isRead
        ? sendError(res, 403, 'FORBIDDEN', verdict.message)
        : rejectUpload(req, res, 403, 'FORBIDDEN', verdict.message);
    }
    try {
      await (isRead
        ? serveGet(store, key, verdict.remainingSeconds, req, res)
        : receivePut(store, key, contentType, req, res));
    } catch (err) {
      if (res.headersSent) {
        res.destroy(); // mid-body: truncating is the only honest signal left
        return;
      }
      const appError = isAppError(err) ? err : errors.storageUnavailable(String(err), err);
      const statuses: Partial<Record<string, number>> = {
        BAD_USER_INPUT: 400,
        NOT_FOUND: 404,
        CONFLICT: 409,
      };
      const status = statuses[appError.code] ?? 503;
      if (isRead) sendError(res, status, appError.code, appError.message);
      else rejectUpload(req, res, status, appError.code, appError.message);
    }
  });
  return router;
}
