/**
 * Authenticator: finds the key for a secret. The verification cache first (by hash), then on a
 * miss the format and checksum (no store read for a malformed key), then one store read shared by
 * concurrent misses; the record is compiled once per cache fill (scopes, limits, refusals) and its
 * status checked at the request's time. Synchronous whenever the cache or the store answers so.
 * The compiled key also carries its lifecycle header values (`Deprecation`, `Sunset`) and the
 * instant from which they apply, so a key not near its end costs the middleware one compare.
 */
import { KeywardError } from "../core/errors.js";
import type { SecretHasher } from "../core/hash.js";
import { keyIdTime } from "../core/ids.js";
import { type KeyFormat, MAX_CREDENTIAL_LENGTH } from "../core/key-format.js";
import { IpMatcher } from "../core/ip.js";
import { asStoreUnavailable, INVALID_KEY, keyDisabled, keyExpired, keyRevoked, MANAGER_CLOSED, storeUnavailable } from "../core/refusals.js";
import { ScopeSet } from "../core/scopes.js";
import type { AuthenticatedKey, MaybePromise, StoredKey } from "../core/types.js";
import type { ResolvedTier } from "./limits.js";
import { KeyMeter } from "./meter.js";
import { ScopeTally } from "./scope-tally.js";
import type { ManagerConfig } from "./options.js";
import { after, isPromise, type StoreCalls } from "./store-calls.js";
import { UNKNOWN, VerifyCache } from "./verify-cache.js";

/**
 * A verified key as held in the cache: the record, its compiled scopes and resolved limits.
 * Internal to keyward (not exported from the package entry).
 */
export interface VerifiedKey {
  /** The key's id. */
  readonly id: string;
  /** `user` or `project`. */
  readonly kind: StoredKey["kind"];
  /** The project a project key is bound to, else `null`. */
  readonly projectId: string | null;
  /** A user key's project allow-list. */
  readonly projects: readonly string[];
  /** The key's mode, or `null`. */
  readonly mode: string | null;
  /** The key's owner, or `null`. */
  readonly ownerId: string | null;
  /** Expiry (ms since the epoch), or `null`. */
  readonly expiresAt: number | null;
  /** Revocation time (ms since the epoch), or `null`. */
  readonly revokedAt: number | null;
  /** The key's scopes, compiled (implications applied). */
  readonly grant: ScopeSet;
  /** What `req.apiKey` shows for this key. */
  readonly principal: AuthenticatedKey;
  /** The counters of the key's current windows (rebuilt when a window turns over); null without limits. */
  readonly meter: KeyMeter | null;
  /** The refusal for this key once revoked, made once per cache fill, not per request. */
  readonly revokedError: KeywardError | null;
  /** The refusal for this key once expired, made once per cache fill, not per request. */
  readonly expiredError: KeywardError | null;
  /** From this instant (ms since the epoch) requests get {@link VerifiedKey.notice}'s headers; Infinity for never. */
  readonly noticeFrom: number;
  /** The lifecycle header values, when the key is in its rotation overlap or will expire. */
  readonly notice: LifecycleNotice | null;
  /** The refusal while the key is paused (`disable`), made once per cache fill; null while enabled. */
  readonly disabledError: KeywardError | null;
  /** The key's compiled IP allow-list; null for any address (one null check per request). */
  readonly ipAllow: IpMatcher | null;
  /** The key's scope uses since the last flush (mutable; counted by guards and scope checks). */
  readonly scopeTally: ScopeTally;
}

/** `Deprecation` (RFC 9745) and `Sunset` (RFC 8594) header values for a key nearing its end. */
export interface LifecycleNotice {
  /** `@<unix seconds>`: when the key became deprecated (rotated, or entered the warning window). */
  readonly deprecation: string;
  /** The HTTP-date from which the key stops working, or null (an overlap key without expiry). */
  readonly sunset: string | null;
}

/**
 * When and with what headers a key announces its end: a key in its rotation overlap (`rotatedTo`
 * set, not revoked) from its rotation time (encoded in the successor's id); a key with an expiry
 * from `warnMs` before it.
 */
