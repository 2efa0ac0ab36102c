import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAppError } from '../../src/errors.js';
import { createObjectStore } from '../../src/storage/create-object-store.js';
import { fsObjectRouter } from '../../src/storage/fs-object-router.js';
import { FsObjectStore } from '../../src/storage/fs-object-store.js';
import { startS3Server } from '../support/s3-server.js';
import { describeObjectStore, type StoreHarness } from './storage.suite.js';

/** An fs store in a temp dir, served by a bare express app on an ephemeral port. */
async function startFsHarness(
  maxUploadBytes?: number,
): Promise<StoreHarness & { store: FsObjectStore; rootDir: string; baseUrl: string }> {
  const rootDir = await mkdtemp(path.join(tmpdir(), 'hita-fs-store-'));
  const store = createObjectStore({
    kind: 'fs',
    rootDir,
    signingSecret: 'test-secret',
    ...(maxUploadBytes ? { maxUploadBytes } : {}),
  });
  if (!(store instanceof FsObjectStore)) throw new Error('createObjectStore ignored kind fs');
  await store.start();
  const app = express();
  app.use('/objects', fsObjectRouter(store));
  const server: Server = await new Promise((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = async (): Promise<void> => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(rootDir, { recursive: true, force: true });
  };
  return { store, rootDir, baseUrl, close };
}

describeObjectStore('fs store', () => startFsHarness());

describeObjectStore('s3 store', async () => {
  const startedAt = Date.now();
  let server: Awaited<ReturnType<typeof startS3Server>>;
  try {
    server = await startS3Server();
  } catch (err) {
    return { skip: (err as Error).message };
  }
  if (server === null) {
    return {
      skip: 'Swift is not installed (apt-get install -y --no-install-recommends swift swift-proxy swift-account swift-container swift-object)',
    };
  }
  console.log(
    `s3 store: Swift s3api started in ${((Date.now() - startedAt) / 1000).toFixed(1)} s at ${server.endPoint}`,
  );
  const { endPoint, accessKey, secretKey } = server;
  const store = createObjectStore({
    kind: 's3',
    endPoint,
    accessKey,
    secretKey,
    bucket: `hita-test-${randomBytes(4).toString('hex')}`,
  });
  try {
    await store.start();
    await store.start(); // the bucket now exists: start() must accept that
  } catch (err) {
    await server.stop();
    throw err;
  }
  return { store, close: () => server.stop() };
});

describe('s3 store without a server', () => {
  it('reports STORAGE_UNAVAILABLE, retryable, when nothing listens', async () => {
    const store = createObjectStore({
      kind: 's3',
      endPoint: 'http://127.0.0.1:9',
      accessKey: 'a',
      secretKey: 'b',
      bucket: 'nowhere',
    });
    const err: unknown = await store.get('some/key').catch((e: unknown) => e);
    expect(
      isAppError(err) && err.code === 'STORAGE_UNAVAILABLE' && err.retryable,
      String(err),
    ).toBe(true);
  });
});

describe('fs store specifics', () => {
  let fs: Awaited<ReturnType<typeof startFsHarness>>;
  const maxUploadBytes = 64 * 1024;
  beforeAll(async () => {
    fs = await startFsHarness(maxUploadBytes);
  });
  afterAll(async () => {
    await fs.close();
  });

  /** Every file under rootDir, so a test can prove that nothing (not even a temp file) was left. */
  async function filesOnDisk(): Promise<string[]> {
    const entries = await readdir(fs.rootDir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => e.name);
  }

  it('a concurrent reader sees the object absent or complete, never partial', async () => {
    const key = 'concurrent/big.bin';
    const size = 8 * 1024 * 1024;
    let isWriting = true;
    let reads = 0;
    const writer = (async () => {
      for (let version = 1; version <= 6; version++) {
        await fs.store.put(key, Buffer.alloc(size, version), {
          contentType: 'application/octet-stream',
        });
      }
      isWriting = false;
    })();
    const reader = async (): Promise<void> => {
      while (isWriting) {
        const body = await fs.store.get(key).catch((err: unknown) => {
          if (isAppError(err) && err.code === 'NOT_FOUND') return null;
          throw err;
        });
        if (body !== null) {
          expect(body.length).toBe(size);
          // One version throughout: the first and last byte match, and so does every byte between.
          expect(body.equals(Buffer.alloc(size, body[0]!))).toBe(true);
          reads++;
        }
        expect(await fs.store.list('concurrent/')).toEqual(reads === 0 ? expect.any(Array) : [key]);
      }
    };
    await Promise.all([writer, reader(), reader()]);
    expect(reads).toBeGreaterThan(0);
    expect((await fs.store.get(key))[0]).toBe(6);
  }, 120_000);

  it('PUT over maxUploadBytes with a Content-Length is 413 and stores nothing', async () => {
    const before = await filesOnDisk();
    const url = await fs.store.presignPut('too/big-declared.bin', 60, fs.baseUrl);
    const response = await fetch(url, { method: 'PUT', body: randomBytes(maxUploadBytes + 1) });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({
      code: 'BAD_USER_INPUT',
      message: expect.stringMatching(/limit/),
    });
    expect(await fs.store.stat('too/big-declared.bin')).toBeNull();
    expect(await filesOnDisk()).toEqual(before);
  });

  it('a chunked PUT that grows past maxUploadBytes is 413 and stores nothing', async () => {
    const before = await filesOnDisk();
    const url = new URL(await fs.store.presignPut('too/big-chunked.bin', 60, fs.baseUrl));
    // No Content-Length, so the limit can only trip while streaming.
    const { status, body } = await new Promise<{ status: number; body: string }>(
      (resolve, reject) => {
        const req = request(
          url,
          { method: 'PUT', headers: { 'Transfer-Encoding': 'chunked' } },
          (res) => {
            let text = '';
            res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
          },
        );
        req.on('error', reject);
        for (let i = 0; i < 5; i++) req.write(randomBytes(maxUploadBytes / 4));
        req.end();
      },
    );
    expect(status).toBe(413);
    expect(JSON.parse(body)).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(await fs.store.stat('too/big-chunked.bin')).toBeNull();
    expect(await filesOnDisk()).toEqual(before);
  });

  it('GET answers with Cache-Control, ETag and 304 on If-None-Match; errors are JSON', async () => {
    await fs.store.put('http/a.txt', Buffer.from('abc'), {
      contentType: 'text/plain',
    });
    const url = await fs.store.presignGet('http/a.txt', 300, fs.baseUrl);
    const response = await fetch(url);
    expect(response.headers.get('content-type')).toBe('text/plain'); // as stored: no charset added
    expect(response.headers.get('cache-control')).toMatch(/^private, max-age=(29\d|300)$/);
    const etag = response.headers.get('etag');
    expect(etag).toMatch(/^".+"$/);
    expect((await fetch(url, { headers: { 'If-None-Match': etag! } })).status).toBe(304);
    const missing = await fetch(await fs.store.presignGet('http/missing.txt', 60, fs.baseUrl));
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: 'NOT_FOUND' });
    const unsigned = await fetch(`${fs.baseUrl}/objects/http/a.txt`);
    expect(unsigned.status).toBe(403);
    expect(await unsigned.json()).toMatchObject({
      code: 'FORBIDDEN',
      message: expect.stringMatching(/^signature/),
    });
  });

  it('a key cannot be both an object and a prefix (CONFLICT), unlike on S3', async () => {
    await fs.store.put('nest/inner', Buffer.from('1'), { contentType: 'text/plain' });
    const err: unknown = await fs.store
      .put('nest', Buffer.from('2'), { contentType: 'text/plain' })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CONFLICT' });
    expect(await fs.store.stat('nest')).toBeNull();
    expect(await fs.store.list('nest')).toEqual(['nest/inner']);
    await expect(
      fs.store.put('nest/inner/deeper', Buffer.from('3'), { contentType: 'text/plain' }),
    ).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('a PUT signed for one content type refuses another', async () => {
    const url = await fs.store.presignPut('typed/image.png', 60, fs.baseUrl, {
      contentType: 'image/png',
    });
    const wrong = await fetch(url, {
      method: 'PUT',
      body: 'x',
      headers: { 'Content-Type': 'text/html' },
    });
    expect(wrong.status).toBe(403);
    expect(await fs.store.stat('typed/image.png')).toBeNull();
  });
});
