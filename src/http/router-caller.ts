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
import type { VerifiedKey } from "../keys/authenticator.js";
import { routeFallback } from "../keys/counter-fallback.js";
import type { VerifyPolicy } from "../keys/verifier.js";
import { bearerToken, OTHER_SCHEME } from "./credentials.js";
import { authState, type KeywardRequest } from "./request-state.js";
import { requestInfo, socketAddress } from "./request-info.js";
import { MANAGEMENT_KEY_REFUSED, MANAGEMENT_NO_KEY_OWNER, MANAGEMENT_NO_OWNER, MANAGEMENT_PROJECT_KEY, managementScopeMissing } from "../core/refusals.js";

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

/**
 * The API key a request carries: `req.apiKey` (set by apiKeyAuth), a Bearer token with the
 * manager's prefix (read by the middleware's own Bearer parser), or any header whose whole value is
 * a well-formed key of its format. Returns the authenticated key, the raw token, null, or the
 * refusal for a malformed Authorization header (sent twice, an empty Bearer, …).
 */
export function carriedKey(req: KeywardRequest, keys: KeyManager): AuthenticatedKey | string | KeywardError | null {
  if (req.apiKey) return req.apiKey;
  const bearer = bearerToken(req);
  if (typeof bearer === "string" && bearer.startsWith(`${keys.format.prefix}_`)) return bearer;
  if (bearer instanceof KeywardError && bearer !== OTHER_SCHEME) return bearer;
  const headers = req.headers;
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
  if (carried instanceof KeywardError) throw carried;
  if (carried !== null) {
    if (policy.apiKeyScope === null) throw MANAGEMENT_KEY_REFUSED;
    return keyCaller(req, carried, policy.keys, policy.apiKeyScope);
  }
  const owner = await (policy.owner as (req: IncomingMessage) => MaybePromise<string | null | undefined>)(req);
  if (owner === null || owner === undefined || owner === "") throw MANAGEMENT_NO_OWNER;
  if (typeof owner !== "string") throw new TypeError("keysRouter: owner(req) must return a string user id, null or undefined");
  return { ownerId: owner, grant: null };
}

/** The router's pipeline policy for keys that may manage keys with `scope` (made once per manager and scope). */
const policies = new WeakMap<KeyManager, Map<string, VerifyPolicy<IncomingMessage, Caller>>>();

function callerPolicy(keys: KeyManager, scope: RequiredScope): VerifyPolicy<IncomingMessage, Caller> {
  let byScope = policies.get(keys);
  if (byScope === undefined) policies.set(keys, (byScope = new Map()));
  let policy = byScope.get(scope.scope);
  if (policy === undefined) {
    const refusal = managementScopeMissing(scope);
    const used = Object.freeze([scope]);
    policy = Object.freeze({
      modes: null,
      modeError: null,
      project: null,
      memberOf: null,
      malformed: null,
      describe: requestInfo,
      ip: socketAddress,
      onStoreError: routeFallback(keys.pipeline.fallback.defaultMode),
      cost: 1,
      check: (key: VerifiedKey) =>
        key.kind === "project" ? MANAGEMENT_PROJECT_KEY : !key.grant.has(scope) ? refusal : key.ownerId === null ? MANAGEMENT_NO_KEY_OWNER : null,
      scopesUsed: () => used,
      admit: (_req: IncomingMessage, key: VerifiedKey): Caller => ({ ownerId: key.ownerId!, grant: key.grant }),
    });
    byScope.set(scope.scope, policy);
  }
  return policy;
}

async function keyCaller(req: KeywardRequest, carried: AuthenticatedKey | string, keys: KeyManager, scope: RequiredScope): Promise<Caller> {
  if (typeof carried === "string") {
    // The same pipeline as apiKeyAuth: status, limits, usage and auth.* events.
    const verdict = await keys.pipeline.verify(carried, req, callerPolicy(keys, scope), keys.now());
    if (verdict instanceof KeywardError) throw verdict;
    return verdict;
  }
  if (carried.kind === "project") throw MANAGEMENT_PROJECT_KEY;
  const verified = authState(req)?.key;
  const grant = verified?.grant ?? ScopeSet.compile(carried.scopes, keys.scopeImplications);
  if (!grant.has(scope)) throw managementScopeMissing(scope);
  if (carried.ownerId === null) throw MANAGEMENT_NO_KEY_OWNER;
  if (verified !== undefined) keys.pipeline.recordScopes(verified, [scope]);
  return { ownerId: carried.ownerId, grant };
}
