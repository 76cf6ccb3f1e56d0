/**
 * InvalidationHub: after a key changes (update, revoke, rotate, disable, enable), drops it from this process's
 * verification cache and tells every listener (the cross-instance channels: Redis pub/sub,
 * Postgres LISTEN/NOTIFY), so other instances drop it too. A failing listener never fails the
 * management call: the revocation bound (`maxStaleness`, kept by `Freshness`) still holds. Channels
 * attach here for that bound, and `stats()` reports their health.
 */
import type { ChannelLink, ChannelPeer } from "../core/invalidation.js";
import type { KeywardEvent } from "./events.js";
import { Freshness } from "./freshness.js";
import type { ChannelStats } from "./results.js";
import type { VerifyCache } from "./verify-cache.js";

/** One KeyManager's invalidation fan-out. */
export class InvalidationHub {
  private readonly listeners = new Set<(id: string) => void>();
  private readonly freshness: Freshness;

  constructor(
    private readonly cache: Pick<VerifyCache<never>, "invalidateHash" | "invalidateId" | "clear" | "vouchedUntil">,
    maxStalenessMs: number,
    clock: () => number,
    emit: (event: KeywardEvent) => void,
  ) {
    this.freshness = new Freshness(cache, maxStalenessMs, clock, emit);
  }

  /** Attaches a cross-instance channel: its heartbeats vouch for cache entries older than `maxStaleness`. */
  attach(peer: ChannelPeer): ChannelLink {
    return this.freshness.attach(peer);
  }

  /** The channels' health and measured lag. */
  stats(): ChannelStats {
    return this.freshness.stats();
  }

  /** Drops a key id's cached entries, or everything (a remote change). */
  drop(id?: string): void {
    if (id === undefined) this.cache.clear();
    else this.cache.invalidateId(id);
  }

  /** Adds a listener; returns the function that removes it. */
  on(listener: (id: string) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Drops a changed key (by hash when known, else by id) and, unless `announce` is false, announces its id. */
  changed(key: { readonly id: string; readonly hash: string | null }, announce = true): void {
    if (key.hash !== null) this.cache.invalidateHash(key.hash);
    else this.cache.invalidateId(key.id);
    if (!announce) return; // a new key: only a cached "unknown" verdict for its hash, here, can be stale
    for (const listener of this.listeners) {
      try {
        listener(key.id);
      } catch {
        /* ignored: see the header */
      }
    }
  }
}
