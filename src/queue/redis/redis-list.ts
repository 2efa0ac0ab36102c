/**
 * Tenant listing on Redis: the tenant index is a sorted set whose members all score 0 and read
 * `<createdAt, 15 digits>:<id>`, so ZREVRANGEBYLEX walks it newest first and a cursor is an
 * exclusive lexical bound. Filters are applied to the fetched records, a batch at a time.
 */
import type { Redis } from 'ioredis';
import type { JobFilter, JobPage, JobRecord } from '../job-queue.js';
import { decodeCursor, encodeCursor, validatePageSize } from '../list-cursor.js';
import { hashToRecord, tenantMember, type RedisKeys } from './redis-records.js';

/** @throws AppError BAD_USER_INPUT for a bad `first` or `after` */
export async function listTenantJobs(
  redis: Redis,
  keys: RedisKeys,
  tenant: string,
  options: { first: number; after?: string; filter?: JobFilter },
): Promise<JobPage> {
  const { first, filter } = options;
  validatePageSize(first);
  const after = options.after === undefined ? null : decodeCursor(options.after);
  let bound = after ? `(${tenantMember(after.createdAtMs, after.id)}` : '+';
  const matches: JobRecord[] = [];
  const batch = Math.min(Math.max(first + 1, 50), 1000);
  // One more match than asked tells whether a next page exists.
  while (matches.length <= first) {
    const members = await redis.zrevrangebylex(keys.tenant(tenant), bound, '-', 'LIMIT', 0, batch);
    if (members.length === 0) break;
    const pipeline = redis.pipeline();
    for (const member of members) pipeline.hgetall(keys.job(member.slice(16)));
    const replies = (await pipeline.exec()) ?? [];
    for (const [, hash] of replies) {
      const fields = hash as Record<string, string> | null;
      // A job deleted by retention between the two reads is simply not listed.
      if (!fields?.id) continue;
      const job = hashToRecord(fields);
      if (filter?.status && !filter.status.includes(job.status)) continue;
      if (filter?.kind && !filter.kind.includes(job.kind)) continue;
      matches.push(job);
    }
    bound = `(${members.at(-1) ?? ''}`;
    if (members.length < batch) break;
  }
  const jobs = matches.slice(0, first);
  const last = jobs.at(-1);
  return {
    jobs,
    endCursor: last ? encodeCursor(Date.parse(last.createdAt), last.id) : null,
    hasNextPage: matches.length > first,
  };
}
