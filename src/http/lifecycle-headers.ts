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

/**
 * Sets the notice's `Deprecation` and `Sunset` on `target`, and appends `link` to a `Link` header
 * already set; `set` and `get` are called on `target` (node's `res.setHeader` / `res.getHeader`,
 * Fastify's `reply.header` / `reply.getHeader`).
 *
 * @example
 * setLifecycleFields(res, res.setHeader, res.getHeader, key.notice, '<https://example.com/rotate>; rel="deprecation"');
 */
export function setLifecycleFields<T>(
  target: T,
  set: (this: T, name: string, value: string | string[]) => unknown,
  get: (this: T, name: string) => unknown,
  notice: LifecycleNotice,
  link: string | null,
): void {
  set.call(target, "deprecation", notice.deprecation);
  if (notice.sunset !== null) set.call(target, "sunset", notice.sunset);
  if (link === null) return;
  const existing = get.call(target, "link");
  set.call(target, "link", existing === undefined ? link : [...(Array.isArray(existing) ? existing.map(String) : [String(existing)]), link]);
}

/** Writes the notice's headers on a node:http response (appending to a `Link` header already set). */
export function writeLifecycleHeaders(res: ServerResponse, notice: LifecycleNotice, link: string | null): void {
  setLifecycleFields(res, res.setHeader, res.getHeader, notice, link);
}
