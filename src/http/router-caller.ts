/**
 * Who is calling the management router: the session owner from the app's `owner(req)`, or —
 * only when `allowApiKeys` names a management scope — the owner of the API key the request
 * carries. A request carrying an API key is refused by default (management is dashboard-session only by default).
 */
import type { IncomingMessage } from "node:http";
import { KeywardError } from "../core/errors.js";
import { ScopeSet, type RequiredScope } from "../core/scopes.js";
import type { AuthenticatedKey, MaybePromise } from "../core/types.js";
import type { KeyManager } from "../keys/key-manager.js";
import { authState, type KeywardRequest } from "./request-state.js";

/** The resolved caller of a management request. */
export interface Caller {
  /** Whose keys the request may see and change. */
  readonly ownerId: string;
  /** What the calling API key may grant (its own scopes); null for a session caller. */
  readonly grant: ScopeSet | null;
}

/** How the router identifies callers; resolved once at construction. */
export interface CallerPolicy {
  readonly keys: KeyManager;
  readonly owner: (req: never) => MaybePromise<string | null | undefined>;
  /** The scope a key needs to manage keys, or null when keys are refused. */
  readonly apiKeyScope: RequiredScope | null;
}

const KEY_REFUSED = new KeywardError("forbidden", "Key management is available only from a signed-in session, not with an API key.");
const PROJECT_KEY = new KeywardError("forbidden", "Project keys cannot manage API keys; use a user key or a signed-in session.");
const NO_KEY_OWNER = new KeywardError("forbidden", "This API key has no owner, so it cannot manage keys.");
const NO_OWNER = new KeywardError("unauthenticated", "Sign in to manage API keys.");

/**
 * The API key a request carries: `req.apiKey` (set by apiKeyAuth), a Bearer token with the
 * manager's prefix, or any header whose whole value is a well-formed key of its format.
 * Returns the authenticated key, the raw token, or null.
 */
export function carriedKey(req: KeywardRequest, keys: KeyManager): AuthenticatedKey | string | null {
  if (req.apiKey) return req.apiKey;
  const headers = req.headers;
  const auth = headers.authorization;
  if (typeof auth === "string" && /^bearer\s/i.test(auth)) {
    const token = auth.slice(7).trim();
    if (token.startsWith(`${keys.format.prefix}_`)) return token;
  }
  for (const name in headers) {
    const value = headers[name];
    if (typeof value === "string" && value.length < 256 && keys.format.check(value.trim()) !== undefined) return value.trim();
  }
  return null;
}

/**
 * Resolves the caller or throws the refusal: 403 `forbidden` for an API key (unless allowed and
 * holding the management scope, else 403 `insufficient_scope`), 401 `unauthenticated` without owner.
 *
 * @example
 * const caller = await resolveCaller(req, policy); // { ownerId: "user_1", grant: null }
 */
export async function resolveCaller(req: KeywardRequest, policy: CallerPolicy): Promise<Caller> {
  const carried = carriedKey(req, policy.keys);
  if (carried !== null) {
    if (policy.apiKeyScope === null) throw KEY_REFUSED;
    return keyCaller(req, carried, policy.keys, policy.apiKeyScope);
  }
  const owner = await (policy.owner as (req: IncomingMessage) => MaybePromise<string | null | undefined>)(req);
  if (owner === null || owner === undefined || owner === "") throw NO_OWNER;
  if (typeof owner !== "string") throw new TypeError("keysRouter: owner(req) must return a string user id, null or undefined");
  return { ownerId: owner, grant: null };
}

async function keyCaller(req: KeywardRequest, carried: AuthenticatedKey | string, keys: KeyManager, scope: RequiredScope): Promise<Caller> {
  let principal: AuthenticatedKey;
  let grant: ScopeSet;
  if (typeof carried === "string") {
    const now = keys.now();
    const found = await keys.authenticate(carried, now);
    if (found instanceof KeywardError) throw found;
    if (found.kind === "project") throw PROJECT_KEY;
    if (!found.grant.has(scope)) throw insufficient(scope);
    const charge = await keys.charge(found, now);
    if (charge instanceof KeywardError) throw charge;
    keys.recordUse(found, now);
    principal = found.principal;
    grant = found.grant;
  } else {
    principal = carried;
    if (principal.kind === "project") throw PROJECT_KEY;
    grant = authState(req)?.key?.grant ?? ScopeSet.compile(principal.scopes, keys.scopeImplications);
    if (!grant.has(scope)) throw insufficient(scope);
  }
  if (principal.ownerId === null) throw NO_KEY_OWNER;
  return { ownerId: principal.ownerId, grant };
}

function insufficient(scope: RequiredScope): KeywardError {
  return new KeywardError("insufficient_scope", `Managing keys with an API key needs the ${scope.scope} scope.`, { scope: scope.scope });
}
