/**
 * Record types and the store contract. Stores keep {@link StoredKey} rows (timestamps in ms since
 * the epoch); the KeyManager hands out {@link ApiKey} views, which never carry the hash.
 */

/**
 * A value or a promise of it: in-process stores answer synchronously on the hot path.
 *
 * @example
 * const found: MaybePromise<StoredKey | null> = store.findByHash(hash); // sync for memory/SQLite, a promise for Postgres
 */
export type MaybePromise<T> = T | Promise<T>;

/**
 * `user` keys act for their owner (scopes, project allow-list); `project` keys are bound to one project.
 *
 * @example
 * await keys.create({ name: "ci", kind: "project", project: "proj_1" }); // KeyKind "project"
 */
export type KeyKind = "user" | "project";

/**
 * Where a key stands now. A key that is several at once shows the first of revoked, expired,
 * disabled (paused with `keys.disable(id)`), active.
 *
 * @example
 * const { keys: active } = await keys.list({ ownerId: "user_1", status: "active" });
 */
export type KeyStatus = "active" | "expired" | "revoked" | "disabled";

/**
 * A fixed-window rate limit in resolved form.
 *
 * @example
 * const rule: RateLimitRule = { limit: 100, windowMs: 60_000 }; // 100 requests a minute
 */
export interface RateLimitRule {
  /** Requests admitted per window. */
  limit: number;
  /** Window length in milliseconds. */
  windowMs: number;
}

/**
 * One limit that applied to a request, for the `RateLimit` headers and 429 bodies.
 *
 * @example
 * if (err instanceof KeywardError) for (const l of err.limits ?? []) console.log(l.policy, l.remaining, l.resetSeconds);
 */
export interface LimitState {
  /**
   * Policy name in headers: `"window"` for a single rate limit, the limit's own name for named ones
   * (`"burst"`, `"sustained"`), `"monthly"` for the quota, `"credits"` for a key's credits.
   */
  readonly policy: string;
  /** Requests (or units) the policy admits per window. */
  readonly limit: number;
  /** Requests left in the current window after this one. */
  readonly remaining: number;
  /** Window length in seconds (0: credits that never refill). */
  readonly windowSeconds: number;
  /** Seconds until the window resets (at least 1; 0: credits that never refill). */
  readonly resetSeconds: number;
}

/**
 * A key's credits as stored: the balance granted when they were set, and the optional refill.
 * The balance spent lives in the counter store (one counter per refill period), so spending is
 * one atomic counter take on every store.
 *
 * @example
 * const credits: StoredCredits = { remaining: 1000, refill: { amount: 1000, interval: "1d" }, counter: "key_…", since: Date.now() };
 */
export interface StoredCredits {
  /** Credits granted at `since` (the balance of the period holding `since`). */
  remaining: number;
  /** Credits the balance is reset to at the start of every later period, or null for never. */
  refill: CreditRefill | null;
  /** The counter's name part: the id of the key the credits were first given to (a rotation keeps it). */
  counter: string;
  /** When the credits were set (ms since the epoch). */
  since: number;
}

/**
 * A credit refill: the balance becomes `amount` at the start of every `interval`.
 *
 * @example
 * const refill: CreditRefill = { amount: 1000, interval: "1d" };
 */
export interface CreditRefill {
  /** The balance after each refill. */
  amount: number;
  /** How often it refills (`"1d"`, `"1h"`, `"1mo"`). */
  interval: CreditInterval;
}

/**
 * How often credits refill: a duration (`"1h"`, `"1d"`, `"7d"`: windows aligned to the epoch, so
 * `"1d"` refills at 00:00 UTC) or `"1mo"` (the 1st of every month, 00:00 UTC).
 *
 * @example
 * await keys.create({ name: "reports", credits: { remaining: 500, refill: { amount: 500, interval: "1mo" } } });
 */
export type CreditInterval = string;

/**
 * A key's credits as `get`/`list` show them.
 *
 * @example
 * const key = await keys.get("key_…");
 * console.log(key?.credits?.remaining, key?.credits?.refillsAt);
 */
