/**
 * KeyManager options: the public `KeyManagerOptions` (all optional but `store`) and the resolved
 * `ManagerConfig` built once at construction. Misconfiguration throws a KeywardConfigError here.
 */
import { z } from "zod";
import { type Duration, formatDuration } from "../core/duration.js";
import { KeywardConfigError, type KeywardError } from "../core/errors.js";
import { createHasher, type SecretHasher } from "../core/hash.js";
import { NAME_PATTERN } from "../core/key-format.js";
import { normalizeScopes } from "../core/scopes.js";
import { countOption, durationOption, fn, parseOptions, scopeOption, storeErrorOption } from "../core/options.js";
import type { CounterStore, KeyStore, MaybePromise } from "../core/types.js";
import type { StoreErrorMode } from "./counter-fallback.js";
import type { KeywardEvent } from "./events.js";
import { rateLimitsOption } from "./limit-options.js";
import type { CountPer, ResolvedTier } from "./limits.js";

/**
 * A tier's limits; an absent field is unlimited.
 *
 * @example
 * new KeyManager({ store, tiers: { free: { monthlyRequests: 1000, maxActiveKeys: 2, rateLimit: { limit: 10, window: "1s" } } }, defaultTier: "free" });
 */
export interface TierOptions {
  /** Requests per key per UTC calendar month (resets on the 1st, 00:00 UTC). */
  monthlyRequests?: number;
  /** Active (unrevoked, unexpired) keys one owner may hold. */
  maxActiveKeys?: number;
  /**
   * A fixed-window rate limit, e.g. `{ limit: 100, window: "1m" }` or `"100/m"` (policy `"window"`),
   * or several named ones that must all admit a request, e.g. `{ burst: "10/s", sustained: "1000/h" }`
   * (charged together in one atomic step; each policy shows under its name in the RateLimit headers).
   */
  rateLimit?: RateLimitOption;
  /**
   * Whose requests `monthlyRequests` and `rateLimit` count: `"key"` (each key its own) or `"owner"`
   * (all keys of one owner share one quota and one rate limit; keys without an owner count alone).
   * Defaults to `"key"`.
   *
   * @example
   * new KeyManager({ store, tiers: { team: { monthlyRequests: 100_000, countPer: "owner" } } });
   */
  countPer?: CountPer;
}

/**
 * A rate limit: `{ limit, window }`, `"<count>/<window>"` (`"10/s"`, `"1000/h"`, `"50/10m"`), or
 * named limits `{ burst: "10/s", sustained: { limit: 1000, window: "1h" } }`.
 *
 * @example
 * const rateLimit: RateLimitOption = { burst: "10/s", sustained: "1000/h" };
 */
export type RateLimitOption = string | RateLimitWindow | Record<string, string | RateLimitWindow>;

/**
 * One fixed-window rate limit in object form.
 *
 * @example
 * const sustained: RateLimitWindow = { limit: 1000, window: "1h" };
 */
export interface RateLimitWindow {
  /** Requests admitted per window. */
  limit: number;
  /** The window, e.g. `"1m"` (at least 1 s). */
  window: Duration;
}

/**
 * Options for {@link KeyManager}.
 *
 * @example
 * const keys = new KeyManager({ store: new SqliteStore("keys.db"), prefix: "sk", modes: ["live", "test"], defaultTtl: "90d" });
 */
