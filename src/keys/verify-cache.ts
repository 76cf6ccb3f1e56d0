/**
 * VerifyCache: a bounded LRU of verified keys by hash, plus a bounded negative LRU of hashes the
 * store did not know, both with a TTL. An epoch counter closes the race where a store read that
 * began before an invalidation would put a stale record back into the cache afterwards.
 */
import { LRUCache } from "lru-cache";

/** Returned by {@link VerifyCache.get} for a hash known not to exist. */
export const UNKNOWN = Symbol("unknown-key");

/** A bounded, TTL'd cache of verification results. */
export class VerifyCache<V extends { readonly id: string }> {
  private readonly hits: LRUCache<string, V> | null;
  private readonly misses: LRUCache<string, true> | null;
  private generation = 0;

  /**
   * @param options.clock A custom clock for TTLs (the manager's, when it has one), else the
   * monotonic `performance.now`. `ttlResolution: 0` reads it on every check: no stale "now".
   */
  constructor(options: { max: number; ttlMs: number; unknownMax: number; clock?: () => number }) {
    const enabled = options.ttlMs > 0 && options.max > 0;
    const perf = options.clock ? { now: options.clock } : undefined;
    const base = { ttl: options.ttlMs, ttlResolution: 0, ...(perf ? { perf } : {}) };
    this.hits = enabled ? new LRUCache<string, V>({ max: options.max, ...base }) : null;
    this.misses = enabled && options.unknownMax > 0 ? new LRUCache<string, true>({ max: options.unknownMax, ...base }) : null;
  }

  /** The cached value, {@link UNKNOWN} for a cached miss, or undefined. */
  get(hash: string): V | typeof UNKNOWN | undefined {
    if (this.hits === null) return undefined;
    const hit = this.hits.get(hash);
    if (hit !== undefined) return hit;
    return this.misses?.get(hash) ? UNKNOWN : undefined;
  }

  /** The current epoch; pass it back to `set`/`setUnknown` after the store read. */
  epoch(): number {
    return this.generation;
  }

  /** Caches `value` unless something was invalidated since `epoch` was read. */
  set(hash: string, value: V, epoch: number): void {
    if (this.hits === null || epoch !== this.generation) return;
    this.misses?.delete(hash);
    this.hits.set(hash, value);
  }

  /** Remembers that the store has no key with `hash`, unless invalidated since `epoch`. */
  setUnknown(hash: string, epoch: number): void {
    if (this.misses === null || epoch !== this.generation) return;
    this.misses.set(hash, true);
  }

  /** Drops everything cached for `hash`. */
  invalidateHash(hash: string): void {
    this.generation++;
    this.hits?.delete(hash);
    this.misses?.delete(hash);
  }

  /** Drops the cached key with this id (a scan: invalidations are rare, lookups are not). */
  invalidateId(id: string): void {
    this.generation++;
    if (this.hits === null) return;
    for (const [hash, value] of this.hits.entries()) if (value.id === id) this.hits.delete(hash);
  }

  /** Drops everything. */
  clear(): void {
    this.generation++;
    this.hits?.clear();
    this.misses?.clear();
  }

  /** Entries held now: positive and negative. */
  get size(): { keys: number; unknown: number } {
    return { keys: this.hits?.size ?? 0, unknown: this.misses?.size ?? 0 };
  }
}
