/**
 * Refusals as Web `Response`s: the same status, `WWW-Authenticate`, `Cache-Control`, `Retry-After`
 * and RateLimit headers and JSON body as the Express/Connect responder (`http/respond.ts`) writes.
 */
import type { KeywardError } from "../core/errors.js";
import { wwwAuthenticate } from "../http/challenge.js";
import { setRateLimitHeaders, type FetchRateLimitStyle, type HeaderList } from "./headers.js";

/**
 * Shapes the body of a refusal from the Fetch adapter. Defaults to `{ error: { code, message } }`.
 *
 * @example
 * const formatError: FetchFormatError = (e) => ({ data: null, error: e.message });
 * const auth = fetchAuth({ keys, formatError });
 */
export type FetchFormatError = (error: KeywardError, request: Request) => unknown;

/** How one fetchAuth answers refusals; resolved once. */
export interface FetchResponder {
  readonly realm: string;
  readonly scheme: string;
  readonly formatError: FetchFormatError | undefined;
  readonly rateLimitHeaders: FetchRateLimitStyle;
}

/** The refusal `error` as a JSON `Response`, plus any `extra` headers (e.g. RateLimit after a refund). */
export function refusalResponse(request: Request, error: KeywardError, responder: FetchResponder, extra?: HeaderList): Response {
  const headers = extra ? extra.toHeaders() : new Headers();
  for (const name in error.headers) headers.set(name, error.headers[name]!);
  if (error.limits) setRateLimitHeaders(headers, error.limits, responder.rateLimitHeaders);
  const challenge = wwwAuthenticate(error, responder);
  if (challenge) headers.set("WWW-Authenticate", challenge);
  if (error.status === 401) headers.set("Cache-Control", "no-store");
  const body = responder.formatError ? responder.formatError(error, request) : { error: error.toJSON() };
  headers.set("Content-Type", "application/json; charset=utf-8");
  return new Response(JSON.stringify(body), { status: error.status, headers });
}