export function lifecycleNotice(
  record: Pick<StoredKey, "expiresAt" | "revokedAt" | "rotatedTo">,
  warnMs: number,
): { from: number; notice: LifecycleNotice | null } {
  const sunset = record.expiresAt === null ? null : new Date(record.expiresAt).toUTCString();
  const seconds = (ms: number) => `@${Math.floor(ms / 1000)}`;
  if (record.rotatedTo !== null && record.revokedAt === null) {
    const rotatedAt = keyIdTime(record.rotatedTo) ?? 0;
    return { from: rotatedAt, notice: { deprecation: seconds(rotatedAt), sunset } };
  }
  if (record.expiresAt === null) return { from: Infinity, notice: null };
  const from = record.expiresAt - warnMs;
  return { from, notice: { deprecation: seconds(from), sunset } };
}

/**
 * The tier that applies to a key: its own, else the one `tierOf` resolves from its owner, else the
 * default tier; an unknown name falls back to the default tier.
 */
export function tierFor(config: ManagerConfig, record: Pick<StoredKey, "ownerId" | "tier">): MaybePromise<ResolvedTier | null> {
  const pick = (name: string | null | undefined): ResolvedTier | null => {
    const chosen = name ?? record.tier ?? config.defaultTier;
    if (chosen === null) return null;
    const tier = config.tiers.get(chosen);
    if (tier !== undefined) return tier;
    return config.defaultTier === null ? null : (config.tiers.get(config.defaultTier) ?? null);
  };
  if (record.tier !== null || !config.tierOf) return pick(null);
  const resolved = config.tierOf({ ownerId: record.ownerId, tier: record.tier });
  return isPromise(resolved) ? resolved.then(pick) : pick(resolved);
}

/** Finds and checks keys for one KeyManager. */
export class Authenticator {
  /** The cache of verified keys and unknown hashes, by hash (TTLs on the manager's clock). */
  readonly cache: VerifyCache<VerifiedKey>;
  private readonly hash: SecretHasher;
  /** Cache lookups that missed (counted off the hot path: a miss reads the store next). */
  misses = 0;

  constructor(
    private readonly config: ManagerConfig,
    private readonly format: KeyFormat,
    /** @internal The store calls (keyward/otel wraps their store to time it). */
    readonly store: StoreCalls,
  ) {
    this.hash = config.hash;
    this.cache = new VerifyCache(config.cache);
  }

  /** The key for `secret` at `now`, or the refusal (as a value; never throws). */
  authenticate(secret: string, now: number): MaybePromise<VerifiedKey | KeywardError> {
    if (typeof secret !== "string" || secret.length > MAX_CREDENTIAL_LENGTH) return INVALID_KEY;
    const hash = this.hash(secret);
    const cached = this.cache.get(hash, now);
    // Only well-formed keys ever enter the cache, so a hit needs no format check.
    if (cached !== undefined) return cached === UNKNOWN ? INVALID_KEY : this.checkStatus(cached, now);
    this.misses++;
    // A database holding another key format fails closed for every key, not 401 for the database's own.
    if (this.store.formatError !== null) return storeUnavailable(this.store.formatError);
    if (this.format.check(secret) === undefined) return INVALID_KEY;
    if (!this.store.initialized)
      return this.store.whenReady().then(
        () => this.lookup(hash, now),
        (e: unknown) => asStoreUnavailable(e),
      );
    return this.lookup(hash, now);
  }

  /**
   * The store read for a cache miss. Concurrent misses for one hash share one asynchronous read
   * (the cache's in-flight map, emptied by every invalidation); each caller checks status at its own `now`.
   */
  private lookup(hash: string, now: number): MaybePromise<VerifiedKey | KeywardError> {
    const shared = this.cache.inflight<VerifiedKey | KeywardError>(hash);
    if (shared !== undefined) return shared.then((found) => this.admit(found, now));
    const found = this.read(hash, now);
    if (!isPromise(found)) return this.admit(found, now);
    this.cache.share(hash, found);
    return found.then((f) => this.admit(f, now));
  }

