import { Repeater, SlidingBuffer } from '@repeaterjs/repeater';

/**
 * Live values by topic (a job id, a tenant), fanned out to any number of subscribers. Each topic
 * is one Map entry holding its subscribers' push functions: publishing is one lookup and one push
 * per subscriber, and no EventTarget listener is added per subscription (Node warns
 * MaxListenersExceededWarning past 10 on one event type, and a busy tenant has thousands).
 */
export class TopicFanout<T> {
  private readonly topics = new Map<string, Set<(value: T) => Promise<unknown>>>();
  private readonly bufferSize: number;

  /**
   * @param bufferSize Live values held per slow subscriber before its oldest are dropped (a slow
   * client must never stall publishing; resumable streams refill the gap from durable state).
   * @default 1024
   */
  constructor(bufferSize = 1024) {
    this.bufferSize = bufferSize;
  }

  /** Hands `value` to every current subscriber of `topic`; never blocks. */
  publish(topic: string, value: T): void {
    const subscribers = this.topics.get(topic);
    if (!subscribers) return;
    for (const push of subscribers) void push(value);
  }

  /**
   * A live stream of `topic`. Like every repeater it starts lazily: the subscriber is attached by
   * the first `next()`, and detached by `return()` (or when the consumer stops iterating).
   */
  subscribe(topic: string): AsyncGenerator<T> {
    return new Repeater<T>(async (push, stop) => {
      let subscribers = this.topics.get(topic);
      if (!subscribers) {
        subscribers = new Set();
        this.topics.set(topic, subscribers);
      }
      subscribers.add(push);
      await stop;
      subscribers.delete(push);
      // Topics come and go with jobs: an empty one must not stay in the map.
      if (subscribers.size === 0 && this.topics.get(topic) === subscribers)
        this.topics.delete(topic);
    }, new SlidingBuffer(this.bufferSize));
  }

  /** Subscribers of `topic` now (all topics when absent); for tests and metrics. */
  subscriberCount(topic?: string): number {
    if (topic !== undefined) return this.topics.get(topic)?.size ?? 0;
    let total = 0;
    for (const subscribers of this.topics.values()) total += subscribers.size;
    return total;
  }
}
