/**
 * The ObjectStore conformance suite: written once, run over every store (storage.test.ts), so that
 * callers cannot tell the fs store from the S3 one.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAppError } from '../../src/errors.js';
import type { ObjectStore } from '../../src/storage/object-store.js';

/** A started store plus what its presigned URLs need. */
export interface StoreHarness {
  store: ObjectStore;
  /** The API origin passed to presign* (the fs store's URLs point at it). */
  baseUrl?: string;
  close(): Promise<void>;
}

/**
 * Starts a harness. A store whose service is missing is not registered at all: the caller gates
 * it with requireService (test/support/require-service.ts: SKIP locally, failing under CI=true).
 */
export type StoreFactory = () => Promise<StoreHarness>;

async function expectAppError(promise: Promise<unknown>, code: string): Promise<void> {
  const err: unknown = await promise.then(
    () => new Error('expected a rejection'),
    (e: unknown) => e,
  );
  expect(isAppError(err), String(err)).toBe(true);
  expect(err).toMatchObject({ code });
}

/** Runs the conformance suite over one store ("s3 store"). */
export function describeObjectStore(name: string, factory: StoreFactory): void {
  describe(name, () => {
    let harness: StoreHarness | undefined;
    // Unique per run so that a reused bucket or directory never leaks objects between runs.
    const root = `conformance-${randomBytes(4).toString('hex')}`;
    let store: ObjectStore;
    let baseUrl: string | undefined;

    beforeAll(async () => {
      const made = await factory();
      harness = made;
      ({ store, baseUrl } = made);
    }, 180_000);

    afterAll(async () => {
      await harness?.store.close();
      await harness?.store.close(); // close() is idempotent
      await harness?.close();
    });

    const test = (title: string, body: () => Promise<void>, timeoutMs?: number): void => {
      it(title, body, timeoutMs);
    };

    test('put, get, stat, list and delete round-trip', async () => {
      const key = `${root}/round/trip.txt`;
      await store.put(key, Buffer.from('hello'), { contentType: 'text/plain' });
      expect((await store.get(key)).toString()).toBe('hello');
      const info = await store.stat(key);
      expect(info).toMatchObject({ key, size: 5, contentType: 'text/plain', metadata: {} });
      expect(info?.lastModified).toBeInstanceOf(Date);
      expect(Math.abs(Date.now() - info!.lastModified.getTime())).toBeLessThan(120_000);
      expect(await store.list(`${root}/round/`)).toEqual([key]);
      await store.delete(key);
      expect(await store.stat(key)).toBeNull();
      expect(await store.list(`${root}/round/`)).toEqual([]);
      await store.delete(key); // absent keys are fine
    });

    test('metadata round-trips, unicode and edge spaces included', async () => {
      const key = `${root}/meta.png`;
      const metadata = {
        'job-id': 'j-42',
        seed: '7',
        params: '{"prompt":"a ☃ in the snow","cfg":4}',
        note: ' padded ',
        empty: '',
        longest: 'v'.repeat(256), // the per-value limit, which Swift enforces too
      };
      await store.put(key, Buffer.from([1, 2, 3]), { contentType: 'image/png', metadata });
      expect(await store.stat(key)).toMatchObject({ contentType: 'image/png', metadata });
    });

    test('binary bodies come back byte-exact', async () => {
      const key = `${root}/binary.bin`;
      const body = Buffer.concat([
        Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
        randomBytes(300_000),
      ]);
      await store.put(key, body, { contentType: 'application/octet-stream' });
      expect((await store.get(key)).equals(body)).toBe(true);
      expect((await store.stat(key))?.size).toBe(body.length);
    });

    test('keys with "+", spaces and unicode', async () => {
      const keys = [
        `${root}/odd/a+b.txt`,
        `${root}/odd/with space.txt`,
        `${root}/odd/ünï-☃-😀.txt`,
        `${root}/odd/100%.txt`,
      ];
      for (const key of keys) await store.put(key, Buffer.from(key), { contentType: 'text/plain' });
      for (const key of keys) expect((await store.get(key)).toString()).toBe(key);
      expect(await store.list(`${root}/odd/`)).toEqual([...keys].sort());
      for (const key of keys) {
        const response = await fetch(await store.presignGet(key, 60, baseUrl));
        expect(response.status, key).toBe(200);
        expect(await response.text()).toBe(key);
      }
      expect(await store.stat(`${root}/odd/a b.txt`)).toBeNull(); // "+" is not a space
    });

    test('put overwrites body, content type and metadata', async () => {
      const key = `${root}/overwrite`;
      await store.put(key, Buffer.from('first version'), {
        contentType: 'text/plain',
        metadata: { v: '1' },
      });
      await store.put(key, Buffer.from('2nd'), {
        contentType: 'application/json',
        metadata: { w: '2' },
      });
      expect((await store.get(key)).toString()).toBe('2nd');
      expect(await store.stat(key)).toMatchObject({
        size: 3,
        contentType: 'application/json',
        metadata: { w: '2' },
      });
    });

    test('get of a missing key is NOT_FOUND; stat is null', async () => {
      await expectAppError(store.get(`${root}/missing`), 'NOT_FOUND');
      expect(await store.stat(`${root}/missing`)).toBeNull();
    });

    test('invalid keys and metadata are BAD_USER_INPUT', async () => {
      const body = Buffer.from('x');
      for (const key of [
        '',
        '../escape',
        'a/../b',
        '/absolute',
        'back\\slash',
        'a//b',
        'nul\0',
        'k'.repeat(513),
      ]) {
        await expectAppError(store.put(key, body, { contentType: 'text/plain' }), 'BAD_USER_INPUT');
        await expectAppError(store.get(key), 'BAD_USER_INPUT');
      }
      await expectAppError(
        store.put(`${root}/m`, body, { contentType: 'text/plain', metadata: { Upper: 'x' } }),
        'BAD_USER_INPUT',
      );
      await expectAppError(
        store.put(`${root}/m`, body, {
          contentType: 'text/plain',
          metadata: { big: 'x'.repeat(257) },
        }),
        'BAD_USER_INPUT',
      );
      const manyValues = Object.fromEntries(
        Array.from({ length: 10 }, (_, i) => [`m${i}`, 'x'.repeat(250)]),
      );
      await expectAppError(
        store.put(`${root}/m`, body, { contentType: 'text/plain', metadata: manyValues }),
        'BAD_USER_INPUT',
      );
      await expectAppError(store.list('../'), 'BAD_USER_INPUT');
    });

    test('list filters by prefix, partial segments included, and sorts', async () => {
      const keys = [
        `${root}/list/b/2`,
        `${root}/list/a`,
        `${root}/list/ba/1`,
        `${root}/list/b/1`,
        `${root}/list/c`,
        `${root}/listing`,
      ];
      for (const key of keys) await store.put(key, Buffer.from('.'), { contentType: 'text/plain' });
      const under = keys.filter((k) => k.startsWith(`${root}/list/`)).sort();
      expect(await store.list(`${root}/list/`)).toEqual(under);
      expect(await store.list(`${root}/list/b`)).toEqual([
        `${root}/list/b/1`,
        `${root}/list/b/2`,
        `${root}/list/ba/1`,
      ]);
      expect(await store.list(`${root}/list`)).toEqual([...under, `${root}/listing`]);
      expect(await store.list(`${root}/nothing/`)).toEqual([]);
    });

    test('browse answers one level: objects with size and lastModified, and sub-prefixes', async () => {
      const base = `${root}/level/`;
      const put = (key: string) =>
        store.put(key, Buffer.from('abc'), { contentType: 'text/plain' });
      await put(`${base}b.txt`);
      await put(`${base}a.txt`);
      await put(`${base}t/one/uploads/x.png`);
      await put(`${base}t/two/jobs/j/0.png`);
      await put(`${base}gone/only.txt`);
      await store.delete(`${base}gone/only.txt`); // nothing below it now: no prefix
      const level = await store.browse(base);
      expect(level.objects.map((o) => [o.key, o.size])).toEqual([
        [`${base}a.txt`, 3],
        [`${base}b.txt`, 3],
      ]);
      for (const { lastModified } of level.objects)
        expect(Math.abs(Date.now() - lastModified.getTime())).toBeLessThan(120_000);
      expect(level.prefixes).toEqual([`${base}t/`]);
      expect((await store.browse(`${base}t/`)).prefixes).toEqual([
        `${base}t/one/`,
        `${base}t/two/`,
      ]);
      expect((await store.browse(`${base}t/one/uploads/`)).objects.map((o) => o.key)).toEqual([
        `${base}t/one/uploads/x.png`,
      ]);
      expect(await store.browse(`${base}none/`)).toEqual({ objects: [], prefixes: [] });
      await expectAppError(store.browse(`${base}partial`), 'BAD_USER_INPUT');
    });

    test('a presigned GET serves the bytes', async () => {
      const key = `${root}/presigned/get.bin`;
      const body = randomBytes(50_000);
      await store.put(key, body, { contentType: 'image/webp' });
      const response = await fetch(await store.presignGet(key, 60, baseUrl));
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('image/webp');
      expect(Buffer.from(await response.arrayBuffer()).equals(body)).toBe(true);
    });

    test('a presigned PUT stores the bytes', async () => {
      const key = `${root}/presigned/put.png`;
      const body = randomBytes(40_000);
      const url = await store.presignPut(key, 60, baseUrl, { contentType: 'image/png' });
      const response = await fetch(url, {
        method: 'PUT',
        body,
        headers: { 'Content-Type': 'image/png' },
      });
      expect(response.status, await response.clone().text()).toBe(200);
      expect((await store.get(key)).equals(body)).toBe(true);
      expect((await store.stat(key))?.contentType).toBe('image/png');
    });

    test('an expired presigned URL is rejected', async () => {
      const key = `${root}/presigned/expiring`;
      await store.put(key, Buffer.from('soon gone'), { contentType: 'text/plain' });
      const getUrl = await store.presignGet(key, 1, baseUrl);
      const putUrl = await store.presignPut(`${root}/presigned/late-put`, 1, baseUrl);
      await sleep(2_500);
      const got = await fetch(getUrl);
      expect(got.status).toBe(403);
      expect(await got.text()).toMatch(/expired/i);
      const put = await fetch(putUrl, { method: 'PUT', body: 'late' });
      expect(put.status).toBe(403);
      expect(await store.stat(`${root}/presigned/late-put`)).toBeNull();
    });

    test('a tampered presigned URL is rejected', async () => {
      const key = `${root}/presigned/secret-a`;
      await store.put(key, Buffer.from('a'), { contentType: 'text/plain' });
      await store.put(`${root}/presigned/secret-b`, Buffer.from('b'), {
        contentType: 'text/plain',
      });
      const url = await store.presignGet(key, 60, baseUrl);
      const otherKey = url.replace('secret-a', 'secret-b');
      const signature = /(signature|Signature)=([0-9a-f]+)/.exec(url);
      expect(signature).not.toBeNull();
      const flipped = signature![2]!.startsWith('0')
        ? `1${signature![2]!.slice(1)}`
        : `0${signature![2]!.slice(1)}`;
      const otherSignature = url.replace(signature![0], `${signature![1]}=${flipped}`);
      for (const tampered of [otherKey, otherSignature]) {
        expect(tampered).not.toBe(url);
        expect((await fetch(tampered)).status, tampered).toBe(403);
      }
      const putUrl = await store.presignPut(`${root}/presigned/put-a`, 60, baseUrl);
      const wrongPut = await fetch(putUrl.replace('put-a', 'put-b'), {
        method: 'PUT',
        body: 'sneaky',
      });
      expect(wrongPut.status).toBe(403);
      expect(await store.stat(`${root}/presigned/put-b`)).toBeNull();
    });
  });
}
