/**
 * Job-owned copies of input images. A presigned upload URL can be used again until it expires,
 * so the object a client names may change after its job was accepted; the job therefore keeps
 * the exact bytes that were validated under a key of its own, and reads and shows those.
 */
import type { InputRole } from '../queue/job-queue.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { CheckedImage } from './input-checks.js';
import { inputCopyKey } from '../storage/object-key.js';

const EXTENSIONS: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/webp': 'webp',
};

/**
 * Stores each checked image under a fresh key in the tenant's space, with the content type the
 * original had (never one derived from the bytes: the API serves these objects).
 * @returns role → the copy's key
 * @throws AppError STORAGE_UNAVAILABLE; copies already written are removed first
 */
export async function copyInputs(
  store: ObjectStore,
  tenant: string,
  images: { role: InputRole; image: CheckedImage }[],
): Promise<Partial<Record<InputRole, string>>> {
  const copies = images.map(({ role, image }) => ({
    role,
    image,
    key: inputCopyKey(tenant, role, EXTENSIONS[image.contentType] ?? 'bin'),
  }));
  const written = await Promise.allSettled(
    copies.map(({ key, image }) => store.put(key, image.bytes, { contentType: image.contentType })),
  );
  const failure = written.find((result) => result.status === 'rejected');
  if (failure) {
    await dropInputCopies(store, { ...Object.fromEntries(copies.map((c) => [c.role, c.key])) });
    throw failure.reason;
  }
  return Object.fromEntries(copies.map(({ role, key }) => [role, key]));
}

/** Best effort: copies of a job that was not created (refused, or an idempotent repeat). */
export async function dropInputCopies(
  store: ObjectStore,
  copies: Partial<Record<InputRole, string>>,
): Promise<void> {
  await Promise.allSettled(Object.values(copies).map((key) => store.delete(key)));
}
