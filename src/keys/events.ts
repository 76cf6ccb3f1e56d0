/** Audit events the KeyManager emits through `onEvent`. They never carry a secret or a hash. */
import type { KeywardErrorCode } from "../core/errors.js";

/**
 * Where a request came from, attached to `auth.*` events when known.
 *
 * @example
 * onEvent: (e) => { if (e.type === "auth.failed") log.warn({ code: e.code, ip: e.ip, path: e.path }); }
 */
export interface RequestInfo {
  /** `req.id`, or the `X-Request-Id` header. */
  requestId?: string;
  /** The client's address (`req.ip`, else the socket's). */
  ip?: string;
  /** The HTTP method. */
  method?: string;
  /** The request path, without the query string. */
  path?: string;
}

/**
 * A management event: a key was created, updated, rotated, revoked, disabled or enabled.
 *
 * @example
 * onEvent: (e) => { if (e.type === "key.revoked") audit.write(`${e.keyId} revoked at ${e.at.toISOString()}`); }
 */
export interface KeyEvent {
  /** What happened to the key. */
  type: "key.created" | "key.updated" | "key.rotated" | "key.revoked" | "key.disabled" | "key.enabled";
  /** When it happened. */
  at: Date;
  /** The key's id. */
  keyId: string;
  /** The key's owner, or `null`. */
  ownerId: string | null;
  /** The key's name. */
  name: string;
  /** The key's mode, or `null`. */
  mode: string | null;
  /** For `key.rotated`: the id of the new key. */
  successorId?: string;
}

/**
 * A request authenticated (emitted only when `sampleAuthSucceeded` > 0).
 *
 * @example
 * new KeyManager({ store, sampleAuthSucceeded: 0.01, onEvent: (e) => { if (e.type === "auth.succeeded") metrics.count(e.keyId); } });
 */
export interface AuthSucceededEvent extends RequestInfo {
  /** Always `auth.succeeded`. */
  type: "auth.succeeded";
  /** When the request was authenticated. */
  at: Date;
  /** The key that authenticated it. */
  keyId: string;
  /** The key's owner, or `null`. */
  ownerId: string | null;
  /** The key's mode, or `null`. */
  mode: string | null;
}

/**
 * A request was refused; `keyId` is present when the key was identified.
 *
 * @example
 * onEvent: (e) => { if (e.type === "auth.failed" && e.code === "key_revoked") alert(`revoked key ${e.keyId} still in use`); }
 */
export interface AuthFailedEvent extends RequestInfo {
  /** Always `auth.failed`. */
  type: "auth.failed";
  /** When the request was refused. */
  at: Date;
  /** Why, e.g. `key_revoked` or `rate_limited`. */
  code: KeywardErrorCode;
  /** The key, when it was identified (expired, revoked, refused by a guard or a limit). */
  keyId?: string;
}

/**
 * A background usage flush failed; the counts are kept and retried.
 *
 * @example
 * onEvent: (e) => { if (e.type === "usage.flush_failed") log.error(e.message); }
 */
export interface UsageFlushFailedEvent {
  /** Always `usage.flush_failed`. */
  type: "usage.flush_failed";
  /** When the flush failed. */
  at: Date;
  /** The store's error message. */
  message: string;
}

/**
 * The invalidation channel went silent: no heartbeat heard within the bound (or its connection
 * dropped). Until it is restored, cache entries older than `maxStaleness` are re-read from the store.
 *
 * @example
 * onEvent: (e) => { if (e.type === "cache.channel_silent") log.warn(`keyward channel silent; bound ${e.maxStalenessMs} ms kept by store reads`); }
 */
export interface ChannelSilentEvent {
  /** Always `cache.channel_silent`. */
  type: "cache.channel_silent";
  /** When the silence was noticed. */
  at: Date;
  /** The bound (`maxStaleness`) in ms. */
  maxStalenessMs: number;
}

/**
 * The invalidation channel is heard again; the cache was dropped (messages may have been lost) and
 * serves entries for the full cache TTL again.
 *
 * @example
 * onEvent: (e) => { if (e.type === "cache.channel_restored") log.info(`keyward channel back after ${e.silentMs} ms`); }
 */
export interface ChannelRestoredEvent {
  /** Always `cache.channel_restored`. */
  type: "cache.channel_restored";
  /** When it was heard again. */
  at: Date;
  /** How long it was silent, in ms. */
  silentMs: number;
}

/**
 * A key was reported leaked (by GitHub secret scanning through `secretScanning()`, or by anyone
 * through `revocationEndpoint()`): where it was found, and what was done. Never the token.
 *
 * @example
 * onEvent: (e) => { if (e.type === "key.leaked") alert(`key ${e.keyId} (${e.name}) leaked at ${e.url}; ${e.action}`); }
 */
export interface KeyLeakedEvent {
  /** Always `key.leaked`. */
  type: "key.leaked";
  /** When the report was handled. */
  at: Date;
  /** The key's id. */
  keyId: string;
  /** The key's owner, or `null`. */
  ownerId: string | null;
  /** The key's name. */
  name: string;
  /** The key's mode, or `null`. */
  mode: string | null;
  /** Where the key was found (the report's `url`), when given. */
  url?: string;
  /** The kind of place it was found (the report's `source`, e.g. `content`, `commit`), or `public_revocation` for `revocationEndpoint()`. */
  source?: string;
  /** What was done: `revoke`d, only `notify` (this event), or the app's own `function`. */
  action: "revoke" | "notify" | "function";
}

