/**
 * Scope-escalation checks for the management router: a creator may grant only scopes its
 * allowance covers (`allowedScopes(req)`, the calling key's own scopes), and PATCH may only
 * narrow a key's scopes. Wildcards are covered only by an equal or wider wildcard.
 */
import { KeywardError } from "../core/errors.js";
import { ScopeSet, type RequiredScope } from "../core/scopes.js";

/** The check form of a granted scope, wildcards included (`*`, `nodes:*`, `nodes`, `nodes:read`). */
function asRequired(scope: string): RequiredScope {
  const colon = scope.indexOf(":");
  return { scope, resource: colon < 0 ? scope : scope.slice(0, colon), hasAction: colon >= 0 };
}

/**
 * Whether `allowance` covers granting `scope`: `*` only under `*`, `nodes:*` only under `nodes:*`
 * or `*`, a concrete scope under itself, its resource wildcard, `*` or an implication.
 *
 * @example
 * covers(ScopeSet.compile(["nodes:*"]), "nodes:read"); // true
 * covers(ScopeSet.compile(["nodes:read"]), "nodes:*"); // false
 */
export function covers(allowance: ScopeSet, scope: string): boolean {
  return allowance.has(asRequired(scope));
}

/**
 * The scopes a key created without a scope list gets under an allowance: the manager's default
 * scopes, narrowed to what the creator may grant. Each default the allowance covers is kept, and
 * each allowed scope a default covers is added, so a full-access default (`*`) becomes exactly the
 * creator's allowed set (a key "inherits the creator's role"), while a read-only default stays
 * read-only for an admin. Throws 403 `insufficient_scope` when nothing is left.
 *
 * @example
 * defaultGrant(["*"], ["nodes:read", "nodes:write"]);               // ["nodes:read", "nodes:write"]
 * defaultGrant(["alerts:read", "usage:read"], ["*"]);               // ["alerts:read", "usage:read"]
 * defaultGrant(["nodes:*"], ["nodes:read", "analytics:read"]);      // ["nodes:read"]
 */
export function defaultGrant(defaults: readonly string[], allowed: readonly string[], implies?: Readonly<Record<string, readonly string[]>>): string[] {
  const allowance = ScopeSet.compile(allowed, implies);
  const byDefault = ScopeSet.compile(defaults, implies);
  const granted = defaults.filter((scope) => covers(allowance, scope));
  for (const scope of allowed) if (!granted.includes(scope) && covers(byDefault, scope)) granted.push(scope);
  if (granted.length === 0) {
    throw new KeywardError(
      "insufficient_scope",
      `None of the default scopes (${defaults.join(", ") || "none"}) is among the scopes you may grant; list scopes explicitly.`,
      { details: [{ path: "scopes", message: "no default scope is within the scopes you may grant; list scopes explicitly" }] },
    );
  }
  return granted;
}

/**
 * Throws 403 `insufficient_scope` naming each scope of `requested` that `allowance` does not
 * cover, with a detail per entry (`path` is `scopes.<index>`, `message` is `why`).
 *
 * @example
 * assertGrantable(["admin:write"], ScopeSet.compile(["nodes:read"]), "is outside the scopes you may grant");
 */
export function assertGrantable(requested: readonly string[], allowance: ScopeSet, why: string, path = "scopes"): void {
  const details: Array<{ path: string; message: string }> = [];
  const names: string[] = [];
  requested.forEach((scope, i) => {
    if (covers(allowance, scope)) return;
    names.push(scope);
    details.push({ path: `${path}.${i}`, message: why });
  });
  if (names.length === 0) return;
  throw new KeywardError("insufficient_scope", `Not allowed to grant ${names.join(", ")}: ${why}.`, { details, scope: names.join(" ") });
}