export interface KeyManagerOptions {
  /** Where keys, counters and usage live: `MemoryStore`, `SqliteStore`, `PostgresStore`… Required. */
  store: KeyStore;
  /** Counters for rate limits and quotas, when they should live elsewhere (e.g. Redis). Defaults to `store`. */
  counters?: CounterStore;
  /** Key prefix, 1-16 characters from [a-z0-9]. Defaults to `"sk"`. */
  prefix?: string;
  /** Modes in the key (`sk_live_…`); `[]` for keys without a mode (`acme_…`). Defaults to `["live", "test"]`. */
  modes?: string[];
  /** Server-side secret: hashes become HMAC-SHA-256 with it. Defaults to none (plain SHA-256). */
  pepper?: string;
  /** Scopes stored on a user key created without any. Defaults to `["*"]` (full access). */
  defaultScopes?: string[];
  /** The catalogue of known scopes; when set, other scopes are refused at creation. Defaults to none. */
  scopes?: string[];
  /** Scopes that grant others: `{ "nodes:write": ["nodes:read"] }`. Defaults to none. */
  implies?: Record<string, string[]>;
  /** Allowed lifetimes; `null` in the list allows keys without expiry. Defaults to any lifetime. */
  allowedTtls?: Array<Duration | null>;
  /** Lifetime of a key created without `expiresIn`/`expiresAt`. Defaults to none (no expiry). */
  defaultTtl?: Duration;
  /**
   * Longest overlap `rotate()` accepts: during it the rotated-away (possibly leaked) key still
   * works. A longer overlap is refused with 422 `validation_failed`. Defaults to `"7d"` (the
   * longest rolling overlap Stripe's dashboard offers).
   */
  maxRotationOverlap?: Duration;
  /** Named tiers. Defaults to none (no limits). */
  tiers?: Record<string, TierOptions>;
  /** Tier of keys that name none and whose owner resolves to none. Defaults to none. */
  defaultTier?: string;
  /** Resolves a key's tier from its owner (the app's plan data). Defaults to the tier stored on the key. */
  tierOf?: (key: { ownerId: string | null; tier: string | null }) => MaybePromise<string | null | undefined>;
  /** A rate limit for every key without a tier or key-level one (the forms of {@link TierOptions.rateLimit}). Defaults to none. */
  rateLimit?: RateLimitOption;
  /** Verification cache: `false` to turn off. Defaults to `{ max: 10000, ttl: "5s", unknownMax: 10000 }`. */
  cache?:
    | false
    | {
        /** Verified keys kept. Defaults to 10000. */ max?: number;
        /** How long an entry is trusted. Defaults to `"5s"`. */ ttl?: Duration;
        /** Unknown hashes kept. Defaults to 10000. */ unknownMax?: number;
      };
  /**
   * The revocation bound: no instance accepts a key later than this after its revocation, expiry
   * change or scope narrowing was committed, whatever happens to the invalidation channel. A cached
   * entry older than this is re-read from the store unless a healthy channel (`redisInvalidation`,
   * `postgresInvalidation`: heartbeats every third of the bound) vouches for it; then `cache.ttl`
   * applies. Without a channel the cache TTL is in effect at most this. Defaults to `"5s"`.
   *
   * @example
   * const keys = new KeyManager({ store, cache: { ttl: "60s" }, maxStaleness: "2s" });
   * await redisInvalidation(keys, { publisher, subscriber }); // entries live 60 s while the channel is heard, 2 s when not
   */
  maxStaleness?: Duration;
  /**
   * How long before its expiry a key starts answering with `Deprecation` and `Sunset` headers
   * (see `apiKeyAuth({ lifecycleHeaders })`). Defaults to `"14d"`.
   *
   * @example
   * const keys = new KeyManager({ store, warnBeforeExpiry: "30d" });
   */
  warnBeforeExpiry?: Duration;
  /**
   * How long before a key's expiry `keys.sweep()` emits `key.expiring`, once per threshold.
   * Defaults to `["14d", "1d"]`.
   *
   * @example
   * const keys = new KeyManager({ store, expiringThresholds: ["30d", "7d", "1d"], sweepInterval: "1h" });
   */
  expiringThresholds?: Duration[];
  /** Percentages of the monthly quota at which `keys.sweep()` emits `quota.threshold`, once per UTC month. Defaults to `[80, 100]`. */
  quotaThresholds?: number[];
  /** How long unused before `keys.sweep()` emits `key.idle` (since the last use, else the creation); `false` to turn off. Defaults to `"30d"`. */
  idleAfter?: Duration | false;
  /**
   * Expire keys unused this long: `keys.sweep()` sets their expiry to now (an ordinary update:
   * `key.updated`, invalidation). Each gets `key.expiring` (`reason: "idle"`) at the
   * `expiringThresholds` before that deadline, and always on a sweep before the one that expires it.
   * Defaults to none (never).
   *
   * @example
   * const keys = new KeyManager({ store, idleExpiry: "90d", sweepInterval: "1h" });
   */
  idleExpiry?: Duration;
  /** Run `keys.sweep()` this often in the background (an unref'd timer, stopped by `close()`). Defaults to none (call it yourself). */
  sweepInterval?: Duration;
  /** Usage tracking: `false` to turn off. Defaults to `{ flushInterval: "1s" }`. */
  usage?:
    | false
    | {
        /** How often counts are written. Defaults to `"1s"`. */ flushInterval?: Duration;
      };
  /** How long a store call may take on the request path before failing closed (503). Defaults to `"2s"`. */
  storeTimeout?: Duration;
  /**
   * What routes that name no `onStoreError` of their own (and `keys.verify()`) do when the COUNTER
   * store (rate limits, quotas) fails or times out: `"closed"` refuses with 503 `store_unavailable`,
   * `"open"` admits without counting, `"local"` counts in this process's memory over the same
   * windows (with N processes, at most N × limit per window while the store is down). A key
   * lookup failure is always refused (503). Defaults to `"closed"`.
   *
   * @example
   * const keys = new KeyManager({ store, counters: new RedisCounters(redis), onStoreError: "local" });
   */
  onStoreError?: StoreErrorMode;
  /** The clock, in ms since the epoch. Defaults to `Date.now`. */
  clock?: () => number;
  /** Receives audit events. Defaults to none. */
  onEvent?: (event: KeywardEvent) => void;
  /** Fraction (0-1) of successful authentications reported as `auth.succeeded`. Defaults to 0. */
  sampleAuthSucceeded?: number;
}

