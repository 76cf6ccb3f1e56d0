/**
 * The values of the IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers):
 * `RateLimit-Policy: "window";q=100;w=60` and `RateLimit: "window";r=99;t=42`, one list member per
 * limit. Pure string formatting, shared by the key meter (which caches the policy value) and the
 * HTTP adapters.
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
 * The `RateLimit` value for `limits`: what is left of each and when it resets.
 *
 * @example
 * stateField([{ policy: "window", limit: 100, remaining: 99, windowSeconds: 60, resetSeconds: 42 }]);
 * // '"window";r=99;t=42'
 */
export function stateField(limits: readonly LimitState[]): string {
  let field = "";
  for (let i = 0; i < limits.length; i++) {
    const l = limits[i]!;
    field += l.resetSeconds > 0 ? `${i ? ", " : ""}"${l.policy}";r=${l.remaining};t=${l.resetSeconds}` : `${i ? ", " : ""}"${l.policy}";r=${l.remaining}`;
  }
  return field;
}
