/**
 * What apiKeyAuth leaves on a request: `req.apiKey` (the principal) and, for the guards after it, a
 * record with the verified key (compiled scopes), the charge to refund if a guard refuses, and the
 * responder. The record lives in a WeakMap keyed by the request, and `req.apiKey` is a getter on
 * `IncomingMessage.prototype` that reads it. Neither adds a property to the request: under Express,
 * whose requests get a new prototype (and so a hidden class of their own) every time, each added
 * property costs V8 a fresh map and a copy of ~40 property descriptors, several µs per request.
 */
import { IncomingMessage } from "node:http";
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
  /** What `req.apiKey` reads: the key's principal for the request's project. */
  readonly principal: AuthenticatedKey | undefined;
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

/** The getter and setter behind `req.apiKey`; an assignment makes an ordinary own property. */
const apiKeyAccessor = {
  configurable: true,
  enumerable: false,
  get(this: IncomingMessage): AuthenticatedKey | undefined {
    return states.get(this)?.principal;
  },
  set(this: IncomingMessage, value: AuthenticatedKey | undefined) {
    Object.defineProperty(this, "apiKey", { value, writable: true, enumerable: true, configurable: true });
  },
};

/** Whether `IncomingMessage.prototype.apiKey` is keyward's getter (installed by the first apiKeyAuth). */
let getterInstalled = false;

/**
 * Installs the `req.apiKey` getter on `IncomingMessage.prototype` (Express's and Connect's
 * requests inherit from it), unless something else already defines `apiKey` there, in which case
 * keyward assigns an own property on each request instead.
 */
export function installApiKeyGetter(): void {
  if (getterInstalled) return;
  const existing = Object.getOwnPropertyDescriptor(IncomingMessage.prototype, "apiKey");
  if (existing !== undefined) {
    getterInstalled = existing.get === apiKeyAccessor.get;
    return;
  }
  Object.defineProperty(IncomingMessage.prototype, "apiKey", apiKeyAccessor);
  getterInstalled = true;
}

/** Records apiKeyAuth's verdict for `req` and makes `req.apiKey` show its principal. */
export function setAuthState(req: KeywardRequest, state: AuthState): void {
  // An own `apiKey` (set by the app or another library) would hide the getter: overwrite it. A
  // request that does not inherit from IncomingMessage (HTTP/2 compatibility API) gets one too.
  const shadowed = req.apiKey !== undefined || !getterInstalled || !(req instanceof IncomingMessage);
  states.set(req, state);
  if (shadowed) req.apiKey = state.principal;
}
