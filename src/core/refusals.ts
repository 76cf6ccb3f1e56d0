/**
 * The refusals of the verification path and of the management router's caller checks, built in one place: the status and `code` of each
 * come from `KeywardError`, the wording from here. Shared refusals are made once (refusing
 * allocates nothing); the ones that name a key, a scope or a cause are factories.
 */
import { KeywardError } from "./errors.js";
import type { RequiredScope } from "./scopes.js";

/** 401 `invalid_key`: unknown, mistyped or malformed key (never says which). */
export const INVALID_KEY = new KeywardError("invalid_key", "The API key is invalid.");

/** 503 `store_unavailable` once the KeyManager is closed. */
export const MANAGER_CLOSED = new KeywardError("store_unavailable", "This KeyManager has been closed.", { headers: { "Retry-After": "1" } });

/** 401 `missing_key` for a route behind a guard when no key was verified. */
export const KEY_REQUIRED = new KeywardError("missing_key", "An API key is required for this route.");

/** 400 `invalid_request`: a project resolver answered something that is not a project id. */
export const BAD_PROJECT = new KeywardError("invalid_request", "The requested project is not a valid project id.");

/**
 * 401 `key_revoked` for one key (made once per cache fill).
 *
 * @example
 * keyRevoked("key_0LmQ7x2a9fKq3ZrT1bN0cD").status; // 401
 */
export function keyRevoked(keyId: string): KeywardError {
  return new KeywardError("key_revoked", "The API key has been revoked.", { keyId });
}

/**
 * 401 `key_expired` for one key (made once per cache fill).
 *
 * @example
 * keyExpired("key_0LmQ7x2a9fKq3ZrT1bN0cD").code; // "key_expired"
 */
export function keyExpired(keyId: string): KeywardError {
  return new KeywardError("key_expired", "The API key has expired.", { keyId });
}

/**
 * 401 `key_disabled` for one key (made once per cache fill): paused by `keys.disable(id)`.
 *
 * @example
 * keyDisabled("key_0LmQ7x2a9fKq3ZrT1bN0cD").code; // "key_disabled"
 */
export function keyDisabled(keyId: string): KeywardError {
  return new KeywardError("key_disabled", "The API key is disabled.", { keyId });
}

/**
 * The 403 for a request whose client address is outside the key's IP allow-list.
 *
 * @example
 * import { ipForbidden } from "keyward";
 * const error = ipForbidden(); // 403 "ip_forbidden"
 * if (!officeNetwork(req.ip)) return next(error);
 */
export function ipForbidden(): KeywardError {
  return new KeywardError("ip_forbidden", "This key may not be used from this address.");
}

/** The shared {@link ipForbidden} refusal of the verification path. */
export const IP_FORBIDDEN = ipForbidden();

/**
 * 503 `store_unavailable` with `Retry-After: 1`: a store call failed or timed out (fail closed).
 *
 * @example
 * storeUnavailable(new Error("connection refused")).status; // 503, the error kept as `cause`
 */
export function storeUnavailable(cause: unknown): KeywardError {
  return new KeywardError("store_unavailable", "The key store is unavailable; try again shortly.", { cause, headers: { "Retry-After": "1" } });
}

/**
 * `error` when it already is a `store_unavailable` refusal, else one wrapping it.
 *
 * @example
 * asStoreUnavailable(new Error("timeout")).code; // "store_unavailable"
 */
export function asStoreUnavailable(error: unknown): KeywardError {
  return error instanceof KeywardError && error.code === "store_unavailable" ? error : storeUnavailable(error);
}

/**
 * 404 `not_found` for a management call on an unknown key.
 *
 * @example
 * notFound().status; // 404
 */
export function notFound(): KeywardError {
  return new KeywardError("not_found", "No such API key.");
}

/**
 * 403 `key_limit_reached`: the owner already holds the tier's `maxActiveKeys`.
 *
 * @example
 * keyLimitReached(5).message; // "This owner already has the maximum of 5 active keys for the tier; revoke one first."
 */
export function keyLimitReached(max: number): KeywardError {
  return new KeywardError("key_limit_reached", `This owner already has the maximum of ${max} active keys for the tier; revoke one first.`);
}

/**
 * 422 `validation_failed` naming one field.
 *
 * @example
 * validationFailed("overlap", "must be at most 7d").message; // "overlap: must be at most 7d"
 */
export function validationFailed(path: string, message: string): KeywardError {
  return new KeywardError("validation_failed", `${path}: ${message}`, { details: [{ path, message }] });
}

/**
 * The 403 for a key without a scope a route requires.
 *
 * @example
 * import { insufficientScope, requiredScope } from "keyward";
 * const error = insufficientScope(requiredScope("nodes:write")); // 403 "insufficient_scope", error.scope === "nodes:write"
 * insufficientScope([requiredScope("reports:read"), requiredScope("analytics:read")], true); // "This key needs one of the scopes: …"
 * if (!req.apiKey?.scopes.includes("nodes:write")) return next(error);
 */
export function insufficientScope(required: RequiredScope | readonly RequiredScope[], any = false): KeywardError {
  const list = Array.isArray(required) ? (required as readonly RequiredScope[]) : [required as RequiredScope];
  const names = list.map((r) => r.scope);
  const message = any
    ? `This key needs one of the scopes: ${names.join(", ")}.`
    : `This key lacks the required scope${names.length > 1 ? "s" : ""}: ${names.join(", ")}.`;
  return new KeywardError("insufficient_scope", message, { scope: names.join(" ") });
}

