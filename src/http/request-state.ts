/**
 * What apiKeyAuth leaves on the request for the guards after it: the verified key (compiled
 * scopes), the charge to refund if a guard refuses, and the responder. Symbol-keyed, so it never
 * shows in `JSON.stringify(req)` or collides with app properties.
 */
import type { IncomingMessage } from "node:http";
import type { AuthenticatedKey } from "../core/types.js";
import type { Charge, KeyManager, VerifiedKey } from "../keys/key-manager.js";
import type { Responder } from "./respond.js";

export const kVerified = Symbol("keyward.verified");
export const kCharge = Symbol("keyward.charge");
export const kContext = Symbol("keyward.context");

/** Per-middleware constants the guards need. */
export interface AuthContext {
  readonly keys: KeyManager;
  readonly responder: Responder;
}

/** The request as keyward sees it. */
export interface KeywardRequest extends IncomingMessage {
  apiKey?: AuthenticatedKey;
  [kVerified]?: VerifiedKey;
  [kCharge]?: Charge;
  [kContext]?: AuthContext;
}
