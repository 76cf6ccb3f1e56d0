/**
 * Credit costs of routes after apiKeyAuth: `chargeCredits(10)` (and the `{ cost }` option of the
 * scope guards) makes a route cost 10 credits in all for keys with credits: apiKeyAuth took its
 * `cost` (1 by default), this takes the rest (a lower cost gives the difference back). Over the
 * balance: 429 `credits_exhausted`, and the request's whole charge is given back. Keys without
 * credits pass untouched. With `refundOnServerError`, a 5xx answer gives the request's credits
 * back. (apiKeyAuth's own `cost` option takes a route's whole cost in one step instead.)
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import { KeywardError } from "../core/errors.js";
import type { MaybePromise } from "../core/types.js";
import { parseOptions } from "../core/options.js";
import { policyField } from "../core/ratelimit-fields.js";
import { KEY_REQUIRED } from "../core/refusals.js";
import type { Charge } from "../keys/charger.js";
import { costOption } from "../keys/limit-options.js";
import { withUnitsReturned } from "../keys/limits.js";
import { CREDITS_POLICY } from "../keys/meter.js";
import { after } from "../keys/store-calls.js";
import type { Middleware } from "./api-key-auth.js";
import { writeRateLimitHeaders } from "./rate-limit-headers.js";
import { authState, type AuthState, type KeywardRequest } from "./request-state.js";
import { requestInfo } from "./request-info.js";
import { DEFAULT_RESPONDER, refuse } from "./respond.js";

/**
 * A route's price in credits, for `chargeCredits` and the scope guards' last argument.
 *
 * @example
 * app.post("/v1/reports", requireScope("reports:run", { cost: 10, refundOnServerError: true }), runReport);
 */
export interface CreditCostOptions {
  /** Credits the route costs in all, the request's own 1 included: a whole number from 0 to 10^12. */
  cost: number;
  /** Give the request's credits back when the handler answers with a 5xx status. Defaults to false. */
  refundOnServerError?: boolean;
}

const COST_OPTIONS = z.strictObject({ cost: costOption, refundOnServerError: z.boolean().default(false) });

/** The request is described for audit events as the middleware does. */
const DESCRIBE = { describe: requestInfo };

/**
 * Validates a route's cost options (a KeywardConfigError naming `owner` for a bad one).
 *
 * @example
 * const cost = costOptions({ cost: 10 }, "requireScope"); // { cost: 10, refundOnServerError: false }
 */
export function costOptions(options: unknown, owner: string): Required<CreditCostOptions> {
  return parseOptions(COST_OPTIONS, options, owner);
}

/**
 * Makes the route cost `cost` credits in all (1 of them already taken by apiKeyAuth) for keys with
 * credits; 429 `credits_exhausted` with `Retry-After` (until the refill) when the balance is short.
 *
 * @example
 * app.post("/v1/exports", chargeCredits(25), exportHandler);
 * app.post("/v1/render", chargeCredits(5, { refundOnServerError: true }), render);
 */
export function chargeCredits(cost: number, options: Omit<CreditCostOptions, "cost"> = {}): Middleware {
  const o = costOptions({ ...(options ?? {}), cost }, "chargeCredits");
  return creditCharge(o.cost, o.refundOnServerError);
}

/**
 * The middleware behind `chargeCredits` and the guards' `{ cost }`.
 *
 * @example
 * const charge = creditCharge(10, false);
 */
