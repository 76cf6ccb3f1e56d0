/**
 * keyward/hono: Hono middleware over `keyward/fetch`. `app.use(apiKeyAuth({ keys }))` verifies the
 * key through the one pipeline and sets `c.get("apiKey")`; `requireScope()` guards routes. Imports
 * only types from hono (an optional peer), so `import "keyward"` never loads it.
 */
import type { Context, MiddlewareHandler } from "hono";
import { KeywardConfigError, type KeywardError } from "./core/errors.js";
import { insufficientScope, KEY_REQUIRED } from "./core/refusals.js";
import { requiredScope, type RequiredScope } from "./core/scopes.js";
import type { AuthenticatedKey, MaybePromise } from "./core/types.js";
import { limitsReturned } from "./keys/charger.js";
import { describeRequest, fetchAuthList, fetchAuthState, type FetchAuthOptions } from "./fetch/auth.js";
import { setRateLimitHeaders, type HeaderList } from "./fetch/headers.js";
import { refusalResponse } from "./fetch/respond.js";

/**
 * The Hono environment keyward's middleware sets: `c.get("apiKey")` is the key that authenticated
 * the request (undefined for an anonymous request when keys are optional).
 *
 * @example
 * import { Hono } from "hono";
 * import type { ApiKeyEnv } from "keyward/hono";
 * const app = new Hono<ApiKeyEnv>();
 * app.get("/whoami", (c) => c.json({ id: c.get("apiKey")?.id }));
 */
export interface ApiKeyEnv {
  /** The context variables keyward sets. */
  Variables: {
    /** The key that authenticated this request; never holds the secret or its hash. */
    apiKey: AuthenticatedKey | undefined;
  };
}

/**
 * Options for {@link apiKeyAuth}: those of `fetchAuth` (`keyward/fetch`).
 *
 * @example
 * const options: HonoApiKeyAuthOptions = { keys, header: "x-api-key" };
 * app.use(apiKeyAuth(options));
 */
export type HonoApiKeyAuthOptions = FetchAuthOptions;

/**
 * Authenticates requests by API key, sets `c.get("apiKey")` and adds the RateLimit and lifecycle
 * headers to the response; answers refusals itself (same statuses and bodies as the Express adapter).
 *
 * @example
 * import { Hono } from "hono";
 * import { apiKeyAuth, requireScope, type ApiKeyEnv } from "keyward/hono";
 * const app = new Hono<ApiKeyEnv>();
 * app.use("/v1/*", apiKeyAuth({ keys }));
 * app.get("/v1/nodes", requireScope("nodes:read"), (c) => c.json({ key: c.get("apiKey")!.id }));
 */
export function apiKeyAuth(options: HonoApiKeyAuthOptions): MiddlewareHandler<ApiKeyEnv> {
  const auth = fetchAuthList(options);
  return async function keywardHonoAuth(c: Context<ApiKeyEnv>, next: () => Promise<void>): Promise<Response | void> {
    const result = await auth(c.req.raw);
    if (!result.ok) return result.response;
    c.set("apiKey", result.key);
    await next();
    addHeaders(c, result.headers);
  };
}

/**
 * Puts `headers` on the response after the handler. They go straight onto `c.res.headers` when they
 * can be changed (`c.header()` on a finished response rebuilds the `Response`, which on
 * @hono/node-server turns its cached response into a streamed one); immutable headers (a `Response`
 * from `fetch()`, `Response.redirect()`) throw on the first change and go through `c.header()`.
 */
function addHeaders(c: Context<ApiKeyEnv>, headers: HeaderList): void {
  const fields = headers.fields;
  if (fields.length === 0) return;
  if (c.finalized) {
    try {
      const target = c.res.headers;
      for (let i = 0; i < fields.length; i += 2) {
        const name = fields[i]!;
        const value = fields[i + 1]!;
        if (name === "link") {
          if (!(target.get("link") ?? "").includes(value)) target.append(name, value);
        } else target.set(name, value);
      }
      return;
    } catch {
      // Immutable headers (a TypeError, maybe of another realm): c.header() below makes a copy first.
    }
  }
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!;
    const value = fields[i + 1]!;
    // A guard's refusal already carries these headers; a Link header is appended only once.
    if (name === "link") {
      if (!(c.res.headers.get("link") ?? "").includes(value)) c.header(name, value, { append: true });
    } else c.header(name, value);
  }
}

/**
 * Lets the request through only when the key holds every listed scope (403 `insufficient_scope`
 * naming the scopes the key lacks); a refusal gives back the request's rate-limit/quota unit, an
 * admission counts the scopes as the key's scope use (`keys.scopeUsage`).
 *
 * @example
 * app.post("/v1/nodes", requireScope("nodes:write"), (c) => c.json({ created: true }, 201));
 */
export function requireScope(...scopes: string[]): MiddlewareHandler<ApiKeyEnv> {
  if (scopes.length === 0) throw new KeywardConfigError("requireScope", 'name at least one scope, e.g. requireScope("nodes:read")');
  const required: RequiredScope[] = scopes.map((s, i) => requiredScope(s, `requireScope[${i}]`));
  const all = insufficientScope(required);
  return async function keywardHonoGuard(c: Context<ApiKeyEnv>, next: () => Promise<void>): Promise<Response | void> {
    const request = c.req.raw;
    const state = fetchAuthState(request);
    const key = state?.key;
    let refusal: KeywardError | null = KEY_REQUIRED;
    if (key !== undefined) {
      const missing = required.filter((scope) => !key.grant.has(scope));
      refusal = missing.length === 0 ? null : missing.length === required.length ? all : insufficientScope(missing);
    }
    if (refusal === null) {
      state!.keys.pipeline.recordScopes(key!, required); // counted as the key's scope use
      return next();
    }
    if (state === undefined) return refusalResponse(request, refusal, { realm: "api", scheme: "Bearer", formatError: undefined, rateLimitHeaders: "draft" });
    const charge = state.charge;
    let refunded: MaybePromise<void> = undefined;
    if (charge !== undefined) {
      refunded = state.keys.pipeline.refund(charge);
      state.charge = undefined;
      setRateLimitHeaders(state.headers, limitsReturned(charge), state.responder.rateLimitHeaders, charge.policy);
    }
    state.keys.pipeline.refuse(request, { describe: describeRequest }, refusal, key?.id);
    // The refusal goes out once the units are back, so the client reads its balance whole.
    if (refunded !== undefined) await refunded;
    return refusalResponse(request, refusal, state.responder, state.headers);
  };
}
