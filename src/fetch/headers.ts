/**
 * Header helpers for the Fetch adapter: reading a credential from a Web `Headers` object (where a
 * header sent twice arrives joined with ", "), and the RateLimit and lifecycle header values an
 * admitted or refused request carries. No node:http, no Express: runs on Node, Bun and Deno.
 */
import { setRateLimitFields } from "../core/ratelimit-fields.js";
import type { LimitState } from "../core/types.js";
import type { LifecycleNotice } from "../keys/authenticator.js";
import { JOINED, type HeaderLookup } from "../http/credentials.js";

/**
 * Header `lowerName` of a Fetch `Request`. `Headers` joins repeats with ", ", and no API key or
 * b64token (RFC 6750 §2.1) contains a comma, so a comma means the credential was sent more than
 * once or is malformed: it is refused as malformed (400 `invalid_request` for Bearer, RFC 6750).
 */
export const fetchHeader: HeaderLookup<Request> = (request, lowerName) => {
  const value = request.headers.get(lowerName);
  if (value === null) return undefined;
  return value.includes(",") ? JOINED : value;
};

/** Where header values are written: a Web `Headers`, or a {@link HeaderList}. */
export interface HeaderSink {
  set(name: string, value: string): void;
  append(name: string, value: string): void;
}

/**
 * The headers an admitted request's response gets, as a flat `[name, value, …]` list of lowercase
 * names, one entry per name (an appended value joins the first with ", ", as `Headers` does).
 * Cheaper than a `Headers` object to fill and read on every request.
 */
export class HeaderList implements HeaderSink {
  readonly fields: string[] = [];

  set(name: string, value: string): void {
    const fields = this.fields;
    for (let i = 0; i < fields.length; i += 2) {
      if (fields[i] === name) {
        fields[i + 1] = value;
        return;
      }
    }
    fields.push(name, value);
  }

  append(name: string, value: string): void {
    const fields = this.fields;
    for (let i = 0; i < fields.length; i += 2) {
      if (fields[i] === name) {
        fields[i + 1] += `, ${value}`;
        return;
      }
    }
    fields.push(name, value);
  }

  /** The list as a Web `Headers`. */
  toHeaders(): Headers {
    const headers = new Headers();
    const fields = this.fields;
    for (let i = 0; i < fields.length; i += 2) headers.set(fields[i]!, fields[i + 1]!);
    return headers;
  }
}

/** Which RateLimit headers to send (see `apiKeyAuth`'s `rateLimitHeaders`). */
export type FetchRateLimitStyle = "draft" | "legacy" | "both" | false;

/** Sets the RateLimit headers for `limits` on `headers` (nothing for `false` or no limits). */
export function setRateLimitHeaders(headers: HeaderSink, limits: readonly LimitState[], style: FetchRateLimitStyle, policy?: string): void {
  setRateLimitFields(headers, headers.set, limits, style, policy);
}

/** Sets `Deprecation`, `Sunset` and (with a page) `Link: <url>; rel="deprecation"` on `headers`. */
export function setLifecycleHeaders(headers: HeaderSink, notice: LifecycleNotice, link: string | null): void {
  headers.set("deprecation", notice.deprecation);
  if (notice.sunset !== null) headers.set("sunset", notice.sunset);
  if (link !== null) headers.append("link", link);
}
