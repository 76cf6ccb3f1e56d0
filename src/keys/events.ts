/** Audit events the KeyManager emits through `onEvent`. They never carry a secret or a hash. */
import type { KeywardErrorCode } from "../core/errors.js";

/**
 * Where a request came from, attached to `auth.*` events when known.
 *
 * @example
 * onEvent: (e) => { if (e.type === "auth.failed") log.warn({ code: e.code, ip: e.ip, path: e.path }); }
 */
export interface RequestInfo {
  requestId?: string;
  ip?: string;
  method?: string;
  path?: string;
}

/**
 * A management event: a key was created, updated, rotated or revoked.
 *
 * @example
 * onEvent: (e) => { if (e.type === "key.revoked") audit.write(`${e.keyId} revoked at ${e.at.toISOString()}`); }
 */
export interface KeyEvent {
  type: "key.created" | "key.updated" | "key.rotated" | "key.revoked";
  at: Date;
  keyId: string;
  ownerId: string | null;
  name: string;
  mode: string | null;
  /** For `key.rotated`: the id of the new key. */
  successorId?: string;
}

/**
 * A request authenticated (emitted only when `sampleAuthSucceeded` > 0).
 *
 * @example
 * new KeyManager({ store, sampleAuthSucceeded: 0.01, onEvent: (e) => { if (e.type === "auth.succeeded") metrics.count(e.keyId); } });
 */
export interface AuthSucceededEvent extends RequestInfo {
  type: "auth.succeeded";
  at: Date;
  keyId: string;
  ownerId: string | null;
  mode: string | null;
}

/**
 * A request was refused; `keyId` is present when the key was identified.
 *
 * @example
 * onEvent: (e) => { if (e.type === "auth.failed" && e.code === "key_revoked") alert(`revoked key ${e.keyId} still in use`); }
 */
export interface AuthFailedEvent extends RequestInfo {
  type: "auth.failed";
  at: Date;
  code: KeywardErrorCode;
  keyId?: string;
}

/**
 * A background usage flush failed; the counts are kept and retried.
 *
 * @example
 * onEvent: (e) => { if (e.type === "usage.flush_failed") log.error(e.message); }
 */
export interface UsageFlushFailedEvent {
  type: "usage.flush_failed";
  at: Date;
  message: string;
}

/**
 * Everything `onEvent` can receive.
 *
 * @example
 * const keys = new KeyManager({ store, onEvent: (event: KeywardEvent) => log.info(event) });
 */
export type KeywardEvent = KeyEvent | AuthSucceededEvent | AuthFailedEvent | UsageFlushFailedEvent;
