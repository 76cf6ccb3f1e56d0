/**
 * What apiKeyAuth leaves on the request for the guards after it: one symbol-keyed record with the
 * verified key (compiled scopes), the charge to refund if a guard refuses, and the responder.
 * Symbol-keyed, so it never shows in `JSON.stringify(req)` or collides with app properties; one
 * slot, because adding properties to a request whose prototype Express swapped is slow.
 */
import type { IncomingMessage } from "node:http";
import type { AuthenticatedKey } from "../core/types.js";
import type { Charge, KeyManager, VerifiedKey } from "../keys/key-manager.js";
import type { Responder } from "./respond.js";

export const kAuth = Symbol("keyward.auth");

/** Per-middleware constants the guards need. */
export interface AuthContext {
  readonly keys: KeyManager;
  readonly responder: Responder;
}

/** apiKeyAuth's verdict for one request. */
export interface AuthState {
  /** The verified key; undefined for an anonymous request (`required: false`). */
  readonly key: VerifiedKey | undefined;
  readonly context: AuthContext;
  /** The counters this request took, until a guard refunds them. */
  charge: Charge | undefined;
}

/** The request as keyward sees it. */
export interface KeywardRequest extends IncomingMessage {
  apiKey?: AuthenticatedKey;
  [kAuth]?: AuthState;
}
