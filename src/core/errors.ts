/**
 * Errors: one base class with a stable `code`, the HTTP `status` the code maps to, and optional
 * response `headers`, so `switch (err.code)` narrows and Express's own error handler answers right.
 */

/** Every refusal keyward can produce, with the HTTP status it maps to. */
export const ERROR_STATUS = {
  missing_key: 401,
  invalid_request: 400,
  invalid_key: 401,
  key_expired: 401,
  key_revoked: 401,
  insufficient_scope: 403,
  project_forbidden: 403,
  mode_forbidden: 403,
  key_limit_reached: 403,
  forbidden: 403,
  unauthenticated: 401,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  validation_failed: 422,
  invalid_signature: 400,
  signature_expired: 400,
  rate_limited: 429,
  quota_exceeded: 429,
  store_unavailable: 503,
} as const;

/** A stable error code: switch on it, never on the message. */
export type KeywardErrorCode = keyof typeof ERROR_STATUS;

import type { LimitState } from "./types.js";

/** Options for {@link KeywardError}. */
export interface KeywardErrorOptions {
  /** Extra response headers (e.g. `Retry-After`). */
  headers?: Record<string, string>;
  /** Field-level messages for `validation_failed`. */
  details?: Array<{ path: string; message: string }>;
  /** The underlying error, never shown to clients. */
  cause?: unknown;
  /** The scope that was missing, for `insufficient_scope`. */
  scope?: string;
  /** The limits in force, for `rate_limited` / `quota_exceeded` (the adapter writes them as headers). */
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
  readonly code: KeywardErrorCode;
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly details: Array<{ path: string; message: string }> | undefined;
  readonly scope: string | undefined;
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
  toJSON(): { code: KeywardErrorCode; message: string; details?: Array<{ path: string; message: string }> } {
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
  readonly code = "invalid_config" as const;
  /** The option path that is wrong, e.g. `prefix` or `tiers.free.monthlyRequests`. */
  readonly option: string;

  constructor(option: string, message: string) {
    super(`${option ? option + ": " : ""}${message}`);
    this.name = "KeywardConfigError";
    this.option = option;
  }
}
