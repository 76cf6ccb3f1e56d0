/**
 * The metric, span and attribute names `keyward/otel` records, in one place (they are part of the
 * public contract: dashboards and alerts are built on them).
 */

/** Instrument names. */
export const METRIC = {
  /** Counter: verifications and refusals, by `keyward.outcome` and `keyward.code`. */
  verifications: "keyward.verifications",
  /** Histogram (s): how long a verification took, by `keyward.outcome`. */
  verifyDuration: "keyward.verification.duration",
  /** Counter: verification-cache lookups, by `keyward.cache.result` (`hit` / `miss`). */
  cacheLookups: "keyward.cache.lookups",
  /** Counter: rate-limit and quota decisions, by `keyward.limit.policy` and `keyward.limit.decision`. */
  limiterDecisions: "keyward.limiter.decisions",
  /** Counter: refusals by a guard after the key was verified (e.g. `requireScope`), by `keyward.code`. */
  guardRefusals: "keyward.guard.refusals",
  /** Histogram (s): store calls on the request path, by `keyward.store`, `keyward.store.operation`, `keyward.store.outcome`. */
  storeDuration: "keyward.store.duration",
  /** Counter: counter-store failures met by requests, by `keyward.store_error.mode` (unsampled). */
  countersUnavailable: "keyward.counters.unavailable",
  /** Gauge (ms): invalidation propagation lag (`keys.stats().channel.lagMs`), by `keyward.statistic`. */
  revocationLag: "keyward.revocation.lag",
  /** Gauge: cached entries, by `keyward.cache.kind` (`keys` / `unknown`). */
  cacheSize: "keyward.cache.size",
} as const;

/** The span every verification gets. */
export const SPAN_NAME = "keyward.verify";

/** Attribute names. */
export const ATTR = {
  outcome: "keyward.outcome",
  code: "keyward.code",
  keyId: "keyward.key.id",
  keyMode: "keyward.key.mode",
  cacheResult: "keyward.cache.result",
  cacheKind: "keyward.cache.kind",
  limitPolicy: "keyward.limit.policy",
  limitDecision: "keyward.limit.decision",
  store: "keyward.store",
  storeOperation: "keyward.store.operation",
  storeOutcome: "keyward.store.outcome",
  storeErrorMode: "keyward.store_error.mode",
  statistic: "keyward.statistic",
} as const;