/**
 * A key nears its end: emitted by `keys.sweep()` once per key, threshold and deadline, when less
 * than `threshold` is left before `expiresAt` (its expiry, or with `idleExpiry` the time an idle
 * key will be expired: `reason: "idle"`).
 *
 * @example
 * onEvent: (e) => { if (e.type === "key.expiring") mail(e.ownerId, `${e.name} expires ${e.expiresAt.toISOString()}`); }
 */
export interface KeyExpiringEvent {
  /** Always `key.expiring`. */
  type: "key.expiring";
  /** When the sweep noticed it. */
  at: Date;
  /** The key's id. */
  keyId: string;
  /** The key's owner, or `null`. */
  ownerId: string | null;
  /** The key's name. */
  name: string;
  /** The key's mode, or `null`. */
  mode: string | null;
  /** When the key stops working. */
  expiresAt: Date;
  /** The threshold crossed, one of `expiringThresholds`, e.g. `"14d"`. */
  threshold: string;
  /** `expiry`: the key's own expiry; `idle`: the sweep expires it then for being unused (`idleExpiry`). */
  reason: "expiry" | "idle";
}

/**
 * A key used 80 % (or 100 %) of its monthly quota: emitted by `keys.sweep()` once per key,
 * threshold and UTC month. `used` counts the requests recorded this month (as `keys.usage()`).
 *
 * @example
 * onEvent: (e) => { if (e.type === "quota.threshold") mail(e.ownerId, `${e.used}/${e.limit} requests used in ${e.month}`); }
 */
export interface QuotaThresholdEvent {
  /** Always `quota.threshold`. */
  type: "quota.threshold";
  /** When the sweep noticed it. */
  at: Date;
  /** The key's id. */
  keyId: string;
  /** The key's owner, or `null`. */
  ownerId: string | null;
  /** The key's name. */
  name: string;
  /** The key's mode, or `null`. */
  mode: string | null;
  /** The percentage of the quota crossed, one of `quotaThresholds` (80 and 100 by default). */
  threshold: number;
  /** Requests recorded this UTC month. */
  used: number;
  /** The monthly quota (`monthlyRequests` of the key's tier). */
  limit: number;
  /** The UTC month, `YYYY-MM`. */
  month: string;
}

/**
 * A key has not been used for `idleAfter` (since its last use, or its creation if never used):
 * emitted by `keys.sweep()` once per key and idle spell (a use starts a new one).
 *
 * @example
 * onEvent: (e) => { if (e.type === "key.idle") suggest(e.ownerId, `revoke ${e.name}? unused since ${e.idleSince.toISOString()}`); }
 */
export interface KeyIdleEvent {
  /** Always `key.idle`. */
  type: "key.idle";
  /** When the sweep noticed it. */
  at: Date;
  /** The key's id. */
  keyId: string;
  /** The key's owner, or `null`. */
  ownerId: string | null;
  /** The key's name. */
  name: string;
  /** The key's mode, or `null`. */
  mode: string | null;
  /** The last use, or `null` when never used. */
  lastUsedAt: Date | null;
  /** The last use, or the creation when never used. */
  idleSince: Date;
  /** The `idleAfter` threshold crossed, e.g. `"30d"`. */
  threshold: string;
}

/**
 * A background sweep (`sweepInterval`) failed, e.g. the store was down; the next one retries.
 *
 * @example
 * onEvent: (e) => { if (e.type === "sweep.failed") log.error(e.message); }
 */
export interface SweepFailedEvent {
  /** Always `sweep.failed`. */
  type: "sweep.failed";
  /** When it failed. */
  at: Date;
  /** The error's message. */
  message: string;
}

/**
 * The lifecycle notices `keys.sweep()` emits and returns.
 *
 * @example
 * const { notices } = await keys.sweep(); // LifecycleEvent[]
 */
export type LifecycleEvent = KeyExpiringEvent | QuotaThresholdEvent | KeyIdleEvent;

/**
 * The counter store (rate limits, quotas) failed or timed out on a request, and the route's
 * `onStoreError` mode decided: `closed` refused it (503), `open` admitted it uncounted, `local`
 * counted it in this process. At most one per mode every 10 s: `suppressed` counts the failures
 * since the previous one that were not reported. Never carries the store's error message.
 *
 * @example
 * onEvent: (e) => { if (e.type === "counters.unavailable") log.warn(`counter store down (${e.mode}): ${1 + e.suppressed} requests since last report`); }
 */
export interface CountersUnavailableEvent {
  /** Always `counters.unavailable`. */
  type: "counters.unavailable";
  /** When the failure was seen. */
  at: Date;
  /** What the route did: `closed` (503), `open` (admitted uncounted) or `local` (counted in this process). */
  mode: "closed" | "open" | "local";
  /** The key of the request that met the failure. */
  keyId: string;
  /** Failures on routes of this mode since the previous event that were not reported. */
  suppressed: number;
}

/**
 * Everything `onEvent` can receive.
 *
 * @example
 * const keys = new KeyManager({ store, onEvent: (event: KeywardEvent) => log.info(event) });
 */
export type KeywardEvent =
  | KeyEvent
  | KeyLeakedEvent
  | AuthSucceededEvent
  | AuthFailedEvent
  | UsageFlushFailedEvent
  | ChannelSilentEvent
  | ChannelRestoredEvent
  | LifecycleEvent
  | SweepFailedEvent
  | CountersUnavailableEvent;