export interface CreditsView {
  /** Credits left now; null when the counter store cannot read a counter (a custom store without `count`). */
  remaining: number | null;
  /** The refill, or null for credits that never refill. */
  refill: CreditRefill | null;
  /** When the balance next refills, or null for never. */
  refillsAt: Date | null;
}

/**
 * A key as a store keeps it. `hash` never leaves the KeyManager.
 *
 * @example
 * const stored = await store.findById("key_…"); // a StoredKey: hash included, dates as epoch ms
 */
export interface StoredKey {
  /** The key's id (`key_…`): not secret, safe to log and show. */
  id: string;
  /** Hex SHA-256 (or HMAC-SHA-256 with a pepper) of the secret: the lookup index. */
  hash: string;
  /** Display form: prefix, mode and the first characters of the body, e.g. `sk_live_AbCd`. */
  start: string;
  /** A label for people, e.g. `ci-deploys`. */
  name: string;
  /** The owner (your user or organisation id), or `null` for a key without one. */
  ownerId: string | null;
  /** `user` (acts for its owner) or `project` (bound to one project). */
  kind: KeyKind;
  /** The project a `project` key is bound to; `null` for user keys. */
  projectId: string | null;
  /** A user key's project allow-list; empty means every project of its owner. */
  projects: string[];
  /** The key's mode (`live`, `test`, …), or `null` for a format without modes. */
  mode: string | null;
  /** Granted scopes, e.g. `["nodes:read"]`; `["*"]` is full access. */
  scopes: string[];
  /** The tier stored on the key, or `null` (then `tierOf` / `defaultTier` decide). */
  tier: string | null;
  /** A per-key rate limit that overrides the tier's. */
  rateLimit: RateLimitRule | null;
  /** Your own JSON data (at most 4 KiB). */
  metadata: Record<string, unknown>;
  /** The key's credits, or `null` (absent in rows written before credits existed) for none. */
  credits?: StoredCredits | null;
  /** Creation time, ms since the epoch. */
  createdAt: number;
  /** Expiry time (ms since the epoch; the key is refused from this instant on), or `null` for never. */
  expiresAt: number | null;
  /** Revocation time (ms since the epoch), or `null` while not revoked. */
  revokedAt: number | null;
  /** When the key was paused by `disable` (ms since the epoch), or `null` while enabled. */
  disabledAt: number | null;
  /** Client addresses the key may be used from (IPv4/IPv6 addresses and CIDR ranges, canonical form); empty means any address. */
  allowedIps: string[];
  /** Time of the last authenticated request (ms since the epoch), or `null` if never used. */
  lastUsedAt: number | null;
  /** Authenticated requests so far. */
  requestCount: number;
  /** The id of the key this one replaced by rotation, or `null`. */
  rotatedFrom: string | null;
  /** The id of this key's successor after a rotation, or `null`. */
  rotatedTo: string | null;
}

/**
 * Fields `update` may change.
 *
 * @example
 * await store.update("key_…", { name: "renamed", scopes: ["notes:read"] });
 */
export interface KeyPatch {
  /** A new label. */
  name?: string;
  /** The new scope list (replaces the old one). */
  scopes?: string[];
  /** New metadata (replaces the old object). */
  metadata?: Record<string, unknown>;
  /** A new expiry (ms since the epoch), or `null` for never. */
  expiresAt?: number | null;
  /** A new IP allow-list (replaces the old one; `[]` for any address). */
  allowedIps?: string[];
  /** Pause (a time, ms since the epoch) or resume (`null`) the key. */
  disabledAt?: number | null;
  /** New credits (replace the old ones, with a fresh `since`), or `null` to remove them. */
  credits?: StoredCredits | null;
}

/**
 * What `list` selects; every field optional. Results are newest first.
 *
 * @example
 * const page = await keys.list({ ownerId: "user_1", mode: "live", status: "active", limit: 20 });
 */
