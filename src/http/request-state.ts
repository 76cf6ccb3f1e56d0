/**
 * What apiKeyAuth leaves for the guards after it: a record with the verified key (compiled
 * scopes), the charge to refund if a guard refuses, and the responder, held on the request under a
 * module-private symbol. A symbol never shows in `JSON.stringify(req)` nor collides with app
 * properties, and unlike a WeakMap entry it puts no ephemeron on the garbage collector per request.
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

const STATE = Symbol("keyward.authState");

type WithState = IncomingMessage & { [STATE]?: AuthState };

/** apiKeyAuth's record for `req`, if apiKeyAuth ran on it. */
export function authState(req: IncomingMessage): AuthState | undefined {
  return (req as WithState)[STATE];
}

/** Records apiKeyAuth's verdict for `req`. */
export function setAuthState(req: IncomingMessage, state: AuthState): void {
  (req as WithState)[STATE] = state;
}
