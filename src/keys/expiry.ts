/**
 * Expiry policy: when a new key expires (`expiresIn` / `expiresAt`, the default lifetime and the
 * allowed lifetimes) and how long a rotated-away key keeps working (the overlap, bounded by
 * `maxRotationOverlap`). Pure functions of the configuration and the clock; refusals are 422.
 */
import { DAY_MS, formatDuration, parseDuration } from "../core/duration.js";
import { validationFailed } from "../core/refusals.js";
import type { ManagerConfig } from "./options.js";

type ExpiryPolicy = Pick<ManagerConfig, "allowedTtls" | "defaultTtlMs">;

/**
 * The expiry (ms since the epoch, or null for none) of a key created at `now`. Throws 422
 * `validation_failed` naming the field for a bad or disallowed lifetime.
 *
 * @example
 * expiryFor({ allowedTtls: undefined, defaultTtlMs: null }, "90d", undefined, now); // now + 90 days
 */
export function expiryFor(
  policy: ExpiryPolicy,
  expiresIn: string | number | null | undefined,
  expiresAt: Date | number | string | null | undefined,
  now: number,
): number | null {
  const fail = (path: string, message: string): never => {
    throw validationFailed(path, message);
  };
  if (expiresIn !== undefined && expiresAt !== undefined) fail("expiresIn", "give expiresIn or expiresAt, not both");
  const allowed = policy.allowedTtls;
  if (expiresAt !== undefined && expiresAt !== null) {
    if (allowed) fail("expiresAt", "this server only accepts expiresIn, with one of the allowed lifetimes");
    const at = expiresAt instanceof Date ? expiresAt.getTime() : typeof expiresAt === "number" ? expiresAt : Date.parse(expiresAt);
    if (!Number.isFinite(at)) fail("expiresAt", "is not a date");
    if (at <= now) fail("expiresAt", "is in the past");
    if (at - now > 100 * 365 * DAY_MS) fail("expiresAt", "is more than 100 years away");
    return at;
  }
  if (expiresAt === null && expiresIn === undefined) expiresIn = null;
  let ttl: number | null;
  if (expiresIn === undefined) ttl = policy.defaultTtlMs;
  else if (expiresIn === null) ttl = null;
  else {
    ttl = parseDuration(expiresIn, "expiresIn");
    if (ttl <= 0) fail("expiresIn", "must be longer than zero");
  }
  if (allowed && !allowed.includes(ttl)) {
    const shown = allowed.map((ms) => (ms === null ? "none" : formatDuration(ms))).join(", ");
    fail("expiresIn", `must be one of the allowed lifetimes: ${shown}`);
  }
  return ttl === null ? null : now + ttl;
}

/**
 * The overlap a rotation asked for, in ms: a day by default (or the maximum when that is shorter);
 * longer than `maxRotationOverlap` is 422 `validation_failed`.
 *
 * @example
 * overlapFor(7 * 86_400_000, "24h"); // 86400000
 * overlapFor(7 * 86_400_000, "36500d"); // throws validation_failed
 */
export function overlapFor(maxMs: number, overlap: string | number | undefined): number {
  if (overlap === undefined) return Math.min(DAY_MS, maxMs);
  const ms = parseDuration(overlap, "overlap");
  if (ms > maxMs)
    throw validationFailed("overlap", `must be at most ${formatDuration(maxMs)} (maxRotationOverlap): the rotated-away key keeps working that long`);
  return ms;
}
