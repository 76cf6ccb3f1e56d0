/**
 * The values of the IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers):
 * `RateLimit-Policy: "burst";q=10;w=1, "sustained";q=1000;w=3600` lists every policy that applies;
 * `RateLimit: "burst";r=9;t=1` reports the tightest one only (the fewest units left; on a tie, the
 * one that resets first), the one that decides when the client is throttled next. Pure string
 * formatting, shared by the key meter (which caches the policy value) and the HTTP adapters, and
 * the one rule of which fields each header style writes ({@link setRateLimitFields}).
 */
import type { LimitState } from "./types.js";

/**
 * The `RateLimit-Policy` value for `limits`: which quotas apply and over what window.
 *
 * @example
 * policyField([{ policy: "window", limit: 100, remaining: 99, windowSeconds: 60, resetSeconds: 42 }]);
 * // '"window";q=100;w=60'
 */
export function policyField(limits: readonly Pick<LimitState, "policy" | "limit" | "windowSeconds">[]): string {
  let field = "";
  for (let i = 0; i < limits.length; i++) {
    const l = limits[i]!;
    // Credits that never refill have no window: no `w` (and no `t` in the RateLimit field).
    field += l.windowSeconds > 0 ? `${i ? ", " : ""}"${l.policy}";q=${l.limit};w=${l.windowSeconds}` : `${i ? ", " : ""}"${l.policy}";q=${l.limit}`;
  }
  return field;
}

/**
 * The tightest of `limits` (at least one): the fewest units left; on a tie, the one that resets
 * first (a limit that never resets, `resetSeconds` 0, last); on a full tie, the first listed.
 *
 * @example
 * tightestLimit([burst, sustained]).policy; // "sustained" once it has fewer units left than "burst"
 */
export function tightestLimit(limits: readonly LimitState[]): LimitState {
  let tightest = limits[0]!;
  for (let i = 1; i < limits.length; i++) {
    const l = limits[i]!;
    if (l.remaining < tightest.remaining) tightest = l;
    else if (l.remaining === tightest.remaining && l.resetSeconds > 0 && (tightest.resetSeconds === 0 || l.resetSeconds < tightest.resetSeconds)) tightest = l;
  }
  return tightest;
}

/**
 * The `RateLimit` value for `limits` (at least one): what is left of the tightest policy and when
 * it resets (`RateLimit-Policy` lists them all).
 *
 * @example
 * stateField([{ policy: "window", limit: 100, remaining: 99, windowSeconds: 60, resetSeconds: 42 }]);
 * // '"window";r=99;t=42'
 */
export function stateField(limits: readonly LimitState[]): string {
  const l = limits.length === 1 ? limits[0]! : tightestLimit(limits);
  return l.resetSeconds > 0 ? `"${l.policy}";r=${l.remaining};t=${l.resetSeconds}` : `"${l.policy}";r=${l.remaining}`;
}

/**
 * Sets one header on `target`, called as `set.call(target, name, value)`: node's
 * `res.setHeader`, Fastify's `reply.header`, a Web `Headers`' `set`. Looked up once per call of
 * {@link setRateLimitFields}, not once per field.
 */
export type HeaderSetter<T> = (this: T, name: string, value: string) => unknown;

/**
 * Sets the RateLimit fields of `limits` on `target` in `style` (nothing for `false` or no limits):
 * `draft` writes `RateLimit-Policy` (`policy` when the caller has it, formatted otherwise) and
 * `RateLimit`; `legacy` the `RateLimit-Limit` / `-Remaining` / `-Reset` trio of the tightest
 * limit; `both` all five. Names are lowercase (field names are case-insensitive, RFC 9110 §5.1).
 *
 * @example
 * setRateLimitFields(res, res.setHeader, charge.limits, "draft", charge.policy);
 */
export function setRateLimitFields<T>(
  target: T,
  set: HeaderSetter<T>,
  limits: readonly LimitState[],
  style: "draft" | "legacy" | "both" | false,
  policy?: string,
): void {
  if (style === false || limits.length === 0) return;
  if (style === "draft" || style === "both") {
    set.call(target, "ratelimit-policy", policy || policyField(limits));
    set.call(target, "ratelimit", stateField(limits));
  }
  if (style === "legacy" || style === "both") {
    const tightest = tightestLimit(limits);
    set.call(target, "ratelimit-limit", String(tightest.limit));
    set.call(target, "ratelimit-remaining", String(tightest.remaining));
    set.call(target, "ratelimit-reset", String(tightest.resetSeconds));
  }
}
