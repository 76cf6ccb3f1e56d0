/** The contract between a KeyManager and a cross-instance cache-invalidation channel (Redis, Postgres). */

/** What a channel needs from a KeyManager: hear local changes, evict remote ones. */
export interface InvalidationTarget {
  onInvalidate(listener: (id: string) => void): () => void;
  invalidate(id?: string): void;
}

/** A running invalidation channel. */
export interface InvalidationChannel {
  /** Stops publishing and listening (connections you passed in stay open). */
  close(): Promise<void>;
}

/** Splits a channel message `origin|keyId`; null for a malformed one. */
export function parseInvalidation(message: string): { origin: string; id: string } | null {
  const bar = message.indexOf("|");
  return bar <= 0 ? null : { origin: message.slice(0, bar), id: message.slice(bar + 1) };
}