export interface KeyFilter {
  /** Keys of this owner (`null`: keys without an owner). */
  ownerId?: string | null;
  /** Keys bound to, or allow-listing, this project (user keys with an empty allow-list match too). */
  projectId?: string;
  /** Keys of this mode (`null`: keys without a mode). */
  mode?: string | null;
  /** Only `user` or only `project` keys. */
  kind?: KeyKind;
  /** Only keys with this status at `now`. */
  status?: KeyStatus;
  /** Clock reading used for `status`. */
  now?: number;
  /** Page size (default 100, at most 1000). */
  limit?: number;
  /** Return keys with an id below this one (the last id of the previous page). */
  before?: string;
}

/**
 * Usage accumulated in memory for one key, flushed in batches. `days` are UTC days since the epoch.
 *
 * @example
 * await store.recordUsage([{ id: "key_…", count: 3, lastUsedAt: Date.now(), days: [[20415, 3]] }]);
 */
export interface UsageDelta {
  /** The key's id. */
  id: string;
  /** Requests counted since the last flush. */
  count: number;
  /** The latest request time in the batch (ms since the epoch). */
  lastUsedAt: number;
  /** Per-UTC-day counts: `[day number since the epoch, count]`. */
  days: Array<[day: number, count: number]>;
  /** Uses of each scope the key's requests were admitted for, by UTC day (absent: none). Stores that keep no scope usage ignore it. */
  scopes?: ScopeUseDelta[];
}

/**
 * Uses of one scope by one key on one UTC day, counted since the last flush: a guard
 * (`requireScope`, …) or a pipeline scope check admitted that many requests because of it.
 *
 * @example
 * const day = Math.floor(Date.now() / 86_400_000);
 * await store.recordUsage([{ id: "key_…", count: 2, lastUsedAt: Date.now(), days: [[day, 2]], scopes: [{ scope: "nodes:read", day, count: 2, lastUsedAt: Date.now() }] }]);
 */
export interface ScopeUseDelta {
  /** The scope as the guard required it, e.g. `nodes:read`. */
  scope: string;
  /** The UTC day number since the epoch. */
  day: number;
  /** Admitted requests on that day because of this scope. */
  count: number;
  /** The latest of them (ms since the epoch). */
  lastUsedAt: number;
}

/**
 * One scope's uses by one key over a range of days, as a store sums them.
 *
 * @example
 * const totals: ScopeUseTotal[] = await store.scopeUsage!("key_…", fromDay, toDay); // [{ scope: "nodes:read", count: 42, lastUsedAt: 1764590400000 }]
 */
export interface ScopeUseTotal {
  /** The scope, e.g. `nodes:read`. */
  scope: string;
  /** Admitted requests in the range because of this scope. */
  count: number;
  /** The latest of them (ms since the epoch). */
  lastUsedAt: number;
}

/**
 * Requests on one UTC day.
 *
 * @example
 * const usage: DailyUsage[] = await keys.usage("key_…", 30); // [{ date: "2026-11-23", count: 42 }, …]
 */
export interface DailyUsage {
  /** `YYYY-MM-DD` in UTC. */
  date: string;
  /** Authenticated requests on that day. */
  count: number;
}

/**
 * The change `rotate` applies to the old key together with inserting its successor.
 *
 * @example
 * await store.rotate(oldId, successor, { expiresAt: Date.now() + 86_400_000 }); // old key lives 24 h more
 */
export interface RotationChange {
  /** The old key's new expiry (end of the overlap), or unchanged when undefined. */
  expiresAt?: number;
  /** Set when the overlap is zero: the old key is revoked at this time. */
  revokedAt?: number;
  /**
   * When the old key is itself a successor whose predecessor is still in its overlap, that
   * predecessor stops working at this time (its expiry moves here if later), in the same atomic
   * step: one lineage never has more than two usable keys.
   */
  endPredecessorAt?: number;
}

/**
 * One counter of a request's charge: take `units` from `counter` when that keeps it at most `limit`.
 *
 * @example
 * const take: CounterTake = { counter: "r:burst:key_1:1764590400000", limit: 10, resetAt: 1764590401000, units: 1 };
 */
export interface CounterTake {
  /** The counter's name. */
  readonly counter: string;
  /** The most the counter may reach. */
  readonly limit: number;
  /** When the counter's window ends (ms since the epoch). */
  readonly resetAt: number;
  /** Units to take (1 for a request; a route's cost for credits). */
  readonly units: number;
}

