/** Job ids and lease tokens: the random names both engines hand out. */
import { randomBytes } from 'node:crypto';

/** Ids one generator can count within one millisecond before it borrows the next one. */
const IDS_PER_MS = 0x1000;

/**
 * Makes UUIDv7-shaped ids (RFC 9562 §5.7) whose 12 `rand_a` bits count jobs within a
 * millisecond, so the ids of one generator sort like their creation order; `(createdAt, id)` list
 * order then matches enqueue order even for jobs created in the same millisecond. Each queue owns
 * one: ids of different generators (other processes, a queue opened again) order by time only.
 */
export class JobIdGenerator {
  private lastMs = -1;
  private counter = 0;

  /** @param nowMs the creation time (epoch ms); a clock that goes back reuses the last one. */
  next(nowMs: number): string {
    let ms = Math.max(Math.floor(nowMs), this.lastMs);
    if (ms === this.lastMs) {
      this.counter += 1;
      if (this.counter >= IDS_PER_MS) {
        ms += 1;
        this.counter = 0;
      }
    } else {
      this.counter = 0;
    }
    this.lastMs = ms;
    const bytes = randomBytes(16);
    bytes.writeUIntBE(ms, 0, 6);
    bytes[6] = 0x70 | (this.counter >> 8);
    bytes[7] = this.counter & 0xff;
    bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f);
    const hex = bytes.toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
}

/** A lease token: unguessable, so a stale worker cannot forge a newer claim. */
export function newLeaseToken(): string {
  return randomBytes(16).toString('base64url');
}
