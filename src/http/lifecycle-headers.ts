/**
 * Lifecycle headers: a request made with a key in its rotation overlap, or within
 * `warnBeforeExpiry` of its expiry, is told so with `Deprecation` (RFC 9745), `Sunset` (RFC 8594)
 * and, when the app names a page, `Link: <url>; rel="deprecation"`. The values are computed once
 * per cache fill (see `keys/authenticator.ts`); this only writes them.
 */
import type { ServerResponse } from "node:http";
import type { LifecycleNotice } from "../keys/authenticator.js";

/** The `Link` value for `url`, or null without one. */
export function deprecationLinkValue(url: string | undefined): string | null {
  return url === undefined ? null : `<${url}>; rel="deprecation"`;
}

/** Writes the notice's headers (appending to a `Link` header already set). */
export function writeLifecycleHeaders(res: ServerResponse, notice: LifecycleNotice, link: string | null): void {
  res.setHeader("Deprecation", notice.deprecation);
  if (notice.sunset !== null) res.setHeader("Sunset", notice.sunset);
  if (link === null) return;
  const existing = res.getHeader("Link");
  res.setHeader("Link", existing === undefined ? link : [...(Array.isArray(existing) ? existing : [String(existing)]), link]);
}