/**
 * Atomic counters for rate limits and quotas. `consume` increments only while the count is below
 * `limit` and returns the new count, or -1 when the limit was already reached (nothing changes).
 *
 * @example
 * const keys = new KeyManager({ store, counters: new RedisCounters(redis) }); // or your own CounterStore
 */
export interface CounterStore {
  /** Takes one unit of `counter` if its count is below `limit`: returns the new count, or -1 when the limit is reached. `resetAt` (ms since the epoch) is when the counter's window ends. */
  consume(counter: string, limit: number, resetAt: number): MaybePromise<number>;
  /** Gives back one unit taken by `consume` (a later guard refused the request). */
  refund(counter: string): MaybePromise<void>;
  /**
   * Optional, all or nothing in one atomic step (one round trip): takes every `takes[i].units`
   * when each counter stays at most its limit, and returns the new counts in order; when any would
   * pass its limit, takes nothing and returns an array whose first -1 marks the refusing counter
   * (entries before it hold the counts the take would have reached; entries after it are
   * unspecified). Without it, keyward calls `consume` unit by unit and `refund`s on a refusal.
   */
  consumeAll?(takes: readonly CounterTake[]): MaybePromise<number[]>;
  /** Optional: gives back `takes[i].units` of each counter (never below zero). Without it, keyward calls `refund` unit by unit. */
  refundAll?(takes: readonly CounterTake[]): MaybePromise<void>;
  /** Optional: the counter's count now (0 when absent), for the credits `get`/`list` show. */
  count?(counter: string): MaybePromise<number>;
  /** Optional: deletes counters whose window ended at or before `now`. The KeyManager calls it about once a minute. */
  prune?(now: number): MaybePromise<void>;
}

/**
 * The key format a database holds: the prefix and modes of every key in it. Recorded by the first
 * KeyManager (or `keyward` CLI) that uses the database, so later users with another format fail
 * with a clear error instead of minting or expecting keys the others refuse.
 *
 * @example
 * const recorded: KeyFormatRecord | null = await store.keyFormat?.(); // { prefix: "xk", modes: ["live", "test"] }
 */
export interface KeyFormatRecord {
  /** The prefix of every key in the database, e.g. `sk`. */
  prefix: string;
  /** The modes, in the order the recorder configured them (the first is the default); `[]` for keys without a mode. */
  modes: string[];
}

/**
 * What a backend implements. Small on purpose: every method is one atomic operation.
 *
 * @example
 * class MyStore implements KeyStore { ... } // then run test/stores/store-conformance.ts against it
 */
