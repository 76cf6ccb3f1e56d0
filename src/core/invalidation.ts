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
  /** Where channels attach for the revocation bound (a KeyManager has it; other targets may not). */
  readonly invalidation?: {
    /** Attaches a channel: its heartbeats then vouch for cache entries older than `maxStaleness`. */
    attach(peer: ChannelPeer): ChannelLink;
  };
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

/**
 * What a channel hands the KeyManager it serves, to take part in the revocation bound: the
 * channel's origin (its own messages come back to it) and a function that publishes a heartbeat.
 *
 * @example
 * const link = keys.invalidation.attach({ origin, heartbeat: () => publish(formatInvalidation(origin, HEARTBEAT, Date.now())) });
 */
export interface ChannelPeer {
  /** This channel's random id, the `origin` of every message it sends. */
  readonly origin: string;
  /** Publishes one heartbeat (called every `maxStaleness / 3` while attached). */
  heartbeat(): void;
}

/**
 * What the KeyManager gives back to an attached channel: where to report what it hears.
 *
 * @example
 * subscriber.on("message", (_c, m) => { const p = parseInvalidation(m); if (p) link.heard(p.origin, p.sentAt); });
 */
export interface ChannelLink {
  /** A message from `origin`, sent at `sentAt` (the sender's wall clock, ms), or null for a message without one. */
  heard(origin: string, sentAt: number | null): void;
  /** `origin` closed its channel cleanly: stop waiting for its heartbeats. */
  left(origin: string): void;
  /** The listening connection dropped: nothing vouches for the cache until messages arrive again. */
  lost(): void;
  /** A publish failed: heartbeats pause for `maxStaleness`, so other instances stop trusting this one's silence. */
  publishFailed(): void;
  /** Detaches the channel. */
  close(): void;
}

/** The message id of a heartbeat (no key id is empty). */
export const HEARTBEAT = "";
/** The message id of a goodbye (a channel closing cleanly). */
export const GOODBYE = ".";

/** A channel message: `origin@sentAt|keyId` (`keyId` empty for a heartbeat, `.` for a goodbye). */
export function formatInvalidation(origin: string, id: string, sentAt: number): string {
  return `${origin}@${sentAt}|${id}`;
}

/** Splits a channel message `origin@sentAt|keyId` (or the older `origin|keyId`); null for a malformed one. */
export function parseInvalidation(message: string): { origin: string; id: string; sentAt: number | null } | null {
  const bar = message.indexOf("|");
  if (bar <= 0) return null;
  const head = message.slice(0, bar);
  const at = head.indexOf("@");
  const sentAt = at < 0 ? null : Number(head.slice(at + 1));
  if (at === 0 || (sentAt !== null && !Number.isFinite(sentAt))) return null;
  return { origin: at < 0 ? head : head.slice(0, at), id: message.slice(bar + 1), sentAt };
}