export function creditCharge(cost: number, refundOnServerError: boolean): Middleware {
  return function keywardCredits(req: KeywardRequest, res: ServerResponse, next: (err?: unknown) => void): void {
    const state = authState(req);
    if (state === undefined || state.context === undefined) return refuse(req, res, next, KEY_REQUIRED, DEFAULT_RESPONDER);
    const key = state.key;
    // Anonymous requests (required: false) and keys without credits have nothing to pay.
    if (key === undefined || key.meter === null || !key.meter.hasCredits) return next();
    const { keys, responder } = state.context;
    let base = state.charge;
    // What apiKeyAuth's `cost` already took (none for a free route or an uncounted request).
    let extra = cost - (base === undefined ? 0 : creditUnits(base));
    let returned: MaybePromise<void> = undefined;
    if (extra < 0 && base !== undefined) {
      // apiKeyAuth took more than this route costs: its credits go back, and this cost is taken anew.
      returned = keys.pipeline.refundCredits(base);
      base = state.charge = withoutCredits(base);
      extra = cost;
      if (extra === 0) writeRateLimitHeaders(res, base.limits, responder.rateLimitHeaders, base.policy);
    }
    if (extra <= 0) {
      watch(state, res, refundOnServerError);
      // A free route answers once the credits apiKeyAuth took are back.
      return void after(returned, next);
    }
    const settle = (taken: Charge | KeywardError): void => {
      if (taken instanceof KeywardError) {
        const refunded = base === undefined ? undefined : keys.pipeline.refund(base);
        state.charge = undefined;
        keys.pipeline.refuse(req as IncomingMessage, DESCRIBE, taken, key.id);
        // The refusal goes out once the units are back, so the client reads its balance whole.
        return void after(refunded, () => refuse(req, res, next, taken, responder));
      }
      const merged = base === undefined ? taken : mergeCharges(base, taken);
      state.charge = merged;
      writeRateLimitHeaders(res, merged.limits, responder.rateLimitHeaders, merged.policy);
      watch(state, res, refundOnServerError);
      next();
    };
    const chargeRest = (): void => {
      const taken = keys.pipeline.chargeCredits(key, extra);
      if (taken instanceof Promise) taken.then(settle, next);
      else settle(taken);
    };
    // The credits given back above are in the store before this cost is taken from them.
    void after(returned, chargeRest);
  };
}

/** With `refundOnServerError`: once the answer is sent, a 5xx status gives the request's credits back. */
function watch(state: AuthState, res: ServerResponse, refundOnServerError: boolean): void {
  if (!refundOnServerError) return;
  res.once("finish", () => {
    const charge = state.charge;
    if (res.statusCode >= 500 && charge !== undefined && state.context !== undefined) {
      void state.context.keys.pipeline.refundCredits(charge);
      state.charge = withoutCredits(charge);
    }
  });
}

/** `base` plus the credits of `extra`: its takes appended, the credits state replaced by `extra`'s. */
function mergeCharges(base: Charge, extra: Charge): Charge {
  const credit = extra.limits[0];
  // A free apiKeyAuth (`cost: 0`) left the credits out of its charge: they are added after the rest.
  const listed = credit === undefined || base.limits.some((l) => l.policy === CREDITS_POLICY);
  const limits = credit === undefined ? base.limits : listed ? base.limits.map((l) => (l.policy === CREDITS_POLICY ? credit : l)) : [...base.limits, credit];
  return {
    limits,
    counters: [...base.counters, ...extra.counters],
    policy: listed ? base.policy : policyField(limits),
    takes: [...base.takes, ...extra.takes],
  };
}

/** The credits `charge` took. */
function creditUnits(charge: Charge): number {
  let units = 0;
  const takes = charge.takes;
  for (let i = 0; i < takes.length; i++) if (takes[i]!.policy === CREDITS_POLICY) units += takes[i]!.units;
  return units;
}

/** `charge` once its credits were given back. */
function withoutCredits(charge: Charge): Charge {
  const units = creditUnits(charge);
  return {
    limits: charge.limits.map((l) => (l.policy === CREDITS_POLICY ? withUnitsReturned(l, units) : l)),
    counters: charge.takes.filter((t) => t.policy !== CREDITS_POLICY).map((t) => t.counter),
    policy: charge.policy,
    takes: charge.takes.filter((t) => t.policy !== CREDITS_POLICY),
  };
}