export interface KeyStore extends CounterStore {
  /** Create tables / run migrations. Called once by the KeyManager before first use. */
  init?(): MaybePromise<void>;
  /** Insert a key; when `cap` is given, only if the owner has fewer than `cap.max` active keys. */
  insert(key: StoredKey, cap?: { max: number; now: number }): MaybePromise<boolean>;
  /** The key whose hash is `hash`, or `null`. The hot path's one read. */
  findByHash(hash: string): MaybePromise<StoredKey | null>;
  /** The key with this id, or `null`. */
  findById(id: string): MaybePromise<StoredKey | null>;
  /** Keys matching `filter`, newest first, at most `filter.limit`. */
  list(filter: KeyFilter): MaybePromise<StoredKey[]>;
  /** Applies `patch` and returns the updated key, or `null` if there is no such key. */
  update(id: string, patch: KeyPatch): MaybePromise<StoredKey | null>;
  /** Set `revokedAt` unless already set; returns the (possibly already revoked) key or null. */
  revoke(id: string, at: number): MaybePromise<StoredKey | null>;
  /**
   * Atomically: when `oldId` exists, is not revoked and has no successor, insert `successor`, link
   * the two and apply `change` to the old key. Returns false (and changes nothing) otherwise.
   */
  rotate(oldId: string, successor: StoredKey, change: RotationChange): MaybePromise<boolean>;
  /** Add counts and move `lastUsedAt` forward (never back), in one batch. */
  recordUsage(batch: UsageDelta[]): MaybePromise<void>;
  /** Per-day counts for `id` between two UTC day numbers, inclusive. */
  usage(id: string, fromDay: number, toDay: number): MaybePromise<Array<[day: number, count: number]>>;
  /**
   * Optional: per scope, the uses by `id` between two UTC day numbers, inclusive (counts summed,
   * latest use), sorted by scope; written from {@link UsageDelta.scopes}. Stores without it keep
   * no scope usage: `keys.scopeUsage` throws a `KeywardConfigError` naming the store.
   */
  scopeUsage?(id: string, fromDay: number, toDay: number): MaybePromise<ScopeUseTotal[]>;
  /**
   * Optional: the key format recorded in the database, or null when none is recorded yet. Stores
   * without it skip the format check.
   */
  keyFormat?(): MaybePromise<KeyFormatRecord | null>;
  /**
   * Optional, atomic: records `format` when the database has none yet, and returns the format now
   * recorded (the given one, or the one recorded earlier, possibly by another process). Never overwrites.
   */
  claimKeyFormat?(format: KeyFormatRecord): MaybePromise<KeyFormatRecord>;
  /**
   * Optional, atomic: records that the lifecycle notice `kind` (e.g. `key.expiring`) at `threshold`
   * (e.g. `14d`) for `period` (e.g. the expiry it warns of, or a UTC month) was sent for `keyId`.
   * Returns true for the first claim only, in every process sharing the store; `keys.sweep()` emits
   * a notice only when it wins the claim. Stores without it cannot sweep.
   */
  claimNotice?(keyId: string, kind: string, threshold: string, period: string): MaybePromise<boolean>;
  /** Release connections and file handles. */
  close?(): MaybePromise<void>;
}

/**
 * A key as the KeyManager returns it: no hash, dates as `Date`, with its current status.
 *
 * @example
 * const key: ApiKey | null = await keys.get("key_…");
 * if (key?.status === "active") console.log(key.name, key.start, key.lastUsedAt);
 */
export interface ApiKey extends Omit<StoredKey, "hash" | "createdAt" | "expiresAt" | "revokedAt" | "disabledAt" | "lastUsedAt" | "credits"> {
  /** The key's credits (the balance left now and the refill), or null for a key without credits. */
  credits: CreditsView | null;
  /** Where the key stands now: `active`, `expired`, `revoked` or `disabled` (in that precedence: revoked, expired, disabled). */
  status: KeyStatus;
  /** When the key was created. */
  createdAt: Date;
  /** When the key expires, or `null` for never. */
  expiresAt: Date | null;
  /** When the key was revoked, or `null`. */
  revokedAt: Date | null;
  /** When the key was paused by `disable`, or `null` while enabled. */
  disabledAt: Date | null;
  /** When the key last authenticated a request, or `null`. */
  lastUsedAt: Date | null;
}

/**
 * The key that authenticated a request: `req.apiKey`. Never holds the secret or its hash.
 *
 * @example
 * app.get("/v1/me", (req, res) => res.json({ keyId: req.apiKey!.id, owner: req.apiKey!.ownerId, scopes: req.apiKey!.scopes }));
 */
export interface AuthenticatedKey {
  /** The key's id (`key_…`). */
  readonly id: string;
  /** The key's label. */
  readonly name: string;
  /** The owner's id, or `null`. */
  readonly ownerId: string | null;
  /** `user` or `project`. */
  readonly kind: KeyKind;
  /** The key's mode, or `null` without modes. */
  readonly mode: string | null;
  /** The scopes the key holds. */
  readonly scopes: readonly string[];
  /** The user key's allow-list (empty = all of the owner's projects) or the project key's one project. */
  readonly projects: readonly string[];
  /** The project this request acts on, resolved from the header, resolver or default. */
  readonly project: string | null;
  /** The tier that applies to the key (stored, from `tierOf`, or the default), or `null`. */
  readonly tier: string | null;
  /** The key's metadata, frozen. */
  readonly metadata: Readonly<Record<string, unknown>>;
  /** When the key expires, or `null` for never. */
  readonly expiresAt: Date | null;
}
