import { randomUUID } from 'node:crypto';
import { errors } from '../errors.js';

/**
 * Object keys are scoped by tenant, then by job or upload, so a key names its owner and a tenant
 * can only ever reference its own objects.
 */
export function tenantPrefix(tenant: string): string {
  return `t/${tenant}/`;
}

export function uploadKey(tenant: string, extension: string): string {
  return `${tenantPrefix(tenant)}uploads/${randomUUID()}.${extension}`;
}

/**
 * Where a job keeps its own copy of an input image (`role`: image, mask, content, style): in the
 * tenant's space, under a fresh id, so no presigned upload URL can ever reach it.
 */
export function inputCopyKey(tenant: string, role: string, extension: string): string {
  return `${tenantPrefix(tenant)}inputs/${randomUUID()}/${role}.${extension}`;
}

/** Where every image of a job is stored (`outputKeys`), whichever attempt made it. */
export function jobOutputPrefix(tenant: string, jobId: string): string {
  return `${tenantPrefix(tenant)}jobs/${jobId}/`;
}

export function outputKeys(
  tenant: string,
  jobId: string,
  index: number,
  seed: number,
): { png: string; webp: string } {
  const base = `${jobOutputPrefix(tenant, jobId)}${index}-${seed}`;
  return { png: `${base}.png`, webp: `${base}.webp` };
}

/** @throws BAD_USER_INPUT when the key is not the tenant's (it reads as missing: no existence leak). */
export function requireOwnKey(tenant: string, key: string, field: string): string {
  if (!key.startsWith(tenantPrefix(tenant)) || key.includes('..')) {
    throw errors.badInput(
      field,
      `no object ${JSON.stringify(key)}: upload it first (createUpload)`,
    );
  }
  return key;
}
