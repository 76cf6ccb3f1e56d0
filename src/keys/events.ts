/** Audit events the KeyManager emits through `onEvent`. They never carry a secret or a hash. */
import type { KeywardErrorCode } from "../core/errors.js";

/** Where a request came from, attached to `auth.*` events when known. */
export interface RequestInfo {
  requestId?: string;
  ip?: string;
  method?: string;
  path?: string;
}

/** A management event: a key was created, updated, rotated or revoked. */
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

/** A request authenticated (emitted only when `sampleAuthSucceeded` > 0). */
export interface AuthSucceededEvent extends RequestInfo {
  type: "auth.succeeded";
  at: Date;
  keyId: string;
  ownerId: string | null;
  mode: string | null;
}

/** A request was refused; `keyId` is present when the key was identified. */
export interface AuthFailedEvent extends RequestInfo {
  type: "auth.failed";
  at: Date;
  code: KeywardErrorCode;
  keyId?: string;
}

/** A background usage flush failed; the counts are kept and retried. */
export interface UsageFlushFailedEvent {
  type: "usage.flush_failed";
  at: Date;
  message: string;
}

/** Everything `onEvent` can receive. */
export type KeywardEvent = KeyEvent | AuthSucceededEvent | AuthFailedEvent | UsageFlushFailedEvent;
