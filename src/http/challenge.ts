/**
 * The `WWW-Authenticate` challenge for a refusal (RFC 6750 §3): shared by the Express/Connect
 * responder and the Fetch adapter, so it imports nothing from node:http.
 */
import type { KeywardError } from "../core/errors.js";

const RFC6750_ERROR: Partial<Record<KeywardError["code"], string>> = {
  invalid_request: "invalid_request",
  invalid_key: "invalid_token",
  key_expired: "invalid_token",
  key_revoked: "invalid_token",
  key_disabled: "invalid_token",
  insufficient_scope: "insufficient_scope",
};

const quote = (s: string) => `"${s.replace(/["\\]/g, "\\$&")}"`;

/**
 * The WWW-Authenticate value for a refusal, or null when none applies.
 *
 * @example
 * wwwAuthenticate(new KeywardError("key_revoked", "Revoked."), { realm: "api", scheme: "Bearer" });
 * // 'Bearer realm="api", error="invalid_token", error_description="Revoked."'
 */
export function wwwAuthenticate(error: KeywardError, responder: { readonly realm: string; readonly scheme: string }): string | null {
  if (error.status !== 401 && error.code !== "insufficient_scope" && error.code !== "invalid_request") return null;
  let value = `${responder.scheme} realm=${quote(responder.realm)}`;
  const code = RFC6750_ERROR[error.code];
  if (code) value += `, error=${quote(code)}, error_description=${quote(error.message)}`;
  if (error.scope) value += `, scope=${quote(error.scope)}`;
  return value;
}
