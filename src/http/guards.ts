/**
 * Route guards after apiKeyAuth: requireScope (all of), requireAnyScope (any of), requireMode, and
 * requireKey for the app's own rules (plans, roles).
 * Required scopes are validated and compiled at start-up; a check is a Set lookup. A scope guard
 * that admits a request counts the scopes it admitted it for as the key's scope use (buffered with
 * the usage, see `keys.scopeUsage`). A refusal refunds the request's rate-limit/quota charge, so
 * refused requests cost no quota.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { KeywardConfigError, KeywardError } from "../core/errors.js";
import { NAME_PATTERN } from "../core/key-format.js";
import { requiredScope, type RequiredScope } from "../core/scopes.js";
import { insufficientScope, KEY_REQUIRED, modeForbidden } from "../core/refusals.js";
import type { VerifiedKey } from "../keys/authenticator.js";
import { limitsReturned } from "../keys/charger.js";
import { after } from "../keys/store-calls.js";
import type { AuthenticatedKey, MaybePromise } from "../core/types.js";
import type { Middleware } from "./api-key-auth.js";
import { type AuthState, authState, type KeywardRequest } from "./request-state.js";
import { requestInfo } from "./request-info.js";
import { writeRateLimitHeaders } from "./rate-limit-headers.js";
import { DEFAULT_RESPONDER, refuse } from "./respond.js";
import { type CreditCostOptions, costOptions, creditCharge } from "./credits.js";

/** Guards describe the request for audit events as the middleware does. */
const DESCRIBE = { describe: requestInfo };

/** A guard: `check` answers null to let the key through, or the refusal. */
function guard(check: (key: VerifiedKey, req: KeywardRequest, state: AuthState) => KeywardError | null): Middleware {
  return function keywardGuard(req: KeywardRequest, res: ServerResponse, next: (err?: unknown) => void): void {
    const state = authState(req);
    const key = state?.key;
    const refusal = key === undefined ? KEY_REQUIRED : check(key, req, state!);
    if (refusal === null) return next();
    const context = state?.context;
    let refunded: MaybePromise<void> = undefined;
    if (state && context) {
      const charge = state.charge;
      if (charge) {
        refunded = context.keys.pipeline.refund(charge);
        state.charge = undefined;
        // The RateLimit headers apiKeyAuth wrote counted this request; show the units given back.
        writeRateLimitHeaders(res, limitsReturned(charge), context.responder.rateLimitHeaders, charge.policy);
      }
      context.keys.pipeline.refuse(req as IncomingMessage, DESCRIBE, refusal, key?.id);
    }
    const responder = context?.responder ?? DEFAULT_RESPONDER;
    // The refusal goes out once the units are back, so the client reads its balance whole.
    void after(refunded, () => refuse(req, res, next, refusal, responder));
  };
}

/**
 * Counts `scopes` as used by `key`, through the manager of the apiKeyAuth that verified it, at the
 * request's one clock reading (no second one per request).
 */
function countUse(state: AuthState, key: VerifiedKey, scopes: readonly RequiredScope[]): void {
  const context = state.context;
  if (context !== undefined) context.keys.pipeline.recordScopes(key, scopes, state.at);
}

/** The scopes and the optional trailing `{ cost }` of a scope guard's arguments. */
function splitCost(args: Array<string | CreditCostOptions>, option: string): { scopes: unknown[]; cost: Middleware | null } {
  const last = args[args.length - 1];
  if (last === null || typeof last !== "object" || Array.isArray(last)) return { scopes: args, cost: null };
  const o = costOptions(last, `${option}.cost`);
  return { scopes: args.slice(0, -1), cost: creditCharge(o.cost, o.refundOnServerError) };
}

/** `guard`, then (when it lets the request through) the route's credit cost. */
function withCost(check: Middleware, cost: Middleware | null): Middleware {
  if (cost === null) return check;
  return function keywardCostlyGuard(req, res, next) {
    check(req, res, (err?: unknown) => (err === undefined ? cost(req, res, next) : next(err)));
  };
}

