/**
 * What apiKeyAuth leaves for the guards after it: a record with the verified key (compiled
 * scopes), the charge to refund if a guard refuses, and the responder, held in a WeakMap keyed by
 * the request. Not a property of the request: it never shows in `JSON.stringify(req)` or collides
 * with app properties, and adding a property to a request whose prototype Express has swapped
 * costs microseconds, while a WeakMap entry costs next to nothing.
 */
import type { IncomingMessage } from "node:http";
import type { AuthenticatedKey } from "../core/types.js";
import type { Charge, KeyManager, VerifiedKey } from "../keys/key-manager.js";
import type { Responder } from "./respond.js";


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
}

const states = new WeakMap<IncomingMessage, AuthState>();

/** apiKeyAuth's record for `req`, if apiKeyAuth ran on it. */
export function authState(req: IncomingMessage): AuthState | undefined {
  return states.get(req);
}

/** Records apiKeyAuth's verdict for `req`. */
export function setAuthState(req: IncomingMessage, state: AuthState): void {
  states.set(req, state);
}