const tierSchema = z.strictObject({
  monthlyRequests: countOption.optional(),
  maxActiveKeys: countOption.optional(),
  rateLimit: rateLimitsOption.optional(),
  countPer: z.enum(["key", "owner"]).default("key"),
});

const schema = z.strictObject({
  store: z.custom<KeyStore>(
    (v) => typeof v === "object" && v !== null && typeof (v as KeyStore).findByHash === "function" && typeof (v as KeyStore).insert === "function",
    {
      message: 'a store is required: pass new SqliteStore("keys.db") (from keyward/sqlite) or new MemoryStore()',
    },
  ),
  counters: z
    .custom<CounterStore>(
      (v) => typeof v === "object" && v !== null && typeof (v as CounterStore).consume === "function" && typeof (v as CounterStore).refund === "function",
      { message: "must implement consume() and refund()" },
    )
    .optional(),
  prefix: z.string().regex(NAME_PATTERN, 'use 1-16 characters from [a-z0-9], e.g. "sk"').default("sk"),
  modes: z
    .array(z.string().regex(NAME_PATTERN, 'each mode is 1-16 characters from [a-z0-9], e.g. "live"'))
    .max(8)
    .default(["live", "test"])
    .refine((m) => new Set(m).size === m.length, "modes must not repeat"),
  pepper: z.string().min(16, "a pepper must be at least 16 characters").optional(),
  defaultScopes: z.array(scopeOption).max(256).default(["*"]),
  scopes: z.array(scopeOption).max(1024).optional(),
  implies: z.record(scopeOption, z.array(scopeOption)).optional(),
  allowedTtls: z
    .array(z.union([durationOption, z.null()]))
    .min(1)
    .optional(),
  defaultTtl: durationOption.optional(),
  maxRotationOverlap: durationOption.default(7 * 86_400_000),
  tiers: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "tier names are 1-64 characters from [A-Za-z0-9_.-]"), tierSchema).optional(),
  defaultTier: z.string().optional(),
  tierOf: fn<NonNullable<KeyManagerOptions["tierOf"]>>().optional(),
  rateLimit: rateLimitsOption.optional(),
  cache: z
    .union([
      z.literal(false),
      z.strictObject({ max: z.number().int().min(0).optional(), ttl: durationOption.optional(), unknownMax: z.number().int().min(0).optional() }),
    ])
    .optional(),
  usage: z.union([z.literal(false), z.strictObject({ flushInterval: durationOption.optional() })]).optional(),
  maxStaleness: durationOption.refine((ms) => ms >= 30, "must be at least 30ms (heartbeats go every third of it)").default(5000),
  warnBeforeExpiry: durationOption.default(14 * 86_400_000),
  storeTimeout: durationOption.default(2000),
  expiringThresholds: z
    .array(durationOption.refine((ms) => ms > 0, "must be longer than zero"))
    .min(1)
    .max(16)
    .default([14 * 86_400_000, 86_400_000]),
  quotaThresholds: z.array(z.number().int().min(1).max(100)).max(16).default([80, 100]),
  idleAfter: z.union([z.literal(false), durationOption.refine((ms) => ms > 0, "must be longer than zero")]).default(30 * 86_400_000),
  idleExpiry: durationOption.refine((ms) => ms > 0, "must be longer than zero").optional(),
  sweepInterval: durationOption.refine((ms) => ms >= 1000, "must be at least 1s").optional(),
  onStoreError: storeErrorOption.default("closed"),
  clock: fn<() => number>().optional(),
  onEvent: fn<(event: KeywardEvent) => void>().optional(),
  sampleAuthSucceeded: z.number().min(0).max(1).default(0),
});

/** The lifecycle sweep's settings, resolved (durations in ms). */
export interface SweepConfig {
  /** `expiringThresholds`, longest first, each with its label (e.g. `14d`). */
  expiring: Array<{ ms: number; label: string }>;
  /** `quotaThresholds`, ascending. */
  quotaPercents: number[];
  /** `idleAfter` and its label, or null when off. */
  idleAfter: { ms: number; label: string } | null;
  idleExpiryMs: number | null;
  intervalMs: number | null;
}