function compileScopes(scopes: unknown[], option: string): RequiredScope[] {
  if (scopes.length === 0) throw new KeywardConfigError(option, 'name at least one scope, e.g. requireScope("nodes:read")');
  return scopes.map((s, i) => requiredScope(s, `${option}[${i}]`));
}

/**
 * Lets the request through only when the key holds every listed scope (403 `insufficient_scope`
 * naming the scopes the key lacks). A last `{ cost }` argument makes the route cost that many
 * credits in all for keys with credits (see `chargeCredits`).
 *
 * @example
 * app.post("/v1/nodes", requireScope("nodes:write"), createNode);
 * app.post("/v1/reports", requireScope("reports:run", { cost: 10 }), runReport);
 */
export function requireScope(...args: [...scopes: string[], options: CreditCostOptions] | string[]): Middleware {
  const { scopes, cost } = splitCost(args, "requireScope");
  const required = compileScopes(scopes, "requireScope");
  const all = insufficientScope(required);
  return withCost(
    guard((key, _req, state) => {
      const grant = key.grant;
      let missing: RequiredScope[] | null = null;
      for (let i = 0; i < required.length; i++) if (!grant.has(required[i]!)) (missing ??= []).push(required[i]!);
      if (missing === null) {
        countUse(state, key, required);
        return null;
      }
      // The refusal names only the scopes the key lacks (built on the refusal path only).
      return missing.length === required.length ? all : insufficientScope(missing);
    }),
    cost,
  );
}

/**
 * Lets the request through when the key holds at least one of the listed scopes (the first one it
 * holds is counted as used; a last `{ cost }` argument as for `requireScope`).
 *
 * @example
 * app.get("/v1/report", requireAnyScope("analytics:read", "reports:read"), report);
 */
export function requireAnyScope(...args: [...scopes: string[], options: CreditCostOptions] | string[]): Middleware {
  const { scopes, cost } = splitCost(args, "requireAnyScope");
  const required = compileScopes(scopes, "requireAnyScope");
  const error = insufficientScope(required, true);
  // One frozen list per scope, so counting the one that admitted a request allocates nothing.
  const alone = required.map((r) => Object.freeze([r]));
  return withCost(
    guard((key, _req, state) => {
      const grant = key.grant;
      for (let i = 0; i < required.length; i++) {
        if (grant.has(required[i]!)) {
          countUse(state, key, alone[i]!);
          return null;
        }
      }
      return error;
    }),
    cost,
  );
}

/**
 * Lets the request through only for keys of the listed modes (403 `mode_forbidden`).
 *
 * @example
 * app.post("/v1/payouts", requireMode("live"), payout);
 */
export function requireMode(...modes: string[]): Middleware {
  if (modes.length === 0) throw new KeywardConfigError("requireMode", 'name at least one mode, e.g. requireMode("live")');
  modes.forEach((m, i) => {
    if (typeof m !== "string" || !NAME_PATTERN.test(m)) throw new KeywardConfigError(`requireMode[${i}]`, `"${String(m)}" is not a mode name`);
  });
  const error = modeForbidden(modes);
  return guard((key) => (modes.includes(key.mode as string) ? null : error));
}

/**
 * Lets the request through when `allow(req.apiKey, req)` is true; otherwise answers 403 `forbidden`
 * with `message`, like every keyward refusal: shaped by `formatError`, reported as `auth.failed`,
 * and with the request's rate-limit/quota unit given back. For the app's own rules (a plan, a role).
 *
 * @example
 * const proOnly = requireKey((key) => plans.get(key.ownerId!) === "pro", "This endpoint needs the Pro plan.");
 * app.get("/v1/insights", proOnly, insights);
 */
export function requireKey(allow: (key: AuthenticatedKey, req: IncomingMessage) => boolean, message = "This key may not use this endpoint."): Middleware {
  if (typeof allow !== "function")
    throw new KeywardConfigError("requireKey", 'pass a function (key, req) => boolean, e.g. requireKey((key) => key.tier === "pro")');
  if (typeof message !== "string" || message.length === 0 || message.length > 500)
    throw new KeywardConfigError("requireKey.message", "must be a non-empty string of at most 500 characters");
  const refusal = new KeywardError("forbidden", message);
  return guard((_key, req) => (allow(req.apiKey!, req) ? null : refusal));
}
