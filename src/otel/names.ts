/**
 * The metric, span and attribute names `keyward/otel` records, in one place (they are part of the
 * public contract: dashboards and alerts are built on them).
 */

/**
 * The names of the instruments `instrument()` creates.
 *
 * @example
 * import { METRIC } from "keyward/otel";
 * const refusals = collected.get(METRIC.verifications); // a counter, by keyward.outcome and keyward.code
 */
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

/**
 * The name of the span every verification gets.
 *
 * @example
 * import { SPAN_NAME } from "keyward/otel";
 * const verifications = exporter.getFinishedSpans().filter((s) => s.name === SPAN_NAME);
 */
export const SPAN_NAME = "keyward.verify";

/**
 * The attribute names on keyward's metrics and spans.
 *
 * @example
 * import { ATTR } from "keyward/otel";
 * const keyId = span.attributes[ATTR.keyId]; // the key's id, never the secret
 */
export const ATTR = {
  /** `admitted`, `refused` or `error`. */
  outcome: "keyward.outcome",
  /** The refusal code, e.g. `key_revoked` (refusals only). */
  code: "keyward.code",
  /** The key's id (spans only). */
  keyId: "keyward.key.id",
  /** The key's mode (spans only). */
  keyMode: "keyward.key.mode",
  /** `hit` or `miss`. */
  cacheResult: "keyward.cache.result",
  /** `keys` or `unknown` (the cache-size gauge). */
  cacheKind: "keyward.cache.kind",
  /** The limit's policy: `window` or `monthly`. */
  limitPolicy: "keyward.limit.policy",
  /** `admitted` or `refused`. */
  limitDecision: "keyward.limit.decision",
  /** `keys` or `counters`. */
  store: "keyward.store",
  /** The store method (`findByHash`, …), or `charge` for the counters. */
  storeOperation: "keyward.store.operation",
  /** `ok` or `error` (a failure or a timeout). */
  storeOutcome: "keyward.store.outcome",
  /** The route's `onStoreError`: `closed`, `open` or `local`. */
  storeErrorMode: "keyward.store_error.mode",
  /** `last`, `p50`, `p99` or `max` (the revocation-lag gauge). */
  statistic: "keyward.statistic",
} as const;
