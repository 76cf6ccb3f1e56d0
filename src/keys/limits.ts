/**
 * Limits: tiers (monthly quota, max active keys, rate limit), fixed rate-limit windows and UTC
 * calendar months. Pure functions over a clock reading; the counters themselves live in a store.
 */
import type { LimitState, RateLimitRule } from "../core/types.js";

export type { LimitState };

/** A tier as resolved at construction: `null` means unlimited. */
export interface ResolvedTier {
  monthlyRequests: number | null;
  maxActiveKeys: number | null;
  rateLimit: RateLimitRule | null;
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
  return { ...limit, remaining: Math.min(limit.limit, limit.remaining + 1) };
}