  /** Reads `hash` from the store and caches the answer (unless invalidated meanwhile); no status check. */
  private read(hash: string, now: number): MaybePromise<VerifiedKey | KeywardError> {
    const epoch = this.cache.epoch();
    return after(
      this.store.read(() => this.store.store.findByHash(hash)),
      (record) => {
        if (record instanceof KeywardError) return record;
        if (record === null) {
          this.cache.setUnknown(hash, epoch, now);
          return INVALID_KEY;
        }
        return after(this.compile(record), (entry) => {
          if (entry instanceof KeywardError) return entry;
          this.cache.set(hash, entry, epoch, now);
          return entry;
        });
      },
    );
  }

  private admit(found: VerifiedKey | KeywardError, now: number): VerifiedKey | KeywardError {
    return found instanceof KeywardError ? found : this.checkStatus(found, now);
  }

  private checkStatus(entry: VerifiedKey, now: number): VerifiedKey | KeywardError {
    if (this.store.closed) return MANAGER_CLOSED;
    if (entry.revokedError !== null) return entry.revokedError;
    if (entry.expiredError !== null && entry.expiresAt! <= now) return entry.expiredError;
    if (entry.disabledError !== null) return entry.disabledError;
    return entry;
  }

  /** The cache entry for a record: principal, compiled scopes, limits and refusals, all frozen. */
  private compile(record: StoredKey): MaybePromise<VerifiedKey | KeywardError> {
    let tier: MaybePromise<ResolvedTier | null>;
    try {
      tier = tierFor(this.config, record);
    } catch (error) {
      return storeUnavailable(error); // tierOf threw: fail closed, like a store failure
    }
    const build = (t: ResolvedTier | null): VerifiedKey => {
      const rate = record.rateLimit ?? t?.rateLimit ?? this.config.rateLimit;
      const monthly = t?.monthlyRequests ?? null;
      const credits = record.credits ?? null;
      const principal: AuthenticatedKey = Object.freeze({
        id: record.id,
        name: record.name,
        ownerId: record.ownerId,
        kind: record.kind,
        mode: record.mode,
        scopes: Object.freeze([...record.scopes]),
        projects: Object.freeze(record.kind === "project" ? [record.projectId!] : [...record.projects]),
        project: record.kind === "project" ? record.projectId : null,
        tier: record.tier,
        metadata: Object.freeze(record.metadata),
        expiresAt: record.expiresAt === null ? null : new Date(record.expiresAt),
      });
      const lifecycle = lifecycleNotice(record, this.config.warnBeforeExpiryMs);
      return Object.freeze({
        noticeFrom: lifecycle.from,
        notice: lifecycle.notice && Object.freeze(lifecycle.notice),
        id: record.id,
        kind: record.kind,
        projectId: record.projectId,
        projects: principal.projects,
        mode: record.mode,
        ownerId: record.ownerId,
        expiresAt: record.expiresAt,
        revokedAt: record.revokedAt,
        revokedError: record.revokedAt === null ? null : keyRevoked(record.id),
        expiredError: record.expiresAt === null ? null : keyExpired(record.id),
        disabledError: record.disabledAt == null ? null : keyDisabled(record.id),
        ipAllow: IpMatcher.compile(record.allowedIps),
        grant: record.kind === "project" ? ScopeSet.compile(["*"]) : ScopeSet.compile(record.scopes, this.config.implies),
        principal,
        meter:
          rate === null && monthly === null && credits === null
            ? null
            : new KeyMeter(record.id, rate, monthly, { owner: t?.countPer === "owner" ? record.ownerId : null, ownRate: record.rateLimit !== null, credits }),
        scopeTally: new ScopeTally(record.id),
      });
    };
    if (!isPromise(tier)) return build(tier);
    return this.store.withTimeout(tier).then(build, (e: unknown) => storeUnavailable(e));
  }
}