/**
 * The 403 for a key used outside its project allow-list.
 *
 * @example
 * import { projectForbidden } from "keyward";
 * const error = projectForbidden(); // 403 "project_forbidden"
 * if (req.apiKey?.project !== req.params.projectId) return next(error);
 */
export function projectForbidden(): KeywardError {
  return new KeywardError("project_forbidden", "This key may not act on the requested project.");
}

/** The shared {@link projectForbidden} refusal of the verification path. */
export const PROJECT_FORBIDDEN = projectForbidden();

/**
 * The 403 for a key of a mode the route does not accept.
 *
 * @example
 * import { modeForbidden } from "keyward";
 * const error = modeForbidden(["live"]); // 403 "mode_forbidden": "This route accepts only live keys."
 * if (req.apiKey?.mode !== "live") return next(error);
 */
export function modeForbidden(modes: readonly string[]): KeywardError {
  return new KeywardError("mode_forbidden", `This route accepts only ${modes.join(" or ")} keys.`);
}

/**
 * 401 `missing_key` for a request that sent no key: where to send it (`null` = Bearer).
 *
 * @example
 * missingKey("x-api-key").message; // "An API key is required: send it in the x-api-key header."
 */
export function missingKey(header: string | null): KeywardError {
  return new KeywardError(
    "missing_key",
    header === null ? "An API key is required: send `Authorization: Bearer <key>`." : `An API key is required: send it in the ${header} header.`,
  );
}

/**
 * 400 `invalid_request` for a project header whose value is not a project id.
 *
 * @example
 * badProjectHeader("x-project").status; // 400
 */
export function badProjectHeader(header: string): KeywardError {
  return new KeywardError("invalid_request", `The ${header} header is not a valid project id.`);
}

// ---------------------------------------------------------------- the management router's caller

/** 403 `forbidden`: key management is for signed-in sessions (the router's default). */
export const MANAGEMENT_KEY_REFUSED = new KeywardError("forbidden", "Key management is available only from a signed-in session, not with an API key.");
/** 403 `forbidden`: a project key may not manage keys. */
export const MANAGEMENT_PROJECT_KEY = new KeywardError("forbidden", "Project keys cannot manage API keys; use a user key or a signed-in session.");
/** 403 `forbidden`: a key without owner has nobody's keys to manage. */
export const MANAGEMENT_NO_KEY_OWNER = new KeywardError("forbidden", "This API key has no owner, so it cannot manage keys.");
/** 401 `unauthenticated`: no session owner. */
export const MANAGEMENT_NO_OWNER = new KeywardError("unauthenticated", "Sign in to manage API keys.");
/** 403 `forbidden`: a cross-site management request (CSRF). */
export const CROSS_SITE = new KeywardError("forbidden", "Cross-site request refused: key management accepts only same-origin requests.");
/** 415 `unsupported_media_type`: a management body that is not JSON. */
export const NOT_JSON = new KeywardError("unsupported_media_type", "Send the request body as JSON with `Content-Type: application/json`.");

/**
 * 403 `insufficient_scope` for an API key managing keys without the management scope.
 *
 * @example
 * managementScopeMissing(requiredScope("keys:write")).scope; // "keys:write"
 */
export function managementScopeMissing(scope: RequiredScope): KeywardError {
  return new KeywardError("insufficient_scope", `Managing keys with an API key needs the ${scope.scope} scope.`, { scope: scope.scope });
}

// ---------------------------------------------------------------- leaked keys: secretScanning, revocationEndpoint

/**
 * 503 `public_keys_unavailable` with `Retry-After`: GitHub's public keys could not be fetched, so
 * a secret scanning report cannot be verified (refused, never accepted unverified).
 *
 * @example
 * publicKeysUnavailable(300).headers["Retry-After"]; // "300"
 */
export function publicKeysUnavailable(retryAfterSeconds: number): KeywardError {
  return new KeywardError("public_keys_unavailable", "GitHub's secret scanning public keys could not be fetched; try again later.", {
    headers: { "Retry-After": String(retryAfterSeconds) },
  });
}

/**
 * 429 `rate_limited` for one client address at the public revocation endpoint.
 *
 * @example
 * revocationRateLimited(60, 1200).message; // "At most 60 revocation requests per address in 1h; try again in 1200 s."
 */
export function revocationRateLimited(limit: number, window: string, retryAfterSeconds: number): KeywardError {
  return new KeywardError("rate_limited", `At most ${limit} revocation requests per address in ${window}; try again in ${retryAfterSeconds} s.`, {
    headers: { "Retry-After": String(retryAfterSeconds) },
  });
}

/**
 * 422 `validation_failed` for a revocation body that is not `{ "credentials": [...] }`.
 *
 * @example
 * revocationBodyInvalid([{ path: "credentials.2", message: "must be a string" }]).status; // 422
 */
export function revocationBodyInvalid(details: Array<{ path: string; message: string }>): KeywardError {
  const list = details.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join("; ");
  return new KeywardError("validation_failed", `The body must be { "credentials": ["<key>", …] }: ${list}`, { details });
}

/** 400 `invalid_request`: a revocation body that is not valid JSON. */
export const REVOCATION_BAD_JSON = new KeywardError("invalid_request", "The request body is not valid JSON.");
