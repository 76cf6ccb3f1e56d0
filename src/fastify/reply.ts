/**
 * Fastify replies for keyward: the RateLimit and lifecycle headers of an admitted request, and
 * refusals with the same status, `WWW-Authenticate`, `Cache-Control`, `Retry-After`, RateLimit
 * headers and JSON body as the Express/Connect responder (`http/respond.ts`) and the Fetch adapter.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { KeywardError } from "../core/errors.js";
import { setRateLimitFields } from "../core/ratelimit-fields.js";
import type { LimitState } from "../core/types.js";
import type { LifecycleNotice } from "../keys/authenticator.js";
import { wwwAuthenticate } from "../http/challenge.js";
import { setLifecycleFields } from "../http/lifecycle-headers.js";

/**
 * Shapes the body of a refusal from the Fastify plugin. Defaults to `{ error: { code, message } }`.
 *
 * @example
 * const formatError: FastifyFormatError = (e) => ({ data: null, error: e.message });
 * await app.register(keyward, { keys, formatError });
 */
export type FastifyFormatError = (error: KeywardError, request: FastifyRequest) => unknown;

/**
 * Which RateLimit headers to send (see `apiKeyAuth`'s `rateLimitHeaders`).
 *
 * @example
 * await app.register(keyward, { keys, rateLimitHeaders: "both" }); // draft RateLimit + legacy RateLimit-Limit/-Remaining/-Reset
 */
export type FastifyRateLimitStyle = "draft" | "legacy" | "both" | false;

/** How one registration answers refusals; resolved once. */
export interface FastifyResponder {
  readonly realm: string;
  readonly scheme: string;
  readonly formatError: FastifyFormatError | undefined;
  readonly rateLimitHeaders: FastifyRateLimitStyle;
}

/** Sets the RateLimit headers for `limits` on `reply` (nothing for `false` or no limits). */
export function replyRateLimitHeaders(reply: FastifyReply, limits: readonly LimitState[], style: FastifyRateLimitStyle, policy?: string): void {
  setRateLimitFields(reply, reply.header, limits, style, policy);
}

/** Sets `Deprecation`, `Sunset` and (with a page) `Link: <url>; rel="deprecation"` on `reply`. */
export function replyLifecycleHeaders(reply: FastifyReply, notice: LifecycleNotice, link: string | null): void {
  setLifecycleFields(reply, reply.header, reply.getHeader, notice, link);
}

/**
 * Answers `error` on `reply`. Throws what `formatError` throws (the hook hands it to Fastify's
 * error handler), before anything is sent.
 */
export function sendRefusal(request: FastifyRequest, reply: FastifyReply, error: KeywardError, responder: FastifyResponder): void {
  const body = responder.formatError ? responder.formatError(error, request) : { error: error.toJSON() };
  for (const name in error.headers) reply.header(name, error.headers[name]!);
  if (error.limits) replyRateLimitHeaders(reply, error.limits, responder.rateLimitHeaders);
  const challenge = wwwAuthenticate(error, responder);
  if (challenge) reply.header("www-authenticate", challenge);
  if (error.status === 401) reply.header("cache-control", "no-store");
  // A string with a JSON content type is sent as is: the same bytes the other adapters send.
  reply.code(error.status).type("application/json; charset=utf-8").send(JSON.stringify(body));
}
