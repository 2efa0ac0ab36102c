/**
 * Parsed and validated documents by query string, for the transports that parse themselves
 * (graphql-ws, graphql-sse), as Apollo's document store does on HTTP: validation with the limit
 * rules costs a few hundred microseconds, an operation's whole guard a few. Bounded by the query
 * text it holds, least recently used out first, so distinct documents sent by a client only
 * push each other out.
 */
import type { DocumentNode } from 'graphql';

export interface DocumentCacheOptions {
  /**
   * Characters of query text the cached documents may hold together; their ASTs take some tens of
   * bytes per character (locations and tokens included).
   * @default 1_048_576 (1 MiB of text)
   */
  maxQueryChars?: number;
  /**
   * Longest query cached; a longer one is parsed and validated every time.
   * @default 65_536
   */
  maxQueryLength?: number;
}

/** An LRU of valid documents. Only documents that passed validation belong in it. */
export class DocumentCache {
  private readonly maxQueryChars: number;
  private readonly maxQueryLength: number;
  // A Map iterates in insertion order: re-inserting on a hit makes its first key the eldest.
  private readonly documents = new Map<string, DocumentNode>();
  private heldChars = 0;

  constructor(options: DocumentCacheOptions = {}) {
    const { maxQueryChars = 1_048_576, maxQueryLength = 65_536 } = options;
    this.maxQueryChars = maxQueryChars;
    this.maxQueryLength = Math.min(maxQueryLength, maxQueryChars);
  }

  /** Characters of query text held now (at most `maxQueryChars`). */
  get size(): number {
    return this.heldChars;
  }

  get(query: string): DocumentNode | undefined {
    const document = this.documents.get(query);
    if (document) {
      this.documents.delete(query);
      this.documents.set(query, document);
    }
    return document;
  }

  /** Keeps `document` for `query`, dropping the least recently used ones past the bound. */
  set(query: string, document: DocumentNode): void {
    if (query.length > this.maxQueryLength) return;
    if (this.documents.delete(query)) this.heldChars -= query.length;
    this.documents.set(query, document);
    this.heldChars += query.length;
    for (const eldest of this.documents.keys()) {
      if (this.heldChars <= this.maxQueryChars) break;
      this.documents.delete(eldest);
      this.heldChars -= eldest.length;
    }
  }
}
