/**
 * Limits: tiers (monthly quota, max active keys, named rate limits, counted per key or per owner),
 * fixed rate-limit windows, UTC calendar months and credit refill periods. Pure functions over a
 * clock reading; the counters themselves live in a store.
 */
import { durationMs } from "../core/duration.js";
import type { LimitState, RateLimitRule } from "../core/types.js";

export type { LimitState };

/** One rate limit with its policy name (`"window"` for the single form). */
export interface NamedRule extends RateLimitRule {
  /** The policy name in the RateLimit headers and in counter names. */
  readonly name: string;
}

/**
 * Whose requests a tier's limits count: each key's own, or all keys of one owner together.
 *
 * @example
 * const per: CountPer = "owner"; // tiers: { team: { monthlyRequests: 100_000, countPer: per } }
 */
export type CountPer = "key" | "owner";

/** A tier as resolved at construction: `null` means unlimited. */
export interface ResolvedTier {
  monthlyRequests: number | null;
  maxActiveKeys: number | null;
  /** The tier's rate limits, in the order given (one `"window"` rule for the single form). */
  rateLimit: readonly NamedRule[] | null;
  /** Whether monthly requests and rate limits are counted per key (default) or per owner. */
  countPer: CountPer;
}

/** The policy name of the single `{ limit, window }` rate limit. */
export const SINGLE_POLICY = "window";

/**
 * `{ limit, windowMs }` from `"10/s"`, `"1000/h"`, `"100/1m"` or `"5/10s"`, or null when not of that form.
 *
 * @example
 * parseRate("1000/h"); // { limit: 1000, windowMs: 3_600_000 }
 */
export function parseRate(text: string): RateLimitRule | null {
  const match = /^\s*(\d{1,15})\s*\/\s*(\d{0,12}(?:ms|s|m|h|d|w))\s*$/.exec(text);
  if (!match) return null;
  const windowMs = durationMs(/^\d/.test(match[2]!) ? match[2] : `1${match[2]}`);
  const limit = Number(match[1]);
  if (windowMs === null || !Number.isSafeInteger(limit) || limit < 1) return null;
  return { limit, windowMs };
}

/** Far in the future: the "window end" of credits that never refill. */
export const NEVER = 253_402_300_800_000; // 10000-01-01T00:00:00Z

/**
 * The credit period holding `now` for a refill `interval` (`"1mo"`: UTC months; a duration:
 * windows aligned to the epoch), or the one endless period when credits never refill.
 *
 * @example
 * creditPeriod(Date.UTC(2026, 10, 23, 9), "1d"); // { start: Date.UTC(2026, 10, 23), resetAt: Date.UTC(2026, 10, 24) }
 */
export function creditPeriod(now: number, interval: string | null): { start: number; resetAt: number } {
  if (interval === null) return { start: 0, resetAt: NEVER };
  if (interval === "1mo") return utcMonth(now);
  return fixedWindow(now, durationMs(interval) ?? NEVER);
}

/**
 * The fixed window holding `now`: windows are aligned to the epoch, so every process agrees.
 *
 * @example
 * fixedWindow(Date.UTC(2026, 10, 23, 12, 0, 30), 60_000); // { start: …12:00:00, resetAt: …12:01:00 }
 */
export function fixedWindow(
  now: number,
  windowMs: number,
): {
  /** The window's first ms. */ start: number;
  /** The first ms after the window. */ resetAt: number;
} {
  const start = now - (now % windowMs);
  return { start, resetAt: start + windowMs };
}

/**
 * The UTC calendar month holding `now`: its label (`2026-11`), start and the next 1st 00:00 UTC.
 *
 * @example
 * utcMonth(Date.UTC(2026, 10, 23)).label; // "2026-11"
 */
export function utcMonth(now: number): {
  /** `YYYY-MM`. */ label: string;
  /** 00:00 UTC on the 1st, ms. */ start: number;
  /** 00:00 UTC on the next 1st, ms. */ resetAt: number;
} {
  const d = new Date(now);
  const year = d.getUTCFullYear();
  const month = d.getUTCMonth();
  return {
    label: `${year}-${String(month + 1).padStart(2, "0")}`,
    start: Date.UTC(year, month, 1),
    resetAt: Date.UTC(year, month + 1, 1),
  };
}

/** Whole seconds from `now` to `resetAt`, at least 1 (for `Retry-After`). */
export function secondsUntil(resetAt: number, now: number): number {
  return Math.max(1, Math.ceil((resetAt - now) / 1000));
}

/**
 * `limit` as it stands once this request's unit is given back (a later check refused it).
 *
 * @example
 * withUnitReturned({ policy: "window", limit: 100, remaining: 41, windowSeconds: 60, resetSeconds: 9 }).remaining; // 42
 */
export function withUnitReturned(limit: LimitState): LimitState {
  return withUnitsReturned(limit, 1);
}

/**
 * `limit` as it stands once `units` taken by this request are given back.
 *
 * @example
 * withUnitsReturned({ policy: "credits", limit: 1000, remaining: 990, windowSeconds: 86_400, resetSeconds: 60 }, 10).remaining; // 1000
 */
export function withUnitsReturned(limit: LimitState, units: number): LimitState {
  return { ...limit, remaining: Math.min(limit.limit, limit.remaining + units) };
}
