/**
 * What `keys.verify()` runs through the verification pipeline: the call's context (project,
 * required scopes, request details) and one pipeline policy per set of accepted modes, counter-store
 * failure mode and credit cost, with the scope check of the call. Scope strings are compiled once (bounded caches).
 */
import { KeywardConfigError } from "../core/errors.js";
import { insufficientScope, modeForbidden } from "../core/refusals.js";
import { requiredScopes, type RequiredScope, type ScopeRequirement } from "../core/scopes.js";
import type { AuthenticatedKey } from "../core/types.js";
import type { VerifiedKey } from "./authenticator.js";
import type { Charge } from "./charger.js";
import { routeFallback, type StoreErrorMode } from "./counter-fallback.js";
import type { RequestInfo } from "./events.js";
import { costOption } from "./limit-options.js";
import type { VerifyResult } from "./results.js";
import type { VerifyPolicy } from "./verifier.js";

/** One `verify()` call as the pipeline sees it. */
export interface VerifyCall {
  /** The project the call acts on, or null. */
  readonly project: string | null;
  /** The scopes the key needs (all of them), or null. */
  readonly required: readonly RequiredScope[] | null;
  /** The client address, checked against a key's `allowedIps`; null when unknown. */
  readonly ip: string | null;
  /** The request details for audit events. */
  readonly request: RequestInfo;
}

/**
 * The arguments of `verify()` besides the secret.
 *
 * @example
 * const context: VerifyContext = { project: "proj_1", modes: ["live"], scope: "nodes:read", request: { ip: "203.0.113.9" } };
 * await keys.verify(secret, context);
 */
export interface VerifyContext {
  /** The project the request acts on (checked against a user key's allow-list). */
  project?: string | null;
  /** Accept only keys of these modes. */
  modes?: readonly string[];
  /** The scopes the key needs: a string, a `requiredScope()`, or a list (all of them). */
  scope?: ScopeRequirement;
  /** The request's details, for `auth.*` events. */
  request?: RequestInfo;
  /**
   * The client's address, checked against a key's `allowedIps` (IPv4, IPv6 or IPv4-mapped IPv6).
   * Defaults to `request.ip`; a key with an allow-list is refused (403 `ip_forbidden`) when neither is given.
   *
   * @example
   * await keys.verify(secret, { ip: req.socket.remoteAddress });
   */
  ip?: string;
  /**
   * What this call does when the counter store fails or times out: `"closed"` (503), `"open"` or
   * `"local"` (see `apiKeyAuth`). Defaults to the KeyManager's `onStoreError` (`"closed"`).
   *
   * @example
   * await keys.verify(secret, { onStoreError: "open" });
   */
  onStoreError?: StoreErrorMode;
  /**
   * Credits this call takes from a key with credits, in the same step as its rate limits and
   * quota (all or nothing): a whole number from 0 to 10^12. Keys without credits ignore it.
   * Over the balance: `credits_exhausted`. Defaults to 1.
   *
   * @example
   * await keys.verify(secret, { scope: "reports:run", cost: 10 });
   */
  cost?: number;
}

const LIMIT = 1024;

/** Policies and compiled scopes for one KeyManager's `verify()` calls. */
export class VerifyCalls {
  private readonly requirements = new Map<string, readonly RequiredScope[]>();
  private readonly policies = new Map<string, VerifyPolicy<VerifyCall, VerifyResult>>();

  /** The pipeline input for `context` (a malformed scope throws KeywardConfigError). */
  call(context: VerifyContext): VerifyCall {
    const request = context.request ?? {};
    const ip = context.ip ?? request.ip ?? null;
    return {
      project: context.project ?? null,
      required: context.scope === undefined ? null : this.compile(context.scope),
      ip,
      request: ip !== null && request.ip === undefined ? { ...request, ip } : request,
    };
  }

  /** The policy for the call's modes and counter-store failure mode (`defaultMode` when it names none); made once per distinct pair. */
  policy(context: VerifyContext, defaultMode: StoreErrorMode): VerifyPolicy<VerifyCall, VerifyResult> {
    const { modes, onStoreError = defaultMode, cost = 1 } = context;
    const name = `${onStoreError}:${cost}:${modes === undefined ? "" : modes.join(",")}`;
    // A cost that is not a number (e.g. "5") never matches a cached policy: it is checked, and refused.
    let policy = typeof cost === "number" ? this.policies.get(name) : undefined;
    if (policy === undefined) {
      if (onStoreError !== "closed" && onStoreError !== "open" && onStoreError !== "local")
        throw new KeywardConfigError("verify.onStoreError", `must be "closed", "open" or "local", not ${JSON.stringify(onStoreError)}`);
      const checked = costOption.safeParse(cost);
      if (!checked.success)
        throw new KeywardConfigError("verify.cost", `${checked.error.issues[0]!.message}, not ${String(JSON.stringify(cost)).slice(0, 40)}`);
      policy = Object.freeze({
        modes: modes === undefined ? null : [...modes],
        modeError: modes === undefined ? null : modeForbidden(modes),
        project: (call: VerifyCall) => call.project,
        memberOf: null,
        ip: (call: VerifyCall) => call.ip,
        malformed: null,
        onStoreError: routeFallback(onStoreError),
        cost: checked.data,
        describe: (call: VerifyCall) => call.request,
        check: (key: VerifiedKey, call: VerifyCall) => {
          if (call.required === null) return null;
          const missing = call.required.filter((r) => !key.grant.has(r));
          return missing.length === 0 ? null : insufficientScope(missing);
        },
        scopesUsed: (call: VerifyCall) => call.required,
        admit: (_call: VerifyCall, _key: VerifiedKey, principal: AuthenticatedKey, charge: Charge): VerifyResult => ({
          ok: true,
          key: principal,
          limits: charge.limits,
        }),
      });
      if (this.policies.size >= 64) this.policies.clear();
      this.policies.set(name, policy);
    }
    return policy;
  }

  private compile(scope: ScopeRequirement): readonly RequiredScope[] {
    if (typeof scope !== "string") return requiredScopes(scope);
    let compiled = this.requirements.get(scope);
    if (compiled === undefined) {
      compiled = requiredScopes(scope);
      if (this.requirements.size >= LIMIT) this.requirements.clear();
      this.requirements.set(scope, compiled);
    }
    return compiled;
  }
}
