/**
 * The result types of KeyManager operations that users name in their own code: what `verify()`
 * answers, one page of `list()`, the cache occupancy, `stats()`.
 */
import type { KeywardError } from "../core/errors.js";
import type { ApiKey, AuthenticatedKey } from "../core/types.js";
import type { LimitState } from "./limits.js";

/**
 * What `verify` answers.
 *
 * @example
 * import type { VerifyResult } from "keyward";
 * const result: VerifyResult = await keys.verify(secret, { modes: ["live"] });
 * if (result.ok) console.log(result.key.id, result.limits);
 * else console.log(result.error.status, result.error.code); // e.g. 401 "invalid_key"
 */
export type VerifyResult =
  | {
      /** The key passed. */ ok: true;
      /** The key, as `req.apiKey` would show it. */ key: AuthenticatedKey;
      /** The limits that applied. */ limits: readonly LimitState[];
    }
  | {
      /** The key was refused. */ ok: false;
      /** Why: `invalid_key`, `key_revoked`, `insufficient_scope`, … */ error: KeywardError;
    };

/**
 * One page of `list`.
 *
 * @example
 * import type { ApiKey, KeyPage } from "keyward";
 * const all: ApiKey[] = [];
 * let page: KeyPage = await keys.list({ ownerId: "user_1" });
 * all.push(...page.keys);
 * while (page.next) {
 *   page = await keys.list({ ownerId: "user_1", before: page.next });
 *   all.push(...page.keys);
 * }
 */
export interface KeyPage {
  /** The keys on this page, newest first. */
  keys: ApiKey[];
  /** Pass as `before` to get the next page; null on the last page. */
  next: string | null;
}

/**
 * How full the verification cache is (`keys.cacheSize`).
 *
 * @example
 * const { keys: cached, unknown } = keys.cacheSize;
 */
export interface CacheSize {
  /** Verified keys cached. */
  keys: number;
  /** Unknown hashes cached. */
  unknown: number;
}

/**
 * The invalidation channel's health and measured propagation lag (`keys.stats().channel`).
 *
 * @example
 * const { state, lagMs } = keys.stats().channel;
 * if (state === "silent") log.warn("keyward: invalidation channel silent; cache entries re-read after maxStaleness");
 * metrics.gauge("keyward.invalidation_lag_p99_ms", lagMs.p99 ?? 0);
 */
export interface ChannelStats {
  /** `none` (no channel attached), `healthy` (it vouches for the cache), `silent` (entries older than `maxStalenessMs` are re-read). */
  state: "none" | "healthy" | "silent";
  /** The configured bound (`maxStaleness`), in ms. */
  maxStalenessMs: number;
  /** Until when the channel vouches (if nothing more is heard), or null. */
  vouchedUntil: Date | null;
  /** Delay from a message's publication (sender's clock) to its arrival here, over the last 512 messages; null before any. */
  lagMs: {
    /** The latest message's. */ last: number | null;
    /** Median. */ p50: number | null;
    /** 99th percentile. */ p99: number | null;
    /** Largest. */ max: number | null;
    /** Messages measured since start. */ samples: number;
  };
}

/**
 * What `keys.stats()` answers.
 *
 * @example
 * const { cache, channel } = keys.stats(); // { cache: { keys: 12, unknown: 0 }, channel: { state: "healthy", … } }
 */
export interface KeywardStats {
  /** Cache occupancy. */
  cache: CacheSize;
  /** The invalidation channel. */
  channel: ChannelStats;
}

/**
 * What `create` returns: the secret, shown this once (only its hash is stored), and the key.
 *
 * @example
 * const { secret, key }: CreatedKey = await keys.create({ name: "ci" });
 */
export interface CreatedKey {
  /** The key itself, shown this once; only its hash is stored. */
  secret: string;
  /** The new key's record. */
  key: ApiKey;
}

/**
 * What `rotate` returns: the successor's secret (shown this once), the successor and the old key.
 *
 * @example
 * const { secret, key, previous }: RotatedKey = await keys.rotate(id, { overlap: "24h" });
 */
export interface RotatedKey {
  /** The successor's secret, shown this once. */
  secret: string;
  /** The successor. */
  key: ApiKey;
  /** The old key, now in its overlap (or revoked with `overlap: 0`). */
  previous: ApiKey;
}

/**
 * Options of `rotate`.
 *
 * @example
 * const options: RotateOptions = { overlap: "24h", expiresIn: "90d" };
 */
export interface RotateOptions {
  /** How long the old key keeps working: a duration up to `maxRotationOverlap`, or 0 to revoke it now. Defaults to `"24h"`. */
  overlap?: string | number;
  /** The successor's lifetime. Defaults to the old key's lifetime length. */
  expiresIn?: string | number | null;
}
