/**
 * Scope grammar and matching. A scope is `*`, `resource`, `resource:action` or `resource:*`, each
 * part 1-64 characters from [a-z0-9_.-] starting with a letter or digit. Granted scopes compile
 * once into a {@link ScopeSet} (implications expanded), so a check is two Set lookups, no allocation.
 */
import { KeywardConfigError, KeywardError } from "./errors.js";

const SEGMENT = "[a-z0-9][a-z0-9_.-]{0,63}";
const SCOPE_PATTERN = new RegExp(`^(?:\\*|${SEGMENT}(?::(?:${SEGMENT}|\\*))?)$`);
const MAX_SCOPE_LENGTH = 129;
/** At most this many scopes on one key. */
export const MAX_SCOPES = 256;

/**
 * Why `scope` is not a valid scope, or `null` when it is. Never throws.
 *
 * @example
 * scopeError("notes:read"); // null
 * scopeError("Notes Read"); // "\"Notes Read\" is not a valid scope: …"
 */
export function scopeError(scope: unknown): string | null {
  if (typeof scope !== "string") return `scope must be a string, got ${scope === null ? "null" : typeof scope}`;
  if (scope.length === 0) return "scope must not be empty";
  if (scope.length > MAX_SCOPE_LENGTH) return `scope is ${scope.length} characters long; at most ${MAX_SCOPE_LENGTH} are allowed`;
  if (!SCOPE_PATTERN.test(scope)) return `"${scope}" is not a valid scope: use "resource:action", "resource", "resource:*" or "*" with [a-z0-9_.-]`;
  return null;
}

/**
 * Options that shape which scopes exist and what they imply.
 *
 * @example
 * new KeyManager({ store, scopes: ["notes:read", "notes:write"], implies: { "notes:write": ["notes:read"] } });
 */
export interface ScopePolicy {
  /** Known scopes; when given, any other scope is refused at creation. */
  catalogue?: readonly string[];
  /** `{ "nodes:write": ["nodes:read"] }`: holding the key grants the listed scopes too. */
  implies?: Readonly<Record<string, readonly string[]>>;
}

/**
 * Checks a list of scopes against the grammar and the catalogue, dropping duplicates.
 * Throws a `validation_failed` {@link KeywardError} naming every bad entry.
 *
 * @example
 * normalizeScopes(["nodes:read", "nodes:read"]); // ["nodes:read"]
 * normalizeScopes(["Nodes"]);                    // throws validation_failed
 */
export function normalizeScopes(scopes: unknown, policy: ScopePolicy = {}, path = "scopes"): string[] {
  if (!Array.isArray(scopes))
    throw new KeywardError("validation_failed", `${path} must be an array of strings`, { details: [{ path, message: "must be an array of strings" }] });
  if (scopes.length > MAX_SCOPES)
    throw new KeywardError("validation_failed", `${path} has ${scopes.length} entries; at most ${MAX_SCOPES} are allowed`, {
      details: [{ path, message: `at most ${MAX_SCOPES} scopes` }],
    });
  const details: Array<{ path: string; message: string }> = [];
  const known = policy.catalogue ? new Set(policy.catalogue) : null;
  const out: string[] = [];
  scopes.forEach((scope: unknown, i) => {
    const error = scopeError(scope);
    if (error) details.push({ path: `${path}.${i}`, message: error });
    else if (known && !isCovered(scope as string, known))
      details.push({ path: `${path}.${i}`, message: `unknown scope "${scope as string}": known scopes are ${[...known].join(", ")}` });
    else if (!out.includes(scope as string)) out.push(scope as string);
  });
  if (details.length) throw new KeywardError("validation_failed", details.map((d) => `${d.path}: ${d.message}`).join("; "), { details });
  return out;
}

/** A catalogue admits `*` and `resource:*` when at least one known scope falls under them. */
function isCovered(scope: string, known: Set<string>): boolean {
  if (known.has(scope)) return true;
  if (scope === "*") return known.size > 0;
  if (scope.endsWith(":*")) {
    const resource = scope.slice(0, -1);
    for (const k of known) if (k.startsWith(resource)) return true;
  }
  return false;
}

/**
 * A scope a route requires, split once at start-up.
 *
 * @example
 * const need = requiredScope("notes:read"); // { scope: "notes:read", resource: "notes", hasAction: true }
 */