/** Options after validation and defaults. */
export interface ManagerConfig {
  store: KeyStore;
  counters: CounterStore;
  prefix: string;
  modes: string[];
  /** The secret hasher; the pepper lives only inside it, so inspecting a manager never shows it. */
  hash: SecretHasher;
  defaultScopes: string[];
  catalogue: string[] | undefined;
  implies: Record<string, string[]> | undefined;
  allowedTtls: Array<number | null> | undefined;
  defaultTtlMs: number | null;
  maxRotationOverlapMs: number;
  tiers: Map<string, ResolvedTier>;
  defaultTier: string | null;
  tierOf: KeyManagerOptions["tierOf"];
  rateLimit: ResolvedTier["rateLimit"];
  cache: { max: number; ttlMs: number; unknownMax: number; maxStalenessMs: number };
  warnBeforeExpiryMs: number;
  flushIntervalMs: number | null;
  storeTimeoutMs: number;
  sweep: SweepConfig;
  onStoreError: StoreErrorMode;
  clock: () => number;
  onEvent: KeyManagerOptions["onEvent"];
  sampleAuthSucceeded: number;
}

/** Validates and resolves options once. Throws {@link KeywardConfigError}. */
export function resolveManagerOptions(options: KeyManagerOptions): ManagerConfig {
  if (options === undefined || options === null || typeof options !== "object")
    throw new KeywardConfigError("KeyManager", "options are required: new KeyManager({ store })");
  const o = parseOptions(schema, options, "KeyManager");
  const tiers = new Map<string, ResolvedTier>();
  for (const [name, t] of Object.entries(o.tiers ?? {})) {
    tiers.set(name, {
      monthlyRequests: t.monthlyRequests ?? null,
      maxActiveKeys: t.maxActiveKeys ?? null,
      rateLimit: t.rateLimit ?? null,
      countPer: t.countPer,
    });
  }
  if (o.defaultTier !== undefined && !tiers.has(o.defaultTier))
    throw new KeywardConfigError("KeyManager.defaultTier", `"${o.defaultTier}" is not one of the tiers (${[...tiers.keys()].join(", ") || "none defined"})`);
  if (o.scopes) {
    // The same catalogue rule as create(): `*` and `resource:*` must cover at least one known scope.
    try {
      normalizeScopes(o.defaultScopes, { catalogue: o.scopes }, "defaultScopes");
    } catch (error) {
      const detail = (error as KeywardError).details?.[0];
      throw new KeywardConfigError(`KeyManager.${detail?.path ?? "defaultScopes"}`, detail?.message ?? String(error));
    }
  }
  if (o.store.claimNotice === undefined && (o.sweepInterval !== undefined || o.idleExpiry !== undefined))
    throw new KeywardConfigError(
      `KeyManager.${o.sweepInterval !== undefined ? "sweepInterval" : "idleExpiry"}`,
      "the store has no claimNotice(), which sweeping needs",
    );
  if (o.defaultTtl !== undefined && o.allowedTtls && !o.allowedTtls.includes(o.defaultTtl))
    throw new KeywardConfigError("KeyManager.defaultTtl", "must be one of allowedTtls");
  const maxStalenessMs = o.maxStaleness;
  const cache =
    o.cache === false
      ? { max: 0, ttlMs: 0, unknownMax: 0, maxStalenessMs }
      : { max: o.cache?.max ?? 10_000, ttlMs: o.cache?.ttl ?? 5000, unknownMax: o.cache?.unknownMax ?? 10_000, maxStalenessMs };
  return {
    store: o.store,
    counters: o.counters ?? o.store,
    prefix: o.prefix,
    modes: o.modes,
    hash: createHasher(o.pepper),
    defaultScopes: o.defaultScopes,
    catalogue: o.scopes,
    implies: o.implies,
    allowedTtls: o.allowedTtls,
    defaultTtlMs: o.defaultTtl ?? null,
    maxRotationOverlapMs: o.maxRotationOverlap,
    tiers,
    defaultTier: o.defaultTier ?? null,
    tierOf: o.tierOf,
    rateLimit: o.rateLimit ?? null,
    cache,
    warnBeforeExpiryMs: o.warnBeforeExpiry,
    flushIntervalMs: o.usage === false ? null : (o.usage?.flushInterval ?? 1000),
    storeTimeoutMs: o.storeTimeout,
    sweep: {
      expiring: [...new Set(o.expiringThresholds)].sort((a, b) => b - a).map((ms) => ({ ms, label: formatDuration(ms) })),
      quotaPercents: [...new Set(o.quotaThresholds)].sort((a, b) => a - b),
      idleAfter: o.idleAfter === false ? null : { ms: o.idleAfter, label: formatDuration(o.idleAfter) },
      idleExpiryMs: o.idleExpiry ?? null,
      intervalMs: o.sweepInterval ?? null,
    },
    onStoreError: o.onStoreError,
    clock: o.clock ?? Date.now,
    onEvent: o.onEvent,
    sampleAuthSucceeded: o.sampleAuthSucceeded,
  };
}
