/**
 * The error responder shared by apiKeyAuth, the guards and keysRouter: status, WWW-Authenticate
 * (RFC 6750 §3), Retry-After and RateLimit headers, and a JSON body shaped by `formatError`.
 * Uses only Node's `res` methods, so it works under Express, Connect and plain node:http.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { KeywardError } from "../core/errors.js";
import { writeRateLimitHeaders, type RateLimitHeaderStyle } from "./rate-limit-headers.js";
import { wwwAuthenticate } from "./challenge.js";

export { wwwAuthenticate };

/**
 * Shapes the body of a refusal. Defaults to `{ error: { code, message } }`.
 *
 * @example
 * const formatError: FormatError = (e) => ({ data: null, error: e.message });
 * app.use(apiKeyAuth({ keys, formatError }));
 */
export type FormatError = (error: KeywardError, req: IncomingMessage) => unknown;

/**
 * How refusals are answered; resolved once per middleware.
 *
 * @example
 * refuse(req, res, next, error, { realm: "api", scheme: "Bearer", formatError: undefined, forwardErrors: false, rateLimitHeaders: "draft" });
 */
export interface Responder {
  /** The realm in `WWW-Authenticate`. */
  readonly realm: string;
  /** `Bearer` for the Authorization header, `ApiKey` for a custom header. */
  readonly scheme: string;
  /** Shapes refusal bodies; `undefined` for the default body. */
  readonly formatError: FormatError | undefined;
  /** Pass refusals to `next(err)` instead of answering. */
  readonly forwardErrors: boolean;
  /** Which RateLimit headers to write. */
  readonly rateLimitHeaders: RateLimitHeaderStyle;
}

/**
 * Sends a JSON body with a status, unless headers were already sent.
 *
 * @example
 * sendJson(res, 200, { ok: true });
 */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader("Content-Type", "application/json; charset=utf-8");
  res.setHeader("Content-Length", Buffer.byteLength(text));
  res.end(text);
}

/**
 * Answers `error` on `res` (or forwards it to `next`).
 *
 * @example
 * if (!req.apiKey) return refuse(req, res, next, new KeywardError("missing_key", "Send an API key."), responder);
 */
export function refuse(req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void, error: KeywardError, responder: Responder): void {
  if (responder.forwardErrors || res.headersSent) {
    next(forwarded(error, responder));
    return;
  }
  for (const name in error.headers) res.setHeader(name, error.headers[name]!);
  if (error.limits) writeRateLimitHeaders(res, error.limits, responder.rateLimitHeaders);
  const challenge = wwwAuthenticate(error, responder);
  if (challenge) res.setHeader("WWW-Authenticate", challenge);
  if (error.status === 401) res.setHeader("Cache-Control", "no-store");
  let body: unknown;
  try {
    body = responder.formatError ? responder.formatError(error, req) : { error: error.toJSON() };
  } catch (formatFailure) {
    next(formatFailure);
    return;
  }
  sendJson(res, error.status, body);
}

/**
 * The error handed to `next(err)`: a fresh copy (refusals are shared constants an app's error
 * handler could mutate) whose `headers` include `WWW-Authenticate`, so Express's own final handler
 * answers with the right status and challenge.
 */
function forwarded(error: KeywardError, responder: Responder): KeywardError {
  const headers: Record<string, string> = { ...error.headers };
  const challenge = wwwAuthenticate(error, responder);
  if (challenge) headers["WWW-Authenticate"] = challenge;
  if (error.status === 401) headers["Cache-Control"] = "no-store";
  return new KeywardError(error.code, error.message, { headers, details: error.details, cause: error.cause, scope: error.scope, limits: error.limits });
}

/** The responder used when a guard runs without apiKeyAuth before it. */
export const DEFAULT_RESPONDER: Responder = Object.freeze({
  realm: "api",
  scheme: "Bearer",
  formatError: undefined,
  forwardErrors: false,
  rateLimitHeaders: "draft" as const,
});
