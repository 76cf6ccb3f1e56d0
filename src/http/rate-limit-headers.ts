/**
 * RateLimit header writers. `draft`: the IETF fields of draft-ietf-httpapi-ratelimit-headers
 * (RateLimit-Policy lists every policy: "window";q=100;w=60, "monthly";q=10000;w=2592000 /
 * RateLimit reports the tightest: "window";r=99;t=42). `legacy`: the older RateLimit-Limit /
 * -Remaining / -Reset trio for the same tightest policy.
 */
import { OutgoingMessage, type ServerResponse } from "node:http";
import { policyField, setRateLimitFields, stateField } from "../core/ratelimit-fields.js";
import type { LimitState } from "../core/types.js";

/**
 * Which rate-limit headers to write: the current draft (default), the legacy trio, both, or none.
 *
 * @example
 * app.use(apiKeyAuth({ keys, rateLimitHeaders: "both" })); // draft RateLimit + legacy X-RateLimit-*
 */
export type RateLimitHeaderStyle = "draft" | "legacy" | "both" | false;

/** `res.setHeader` of node:http responses (and of Express's and Connect's, which inherit it). */
const NODE_SET_HEADER = OutgoingMessage.prototype.setHeader;

/**
 * Writes the headers for `limits` on `res`. Names are written in lowercase (field names are
 * case-insensitive, RFC 9110 §5.1): Node then stores them without lowercasing a copy per request. `policy` is the RateLimit-Policy value when the caller
 * already has it (a charge carries it, cached per window); otherwise it is formatted here.
 */
export function writeRateLimitHeaders(res: ServerResponse, limits: readonly LimitState[], style: RateLimitHeaderStyle, policy?: string): void {
  // No `res.headersSent` check first: that is one more property lookup per request, expensive on
  // Express's per-request hidden classes. Headers that were already sent make setHeader throw.
  // One lookup of setHeader (Express's responses make every lookup a slow one).
  try {
    const set = res.setHeader;
    // Node's own setHeader (Express and Connect keep it) with the default style: the two `draft`
    // fields of setRateLimitFields, set through a constant function V8 can inline.
    if (set === NODE_SET_HEADER && style === "draft" && limits.length > 0) {
      NODE_SET_HEADER.call(res, "ratelimit-policy", policy || policyField(limits));
      NODE_SET_HEADER.call(res, "ratelimit", stateField(limits));
    } else setRateLimitFields(res, set, limits, style, policy);
  } catch (error) {
    if ((error as { code?: unknown }).code !== "ERR_HTTP_HEADERS_SENT") throw error;
  }
}
