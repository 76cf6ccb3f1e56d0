/**
 * InvalidationHub: after a key changes (update, revoke, rotate, disable, enable), drops it from this process's
 * verification cache and tells every listener (the cross-instance channels: Redis pub/sub,
 * Postgres LISTEN/NOTIFY), so other instances drop it too. A failing listener never fails the
 * management call: the cache TTL still bounds staleness.
 */
import type { VerifyCache } from "./verify-cache.js";

/** One KeyManager's invalidation fan-out. */
export class InvalidationHub {
  private readonly listeners = new Set<(id: string) => void>();

  constructor(private readonly cache: Pick<VerifyCache<never>, "invalidateHash" | "invalidateId">) {}

  /** Adds a listener; returns the function that removes it. */
  on(listener: (id: string) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Drops a changed key (by hash when known, else by id) and announces its id. */
  changed(key: { readonly id: string; readonly hash: string | null }): void {
    if (key.hash !== null) this.cache.invalidateHash(key.hash);
    else this.cache.invalidateId(key.id);
    for (const listener of this.listeners) {
      try {
        listener(key.id);
      } catch {
        /* ignored: see the header */
      }
    }
  }
}
