/**
 * `requireScope()` for Fastify: a preHandler that lets the request through only when its key holds
 * every listed scope. A refusal gives back the request's rate-limit/quota unit, shows the units
 * given back in the RateLimit headers, is reported as `auth.failed`, and is answered like the
 * plugin's own refusals.
 */
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from "fastify";
import { KeywardConfigError, type KeywardError } from "../core/errors.js";
import { insufficientScope, KEY_REQUIRED } from "../core/refusals.js";
import { requiredScope, type RequiredScope } from "../core/scopes.js";
import type { MaybePromise } from "../core/types.js";
import { limitsReturned } from "../keys/charger.js";
import { after } from "../keys/store-calls.js";
import { describeRequest, fastifyAuthState } from "./plugin.js";
import { replyRateLimitHeaders, sendRefusal, type FastifyResponder } from "./reply.js";

/** The responder when no keyward plugin ran before the guard. */
const DEFAULT_RESPONDER: FastifyResponder = Object.freeze({ realm: "api", scheme: "Bearer", formatError: undefined, rateLimitHeaders: "draft" });

/** Guards describe the request for audit events as the plugin does. */
const DESCRIBE = { describe: describeRequest };

/**
 * A Fastify preHandler: lets the request through only when the key holds every listed scope
 * (403 `insufficient_scope` naming the scopes the key lacks; 401 `missing_key` without a key).
 *
 * @example
 * app.post("/v1/nodes", { preHandler: requireScope("nodes:write") }, async () => ({ created: true }));
 */
export function requireScope(...scopes: string[]): (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void {
  if (scopes.length === 0) throw new KeywardConfigError("requireScope", 'name at least one scope, e.g. requireScope("nodes:read")');
  const required: RequiredScope[] = scopes.map((s, i) => requiredScope(s, `requireScope[${i}]`));
  const all = insufficientScope(required);
  return function keywardFastifyGuard(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const state = fastifyAuthState(request);
    const key = state?.key;
    let refusal: KeywardError | null = KEY_REQUIRED;
    if (key !== undefined) {
      let missing: RequiredScope[] | null = null;
      for (const scope of required) if (!key.grant.has(scope)) (missing ??= []).push(scope);
      refusal = missing === null ? null : missing.length === required.length ? all : insufficientScope(missing);
    }
    if (refusal === null) {
      // Counted as used for `keys.scopeUsage` (buffered with the usage counts).
      if (state !== null && key !== undefined) state.keys.pipeline.recordScopes(key, required);
      return done();
    }
    let refunded: MaybePromise<void> = undefined;
    if (state !== null) {
      const charge = state.charge;
      if (charge !== undefined) {
        refunded = state.keys.pipeline.refund(charge);
        state.charge = undefined;
        replyRateLimitHeaders(reply, limitsReturned(charge), state.responder.rateLimitHeaders, charge.policy);
      }
      state.keys.pipeline.refuse(request, DESCRIBE, refusal, key?.id);
    }
    const send = (): void => {
      try {
        sendRefusal(request, reply, refusal, state?.responder ?? DEFAULT_RESPONDER);
      } catch (failure) {
        done(failure as Error);
      }
    };
    // The refusal goes out once the units are back, so the client reads its balance whole.
    void after(refunded, send);
  };
}
