/** The contract between a KeyManager and a cross-instance cache-invalidation channel (Redis, Postgres). */

/**
 * What a channel needs from a KeyManager: hear local changes, evict remote ones.
 *
 * @example
 * const channel = await redisInvalidation(keys, { publisher, subscriber }); // keys (a KeyManager) is the target
 */
export interface InvalidationTarget {
  /** Calls `listener` with the id of each key this instance changes; returns an unsubscribe function. */
  onInvalidate(listener: (id: string) => void): () => void;
  /** Drops a key from the cache (no id: everything). */
  invalidate(id?: string): void;
}

/**
 * A running invalidation channel.
 *
 * @example
 * const channel = await postgresInvalidation(keys, store);
 * await channel.close(); // on shutdown
 */
export interface InvalidationChannel {
  /** Stops publishing and listening (connections you passed in stay open). */
  close(): Promise<void>;
}

/** Splits a channel message `origin|keyId`; null for a malformed one. */
export function parseInvalidation(message: string): { origin: string; id: string } | null {
  const bar = message.indexOf("|");
  return bar <= 0 ? null : { origin: message.slice(0, bar), id: message.slice(bar + 1) };
}
