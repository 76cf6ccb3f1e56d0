/**
 * RateLimit header writers. `draft`: the IETF fields of draft-ietf-httpapi-ratelimit-headers
 * (RateLimit-Policy: "window";q=100;w=60 / RateLimit: "window";r=99;t=42). `legacy`: the older
 * RateLimit-Limit / -Remaining / -Reset trio for the most constrained policy.
 */
import type { ServerResponse } from "node:http";
import { policyField, stateField } from "../core/ratelimit-fields.js";
import type { LimitState } from "../core/types.js";

/**
 * Which rate-limit headers to write: the current draft (default), the legacy trio, both, or none.
 *
 * @example
 * app.use(apiKeyAuth({ keys, rateLimitHeaders: "both" })); // draft RateLimit + legacy X-RateLimit-*
 */
export type RateLimitHeaderStyle = "draft" | "legacy" | "both" | false;

/**
 * Writes the headers for `limits` on `res`. `policy` is the RateLimit-Policy value when the caller
 * already has it (a charge carries it, cached per window); otherwise it is formatted here.
 */
export function writeRateLimitHeaders(res: ServerResponse, limits: readonly LimitState[], style: RateLimitHeaderStyle, policy?: string): void {
  if (style === false || limits.length === 0 || res.headersSent) return;
  if (style === "draft" || style === "both") {
    res.setHeader("RateLimit-Policy", policy || policyField(limits));
    res.setHeader("RateLimit", stateField(limits));
  }
  if (style === "legacy" || style === "both") {
    let tightest = limits[0]!;
    for (const l of limits) if (l.remaining < tightest.remaining) tightest = l;
    res.setHeader("RateLimit-Limit", String(tightest.limit));
    res.setHeader("RateLimit-Remaining", String(tightest.remaining));
    res.setHeader("RateLimit-Reset", String(tightest.resetSeconds));
  }
}
