/**
 * VerifyCache: a bounded LRU of verified keys by hash, plus a bounded negative LRU of hashes the
 * store did not know, both with a TTL. An epoch counter closes the race where a store read that
 * began before an invalidation would put a stale record back into the cache afterwards. TTLs are
 * checked against the time the caller passes in (the request's one clock read), so a hit reads no
 * clock of its own; an entry whose expiry lies more than a TTL ahead (the clock went back) is stale.
 * It also holds the store reads in flight by hash, so concurrent misses for one key share one read.
 * The revocation bound: an entry read from the store more than `maxStalenessMs` ago is served only
 * while `vouchedUntil` (set by the KeyManager's channel tracker, `freshness.ts`) lies ahead.
 */
import { LRUCache } from "lru-cache";

/** Returned by {@link VerifyCache.get} for a hash known not to exist. */
export const UNKNOWN = Symbol("unknown-key");

/** A cached value and when it stops being served. */
interface Entry<V> {
  readonly value: V;
  readonly until: number;
  /** Served after this (read start + maxStaleness) only while a channel vouches. */
  readonly bound: number;
}

/** A bounded, TTL'd cache of verification results. */
export class VerifyCache<V extends { readonly id: string }> {
  private readonly hits: LRUCache<string, Entry<V>> | null;
  /** Hashes the store did not know, each with when that verdict expires. */
  private readonly misses: LRUCache<string, Entry<true>> | null;
  private readonly ttl: number;
  private readonly staleMs: number;
  private generation = 0;
  /** Until when (the caller's clock) a healthy invalidation channel vouches for entries older than maxStaleness; -Infinity: none does. */
  vouchedUntil = -Infinity;
  /** Store reads in flight by hash (started in the current epoch), shared by concurrent misses. */
  private readonly reads = new Map<string, Promise<unknown>>();

  /**
   * @param options.ttlMs How long an entry is served, measured on the clock whose readings the
   * caller passes to `get`/`set` (the KeyManager's).
   * @param options.maxStalenessMs Age after which an entry needs {@link VerifyCache.vouchedUntil} ahead to be served. Defaults to the TTL.
   *
   * @example
   * const cache = new VerifyCache<{ id: string }>({ max: 10_000, ttlMs: 5000, unknownMax: 10_000 });
   * cache.set(hash, { id: "key_1" }, cache.epoch(), Date.now());
   * cache.get(hash, Date.now()); // { id: "key_1" } for the next 5 s
   */
  constructor(options: { max: number; ttlMs: number; unknownMax: number; maxStalenessMs?: number }) {
    const enabled = options.ttlMs > 0 && options.max > 0;
    this.ttl = options.ttlMs;
    this.staleMs = options.maxStalenessMs ?? options.ttlMs;
    this.hits = enabled ? new LRUCache<string, Entry<V>>({ max: options.max }) : null;
    this.misses = enabled && options.unknownMax > 0 ? new LRUCache<string, Entry<true>>({ max: options.unknownMax }) : null;
  }

  /** The value cached for `hash` at time `now`, {@link UNKNOWN} for a cached miss, or undefined. */
  get(hash: string, now: number): V | typeof UNKNOWN | undefined {
    const hit = this.live(this.hits, hash, now);
    if (hit !== undefined) return hit.value;
    return this.live(this.misses, hash, now) === undefined ? undefined : UNKNOWN;
  }

  /**
   * `lru`'s entry for `hash` if it may be served at `now`: not past its expiry, and not more than a
   * TTL before it (the clock went back), and not older than maxStaleness unless a channel vouches
   * (one field read and compare on a hit). An entry that may not is dropped (a lone one is replaced).
   */
  private live<T>(lru: LRUCache<string, Entry<T>> | null, hash: string, now: number): Entry<T> | undefined {
    const entry = lru?.get(hash);
    if (entry === undefined) return undefined;
    const left = entry.until - now;
    if (left >= 0 && left <= this.ttl && (now <= entry.bound || now < this.vouchedUntil)) return entry;
    // lru-cache's delete of its last entry clears the whole cache (refilling its `max`-slot arrays):
    // a lone entry is left for the store read's `set` to replace (it is never served meanwhile).
    if (lru!.size > 1) lru!.delete(hash);
    return undefined;
  }

  /** The current epoch; pass it back to `set`/`setUnknown` after the store read. */
  epoch(): number {
    return this.generation;
  }

  /** Caches `value` from `now` for the TTL, unless something was invalidated since `epoch` was read. */
  set(hash: string, value: V, epoch: number, now: number): void {
    if (this.hits === null || epoch !== this.generation) return;
    this.misses?.delete(hash);
    this.hits.set(hash, { value, until: now + this.ttl, bound: now + this.staleMs });
  }

  /** Remembers from `now` for the TTL that the store has no key with `hash`, unless invalidated since `epoch`. */
  setUnknown(hash: string, epoch: number, now: number): void {
    if (this.misses === null || epoch !== this.generation) return;
    this.misses.set(hash, { value: true, until: now + this.ttl, bound: now + this.staleMs });
  }

  /**
   * The store read in flight for `hash`, started in the current epoch, or undefined. A read that
   * began before an invalidation is not shared: whoever comes after it reads afresh.
   */
  inflight<R>(hash: string): Promise<R> | undefined {
    return this.reads.get(hash) as Promise<R> | undefined;
  }

  /** Shares `read` with later misses for `hash` until it settles (or the next invalidation). */
  share<R>(hash: string, read: Promise<R>): void {
    this.reads.set(hash, read);
    const done = () => {
      if (this.reads.get(hash) === read) this.reads.delete(hash);
    };
    read.then(done, done);
  }

  /** Drops everything cached for `hash`. */
  invalidateHash(hash: string): void {
    this.generation++;
    this.reads.clear();
    this.hits?.delete(hash);
    this.misses?.delete(hash);
  }

  /** Drops the cached key with this id (a scan: invalidations are rare, lookups are not). */
  invalidateId(id: string): void {
    this.generation++;
    this.reads.clear();
    if (this.hits === null) return;
    for (const [hash, entry] of this.hits.entries()) if (entry.value.id === id) this.hits.delete(hash);
  }

  /** Drops everything. */
  clear(): void {
    this.generation++;
    this.reads.clear();
    this.hits?.clear();
    this.misses?.clear();
  }

  /** Entries held now: positive and negative. */
  get size(): { keys: number; unknown: number } {
    return { keys: this.hits?.size ?? 0, unknown: this.misses?.size ?? 0 };
  }
}
