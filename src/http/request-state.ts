/**
 * What apiKeyAuth leaves on a request: `req.apiKey` (the principal) and, for the guards after it, a
 * record with the verified key (compiled scopes), the charge to refund if a guard refuses, and the
 * responder. `req.apiKey` is a getter on `IncomingMessage.prototype` that reads the record. Where
 * the record lives depends on the request, because V8's costs differ by an order of magnitude:
 * - a plain node:http/Connect request keeps its hidden class, so a symbol property costs ~10 ns;
 * - Express gives each request a new prototype, hence a hidden class of its own, and every property
 *   added to it builds a fresh map (~2.5 µs); a WeakMap entry (~0.5-0.9 µs) is the cheaper place.
 */
import { IncomingMessage } from "node:http";
import type { AuthenticatedKey } from "../core/types.js";
import type { VerifiedKey } from "../keys/authenticator.js";
import type { Charge } from "../keys/charger.js";
import type { KeyManager } from "../keys/key-manager.js";
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
  /** Undefined for a record made by assigning `req.apiKey` (no apiKeyAuth behind it). */
  readonly context: AuthContext | undefined;
  /** The counters this request took, until a guard refunds them. */
  charge: Charge | undefined;
  /** When the key was verified (the request's one clock reading): the time of the scope use a guard counts. 0 without a key. */
  readonly at: number;
}

/** The request as keyward sees it. */
export interface KeywardRequest extends IncomingMessage {
  apiKey?: AuthenticatedKey;
}

const STATE = Symbol("keyward.authState");
const states = new WeakMap<IncomingMessage, AuthState>();
const PLAIN_PROTOTYPE: object = IncomingMessage.prototype;

type WithState = IncomingMessage & { [STATE]?: AuthState };

/** Whether `req` is a plain node:http request (prototype untouched, hidden class shared). */
function isPlain(req: IncomingMessage): boolean {
  return Object.getPrototypeOf(req) === PLAIN_PROTOTYPE;
}

/**
 * apiKeyAuth's record for `req`, if apiKeyAuth ran on it. The WeakMap is asked first: for a plain
 * request, which is in no WeakMap, the answer comes from the request's missing identity hash
 * without a table probe, and the symbol property is then one monomorphic load; asking for the
 * prototype instead (`isPlain`) costs a runtime call in optimised guards. A record in the WeakMap
 * is also found for a request whose prototype changed since.
 */
export function authState(req: IncomingMessage): AuthState | undefined {
  return states.get(req) ?? (req as WithState)[STATE];
}

/** Stores `state` as the request's record (see the header for where); true for a plain request. */
function storeState(req: IncomingMessage, state: AuthState): boolean {
  if (isPlain(req)) {
    (req as WithState)[STATE] = state;
    // authState asks the WeakMap first: drop a record left there while the prototype was another (cheap: a plain request is in no WeakMap).
    states.delete(req);
    return true;
  }
  states.set(req, state);
  return false;
}

/**
 * The getter and setter behind `req.apiKey`. An assignment (by the app, a test, another library)
 * replaces the principal in the record instead of adding an own property, so `req.apiKey` never
 * hides apiKeyAuth's later verdict and apiKeyAuth never has to look for an own property.
 */
const apiKeyAccessor = {
  configurable: true,
  enumerable: false,
  get(this: IncomingMessage): AuthenticatedKey | undefined {
    return authState(this)?.principal;
  },
  set(this: IncomingMessage, value: AuthenticatedKey | undefined) {
    const current = authState(this);
    storeState(this, current ? { ...current, principal: value } : { key: undefined, principal: value, context: undefined, charge: undefined, at: 0 });
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
  const plain = storeState(req, state);
  // Without keyward's getter (another copy of keyward installed its own, or the request does not
  // inherit from IncomingMessage, as with the HTTP/2 compatibility API), assign the property.
  if (!getterInstalled || (!plain && !(req instanceof IncomingMessage))) req.apiKey = state.principal;
}