export interface RequiredScope {
  /** The scope as written, e.g. `nodes:read`. */
  readonly scope: string;
  /** The part before `:`, or the whole scope when it has none. */
  readonly resource: string;
  /** Whether the scope has an action part (so `resource:*` can grant it). */
  readonly hasAction: boolean;
}

/**
 * Compiles a scope a guard requires; wildcards are not allowed here. Throws {@link KeywardConfigError}.
 *
 * @example
 * requiredScope("nodes:read"); // { scope: "nodes:read", resource: "nodes", hasAction: true }
 */
export function requiredScope(scope: unknown, option = "scope"): RequiredScope {
  const error = scopeError(scope);
  if (error) throw new KeywardConfigError(option, error);
  const text = scope as string;
  if (text.includes("*")) throw new KeywardConfigError(option, `"${text}" is a wildcard; a route must require a concrete scope such as "nodes:read"`);
  const colon = text.indexOf(":");
  return Object.freeze({ scope: text, resource: colon < 0 ? text : text.slice(0, colon), hasAction: colon >= 0 });
}

/**
 * What a caller may pass where a required scope is expected: a scope string, a compiled
 * {@link RequiredScope}, or a list of them (all of which are required).
 *
 * @example
 * const need: ScopeRequirement = ["nodes:read", "nodes:write"]; // both
 */
export type ScopeRequirement = string | RequiredScope | readonly (string | RequiredScope)[];

/**
 * Compiles a {@link ScopeRequirement} into a list of required scopes (all-of). Strings are checked
 * like {@link requiredScope}; an invalid entry throws {@link KeywardConfigError} naming `option`.
 *
 * @example
 * requiredScopes("nodes:read");                    // [{ scope: "nodes:read", … }]
 * requiredScopes(["nodes:read", requiredScope("nodes:write")]); // two entries
 */
export function requiredScopes(requirement: ScopeRequirement, option = "scope"): readonly RequiredScope[] {
  const list = Array.isArray(requirement) ? (requirement as readonly unknown[]) : [requirement];
  if (list.length === 0) throw new KeywardConfigError(option, "give at least one scope");
  return list.map((entry, i) => (isRequiredScope(entry) ? entry : requiredScope(entry, list.length > 1 ? `${option}[${i}]` : option)));
}

function isRequiredScope(value: unknown): value is RequiredScope {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as RequiredScope).scope === "string" &&
    typeof (value as RequiredScope).resource === "string" &&
    typeof (value as RequiredScope).hasAction === "boolean"
  );
}

/**
 * The scopes a key holds, compiled for fast checks: `*` grants all, `nodes:*` grants every
 * `nodes:<action>` (not the bare scope `nodes`), implications are expanded to a fixpoint.
 *
 * @example
 * const granted = ScopeSet.compile(["nodes:*"]);
 * granted.has(requiredScope("nodes:read")); // true
 * granted.has(requiredScope("users:read")); // false
 */
export class ScopeSet {
  private constructor(
    /** True when the set holds `*`: every scope is granted. */
    readonly all: boolean,
    private readonly exact: ReadonlySet<string>,
    private readonly wildcardResources: ReadonlySet<string>,
  ) {}

  /** Compiles granted scopes (applying `implies`) for fast checks. */
  static compile(scopes: readonly string[], implies?: ScopePolicy["implies"]): ScopeSet {
    const exact = new Set<string>();
    const wildcard = new Set<string>();
    let all = false;
    const add = (scope: string) => {
      if (scope === "*") all = true;
      else if (scope.endsWith(":*")) wildcard.add(scope.slice(0, -2));
      else exact.add(scope);
    };
    for (const scope of scopes) add(scope);
    if (implies && !all) {
      const rules = Object.entries(implies);
      let grew = true;
      while (grew && !all) {
        grew = false;
        for (const [from, targets] of rules) {
          const colon = from.indexOf(":");
          const holds = exact.has(from) || (colon > 0 && wildcard.has(from.slice(0, colon)));
          if (!holds) continue;
          for (const target of targets) {
            const before = exact.size + wildcard.size + (all ? 1 : 0);
            add(target);
            if (exact.size + wildcard.size + (all ? 1 : 0) !== before) grew = true;
          }
        }
      }
    }
    return new ScopeSet(all, exact, wildcard);
  }

  /** Whether the key may do what `required` names. */
  has(required: RequiredScope): boolean {
    return this.all || this.exact.has(required.scope) || (required.hasAction && this.wildcardResources.has(required.resource));
  }
}
