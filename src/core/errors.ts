/**
 * Errors: one base class with a stable `code`, the HTTP `status` the code maps to, and optional
 * response `headers`, so `switch (err.code)` narrows and Express's own error handler answers right.
 */

/**
 * Every refusal keyward can produce, with the HTTP status it maps to.
 *
 * @example
 * ERROR_STATUS.key_revoked; // 401
 * ERROR_STATUS.rate_limited; // 429
 */
export const ERROR_STATUS = {
  /** 401: no key was sent. */
  missing_key: 401,
  /** 400: a malformed credential or project header. */
  invalid_request: 400,
  /** 401: bad checksum, wrong format, or no such key. */
  invalid_key: 401,
  /** 401: the key is past `expiresAt`. */
  key_expired: 401,
  /** 401: the key was revoked. */
  key_revoked: 401,
  /** 401: the key is paused by `keys.disable(id)` (reversible with `keys.enable(id)`). */
  key_disabled: 401,
  /** 403: a guard's scope is missing. */
  insufficient_scope: 403,
  /** 403: the project is outside the key's allow-list or its owner's projects. */
  project_forbidden: 403,
  /** 403: the key's mode is not accepted here. */
  mode_forbidden: 403,
  /** 403: the request's client address is outside the key's `allowedIps`. */
  ip_forbidden: 403,
  /** 403: the owner holds the tier's maximum of active keys. */
  key_limit_reached: 403,
  /** 403: refused by `requireKey`, CSRF checks, or an API key where only a session may act. */
  forbidden: 403,
  /** 401: `keysRouter`'s `owner(req)` found no signed-in user. */
  unauthenticated: 401,
  /** 404: no such key (for this owner). */
  not_found: 404,
  /** 409: the key was already rotated, or is revoked. */
  conflict: 409,
  /** 413: a management body over 16 KiB. */
  payload_too_large: 413,
  /** 415: a management body that is not JSON. */
  unsupported_media_type: 415,
  /** 422: bad input, with `details` per field. */
  validation_failed: 422,
  /** 400: a webhook signature that is malformed or does not match. */
  invalid_signature: 400,
  /** 400: a webhook timestamp outside the tolerance. */
  signature_expired: 400,
  /** 429: the key's rate limit is reached. */
  rate_limited: 429,
  /** 429: the key's monthly quota is used up. */
  quota_exceeded: 429,
  /** 429: the key's credits are used up (`Retry-After`: until they refill, when they do). */
  credits_exhausted: 429,
  /** 503: the store failed or timed out (fail closed). */
  store_unavailable: 503,
  /** 503: `secretScanning()` could not fetch GitHub's public keys, so no report can be verified (fail closed). */
  public_keys_unavailable: 503,
} as const;

/**
 * A stable error code: switch on it, never on the message.
 *
 * @example
 * function explain(code: KeywardErrorCode): string {
 *   switch (code) { case "key_expired": return "Create a new key."; default: return "Refused."; }
 * }
 */
export type KeywardErrorCode = keyof typeof ERROR_STATUS;

import type { LimitState } from "./types.js";

/**
 * Options for {@link KeywardError}.
 *
 * @example
 * throw new KeywardError("forbidden", "Not your project.", { details: [{ path: "project", message: "not one of your projects" }] });
 */
export interface KeywardErrorOptions {
  /** Extra response headers (e.g. `Retry-After`). */
  headers?: Record<string, string>;
  /** Field-level messages for `validation_failed`. */
  details?: Array<{
    /** The field, e.g. `scopes.1`. */ path: string;
    /** What is wrong with it. */ message: string;
  }>;
  /** The underlying error, never shown to clients. */
  cause?: unknown;
  /** The scope that was missing, for `insufficient_scope`. */
  scope?: string;
  /** The limits in force, for `rate_limited` / `quota_exceeded` / `credits_exhausted` (the adapter writes them as headers). */
  limits?: readonly LimitState[];
  /** The key the refusal concerns, when it was identified (for audit events; never sent to clients). */
  keyId?: string;
}

/**
 * The error keyward throws or answers with. Its message never contains a secret or a hash.
 *
 * @example
 * try { await keys.revoke("key_x") } catch (e) {
 *   if (e instanceof KeywardError && e.code === "not_found") console.log("no such key");
 * }
 */
export class KeywardError extends Error {
  /** The stable error code: switch on it, never on the message. */
  readonly code: KeywardErrorCode;
  /** The HTTP status the code maps to (see {@link ERROR_STATUS}). */
  readonly status: number;
  /** Response headers for this refusal, e.g. `WWW-Authenticate` or `Retry-After`. */
  readonly headers: Record<string, string>;
  /** Field-level messages for `validation_failed`. */
  readonly details:
    | Array<{
        /** The field, e.g. `scopes.1`. */ path: string;
        /** What is wrong with it. */ message: string;
      }>
    | undefined;
  /** The missing scope, for `insufficient_scope`. */
  readonly scope: string | undefined;
  /** The limits in force, for `rate_limited` / `quota_exceeded`. */
  readonly limits: readonly LimitState[] | undefined;
  /** The key the refusal concerns, when known (e.g. an expired or revoked key). Not in `toJSON`. */
  readonly keyId: string | undefined;

  constructor(code: KeywardErrorCode, message: string, options: KeywardErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "KeywardError";
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.headers = options.headers ?? {};
    this.details = options.details;
    this.scope = options.scope;
    this.limits = options.limits;
    this.keyId = options.keyId;
  }

  /** The client-safe JSON form: code, message and field details. */
  toJSON(): {
    /** The stable error code. */ code: KeywardErrorCode;
    /** A message for people; never contains a secret. */ message: string;
    /** Field-level messages, for `validation_failed`. */ details?: Array<{
      /** The field. */ path: string;
      /** What is wrong with it. */ message: string;
    }>;
  } {
    return this.details ? { code: this.code, message: this.message, details: this.details } : { code: this.code, message: this.message };
  }
}

/**
 * Thrown at construction when options are wrong: names the option and how to fix it.
 *
 * @example
 * new KeyManager({ store, prefix: "SK!" }); // throws KeywardConfigError: prefix: use 1-16 characters from [a-z0-9]
 */
export class KeywardConfigError extends Error {
  /** Always `invalid_config`. */
  readonly code = "invalid_config" as const;
  /** The option path that is wrong, e.g. `prefix` or `tiers.free.monthlyRequests`. */
  readonly option: string;

  constructor(option: string, message: string) {
    super(`${option ? option + ": " : ""}${message}`);
    this.name = "KeywardConfigError";
    this.option = option;
  }
}
