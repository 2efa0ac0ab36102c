/**
 * Previews over Redis pub/sub (`<prefix>:previews`), never a stream or a key: a worker in any
 * process publishes, every API process hears. A message lost in a reconnect is lost for good,
 * which is what a preview may be (the next one supersedes it).
 */
import { Redis } from 'ioredis';
import { tell } from '../event-listeners.js';
import {
  parsePreviewMessage,
  type PreviewChannel,
  type PreviewMessage,
} from '../preview-channel.js';

export interface RedisPreviewChannelOptions {
  redisUrl: string;
  /** The queue's key prefix; the channel is `<prefix>:previews`. @default 'hita' */
  prefix?: string;
}

export class RedisPreviewChannel implements PreviewChannel {
  private readonly redisUrl: string;
  private readonly channel: string;
  private readonly listeners = new Set<(message: PreviewMessage) => void>();
  private connections: { publisher: Redis; subscriber: Redis } | null = null;
  private closing: Promise<void> | null = null;

  constructor(options: RedisPreviewChannelOptions) {
    this.redisUrl = options.redisUrl;
    this.channel = `${options.prefix ?? 'hita'}:previews`;
  }

  /** Resolves once subscribed, so no preview published after it is missed. */
  async start(): Promise<void> {
    if (this.connections) return;
    // Publishes fail fast while Redis is away (a preview is not worth queueing for later).
    const publisher = new Redis(this.redisUrl, { lazyConnect: true, enableOfflineQueue: false });
    publisher.on('error', () => undefined);
    await publisher.connect();
    const subscriber = new Redis(this.redisUrl, { lazyConnect: true });
    subscriber.on('error', () => undefined);
    subscriber.on('message', (_channel: string, raw: string) => this.receive(raw));
    await subscriber.connect();
    await subscriber.subscribe(this.channel);
    this.connections = { publisher, subscriber };
  }

  async publish(message: PreviewMessage): Promise<void> {
    await this.connections?.publisher.publish(this.channel, JSON.stringify(message));
  }

  onPreview(listener: (message: PreviewMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      const connections = this.connections;
      this.connections = null;
      this.listeners.clear();
      if (!connections) return;
      await Promise.allSettled([connections.subscriber.quit(), connections.publisher.quit()]);
    })();
    return this.closing;
  }

  /** Anything on the channel that is not a well-formed, bounded preview is dropped. */
  private receive(raw: string): void {
    let message: PreviewMessage;
    try {
      message = parsePreviewMessage(JSON.parse(raw));
    } catch {
      return;
    }
    tell(this.listeners, message);
  }
}
