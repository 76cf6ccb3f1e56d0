/**
 * Cross-site request checks for the management router: a state-changing request must come from
 * the same origin (Fetch Metadata `Sec-Fetch-Site`, then `Origin` against `Host`), and a body must
 * be `application/json`, which an HTML form cannot send. Pure functions of the request headers.
 */
import type { IncomingMessage } from "node:http";
import type { KeywardError } from "../core/errors.js";
import { CROSS_SITE, NOT_JSON } from "../core/refusals.js";

/** Methods that change state and are therefore checked. */
export const UNSAFE_METHODS: ReadonlySet<string> = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * The refusal for a cross-site state-changing request, or null. Refused: `Sec-Fetch-Site` present
 * and not `same-origin`/`none`; `Origin` present (including `null`) and its host differing from `Host`.
 *
 * @example
 * const error = crossSiteError(req); // KeywardError("forbidden") for a post from another site
 */
export function crossSiteError(req: IncomingMessage): KeywardError | null {
  if (!UNSAFE_METHODS.has(req.method ?? "GET")) return null;
  const site = req.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin" && site !== "none") return CROSS_SITE;
  const origin = req.headers.origin;
  if (origin !== undefined) {
    const host = req.headers.host;
    if (host === undefined || originHost(origin) !== host.toLowerCase()) return CROSS_SITE;
  }
  return null;
}

/** `host[:port]` of an Origin header value, lower-cased, or null when it is not an http(s) origin. */
function originHost(origin: string): string | null {
  try {
    const url = new URL(origin);
    return url.protocol === "http:" || url.protocol === "https:" ? url.host.toLowerCase() : null;
  } catch {
    return null;
  }
}

/** Whether the request carries a body (a non-zero Content-Length or any Transfer-Encoding). */
export function hasBody(req: IncomingMessage): boolean {
  if (req.headers["transfer-encoding"] !== undefined) return true;
  const length = req.headers["content-length"];
  return length !== undefined && length !== "0";
}

/**
 * The 415 for a POST/PATCH/PUT body that is not `application/json`, or null. Requests without a
 * body pass (e.g. `POST /:id/rotate` with the default overlap).
 *
 * @example
 * jsonBodyError(req); // KeywardError("unsupported_media_type") for a form post
 */
export function jsonBodyError(req: IncomingMessage): KeywardError | null {
  const method = req.method ?? "GET";
  if (method !== "POST" && method !== "PATCH" && method !== "PUT") return null;
  if (!hasBody(req)) return null;
  const type = req.headers["content-type"];
  if (type === undefined) return NOT_JSON;
  const semicolon = type.indexOf(";");
  const essence = (semicolon < 0 ? type : type.slice(0, semicolon)).trim().toLowerCase();
  return essence === "application/json" ? null : NOT_JSON;
}
