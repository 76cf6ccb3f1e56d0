/**
 * The keyward Fastify plugin: `app.register(keyward, { keys })` authenticates each route's
 * requests in an `onRequest` hook, through the one verification pipeline (`keys/verifier.ts`)
 * with the credential rules of `apiKeyAuth` (`http/credentials.ts`, read from `request.raw`, so a
 * header sent twice is seen as such). Route config picks per-route behaviour: `config: { scopes }`
 * (checked before the rate limit is charged), `config: { cost }` (credits, taken with the other
 * limits) and `config: { apiKey: false | true }`. The hook is
 * compiled per route when the route is added, so a request pays for no lookup of its route; a
 * route added before the plugin loaded is still authenticated (a preHandler catches it).
 */
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest, HookHandlerDoneFunction, RouteOptions } from "fastify";
import fp from "fastify-plugin";
import { routeFallback } from "../keys/counter-fallback.js";
import { z } from "zod";
import { KeywardConfigError, KeywardError } from "../core/errors.js";
import { fn, parseOptions } from "../core/options.js";
import { insufficientScope, modeForbidden } from "../core/refusals.js";
import { requiredScope, type RequiredScope } from "../core/scopes.js";
import type { AuthenticatedKey } from "../core/types.js";
import type { VerifiedKey } from "../keys/authenticator.js";
import type { Charge } from "../keys/charger.js";
import { costOption } from "../keys/limit-options.js";
import type { RequestInfo } from "../keys/events.js";
import { KeyManager } from "../keys/key-manager.js";
import type { VerifyPolicy } from "../keys/verifier.js";
import { checkModesOption, credentialSettings, projectOptionFields, projectStep, sharedAdapterOptions } from "../http/adapter-options.js";
import { credentialReader, OTHER_SCHEME } from "../http/credentials.js";
import { deprecationLinkValue } from "../http/lifecycle-headers.js";
import {
  replyLifecycleHeaders,
  replyRateLimitHeaders,
  sendRefusal,
  type FastifyFormatError,
  type FastifyRateLimitStyle,
  type FastifyResponder,
} from "./reply.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The key that authenticated this request (set by keyward's plugin); never holds the secret or its hash. */
    apiKey: AuthenticatedKey | undefined;
  }
  interface FastifyContextConfig {
    /** keyward: scopes the key must hold, every one (403 `insufficient_scope`), checked before the rate limit is charged. */
    scopes?: string[];
    /** keyward: `false` leaves this route open; `true` authenticates it when the plugin's `global` is false. */
    apiKey?: boolean;
    /** keyward: credits a request to this route takes from a key with credits, with its other limits in one step (0 to 10^12; default: the plugin's `cost`). */
    cost?: number;
  }
}

/**
 * Options for the Fastify plugin; they mean what `apiKeyAuth`'s options of the same name mean.
 *
 * @example
 * const options: FastifyApiKeyAuthOptions = { keys, header: "x-api-key", global: false };
 * await app.register(keyward, options);
 */
export interface FastifyApiKeyAuthOptions {
  /** The KeyManager (required). */
  keys: KeyManager;
  /**
   * Authenticate every route added after the plugin (in its scope and the scopes inside it); a
   * route opts out with `config: { apiKey: false }`. `false`: only routes with
   * `config: { apiKey: true }` or `config: { scopes: [...] }` are authenticated. Defaults to true.
   */
  global?: boolean;
  /** Read the key from this header instead of `Authorization: Bearer` (e.g. `"x-api-key"`). Defaults to Bearer. */
  header?: string;
  /** With `header`, also accept `Authorization: Bearer` (sending both is a 400). Defaults to false. */
  bearer?: boolean;
  /** `false`: a request without a key passes as anonymous (`request.apiKey` undefined); a bad key is still refused. Defaults to true. */
  required?: boolean;
  /** Accept only keys of these modes (403 `mode_forbidden`). Defaults to all modes. */
  modes?: string[];
  /** Header naming the project a user key acts on (e.g. `"x-project"`). Defaults to none. */
  projectHeader?: string;
  /** Picks the project from the request before the header (e.g. a route parameter); a non-id answer is a 400. Defaults to none. */
  project?: (request: FastifyRequest) => string | null | undefined;
  /** The project when the request names none: an id, or a function of the key (e.g. the owner's default). Defaults to none. */
  defaultProject?: string | ((key: AuthenticatedKey, request: FastifyRequest) => string | null | undefined);
  /**
   * Whether a user key's owner may act on the resolved project (membership in your own data); false
   * is 403 `project_forbidden` (see `apiKeyAuth`). Defaults to none.
   *
   * @example
   * await app.register(keyward, { keys, projectHeader: "x-project", memberOf: (ownerId, project) => db.isMember(ownerId, project) });
   */
  memberOf?: (ownerId: string | null, project: string, request: FastifyRequest) => boolean | Promise<boolean>;
  /** The status of a malformed credential: 400 `invalid_request` or 401 `invalid_key` (see `apiKeyAuth`). Defaults to 400 for Bearer, 401 for a custom header. */
  malformedStatus?: 400 | 401;
  /** The realm in `WWW-Authenticate`. Defaults to `"api"`. */
  realm?: string;
  /** Shapes refusal bodies. Defaults to `{ error: { code, message } }`. */
  formatError?: FastifyFormatError;
  /** RateLimit headers: `"draft"`, `"legacy"`, `"both"` or false. Defaults to `"draft"`. */
  rateLimitHeaders?: FastifyRateLimitStyle;
  /** `Deprecation` / `Sunset` headers for keys near their end (see `apiKeyAuth`). Defaults to true. */
  lifecycleHeaders?: boolean;
  /** A page explaining key rotation, sent as `Link: <url>; rel="deprecation"`. Defaults to none. */
  deprecationLink?: string;
  /**
   * The client address checked against a key's `allowedIps`. Defaults to `request.ip`: the socket's
   * peer address unless you set Fastify's `trustProxy` (set it to your own proxies, nothing wider).
   */
  ip?: (request: FastifyRequest) => string | null | undefined;
  /**
   * Credits each request takes from a key with credits, in the same atomic step as its rate limits
   * and quota (see `apiKeyAuth`): a whole number from 0 to 10^12; a route's `config: { cost }`
   * overrides it. Keys without credits ignore it. Defaults to 1.
   *
   * @example
   * app.post("/v1/reports", { config: { scopes: ["reports:run"], cost: 10 } }, runReport);
   */
  cost?: number;
}

/** What the hook leaves on an admitted request for the guards after it. */
export interface FastifyAuthState {
  readonly key: VerifiedKey | undefined;
  readonly keys: KeyManager;
  readonly responder: FastifyResponder;
  charge: Charge | undefined;
}

const STATE = Symbol("keyward.fastifyAuthState");
type StatefulRequest = FastifyRequest & { [STATE]: FastifyAuthState | null };

/** The plugin's record for `request`, if it admitted it. */
export function fastifyAuthState(request: FastifyRequest): FastifyAuthState | null {
  return (request as StatefulRequest)[STATE] ?? null;
}

const schema = z.strictObject({
  keys: z.instanceof(KeyManager, { message: "must be a KeyManager" }),
  global: z.boolean().default(true),
  ...sharedAdapterOptions,
  ...projectOptionFields<FastifyRequest>(),
  formatError: fn<FastifyFormatError>().optional(),
  ip: fn<(request: FastifyRequest) => string | null | undefined>().optional(),
});

/** Request details for audit events: Fastify's request id, the client IP, method, path (never the query string). */
export function describeRequest(request: FastifyRequest): RequestInfo {
  const url = request.url;
  const q = url.indexOf("?");
  const info: RequestInfo = { method: request.method, path: q < 0 ? url : url.slice(0, q), requestId: String(request.id) };
  const ip = request.ip;
  if (ip) info.ip = ip;
  return info;
}

const requestIp = (request: FastifyRequest): string => request.ip;

/** A route's `config.scopes`: the pipeline check (all of them) and the list counted as used when it admits. */
interface RouteScopes {
  readonly check: (key: VerifiedKey) => KeywardError | null;
  readonly used: () => readonly RequiredScope[];
}

/** Compiles a route's `config.scopes`; throws at start-up for a bad scope. */
function routeScopes(scopes: unknown, route: string): RouteScopes | null {
  if (scopes === undefined) return null;
  if (!Array.isArray(scopes) || scopes.length === 0) throw new KeywardConfigError(`${route} config.scopes`, 'list at least one scope, e.g. ["nodes:read"]');
  const required: RequiredScope[] = scopes.map((s: unknown, i) => requiredScope(s, `${route} config.scopes[${i}]`));
  const all = insufficientScope(required);
  const check = (key: VerifiedKey): KeywardError | null => {
    let missing: RequiredScope[] | null = null;
    for (const scope of required) if (!key.grant.has(scope)) (missing ??= []).push(scope);
    if (missing === null) return null;
    return missing.length === required.length ? all : insufficientScope(missing);
  };
  return { check, used: () => required };
}

/** A route's `config.cost`, checked at start-up (undefined: the plugin's `cost`). */
function routeCost(cost: unknown, route: string): number | undefined {
  if (cost === undefined) return undefined;
  const checked = costOption.safeParse(cost);
  if (!checked.success)
    throw new KeywardConfigError(`${route} config.cost`, `${checked.error.issues[0]!.message}, not ${String(JSON.stringify(cost)).slice(0, 40)}`);
  return checked.data;
}

type Admitted = { key: VerifiedKey; principal: AuthenticatedKey; charge: Charge };
type Hook = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void;

/** Builds the registration's hook factory: options are validated once, here. */
function compile(options: FastifyApiKeyAuthOptions) {
  const o = parseOptions(schema, options, "keyward/fastify");
  const keys = o.keys;
  checkModesOption("keyward/fastify", o.modes, keys.modes);
  const { header, status, scheme, missing } = credentialSettings(o);
  const reader = credentialReader(header, o.bearer, status);
  const responder: FastifyResponder = Object.freeze({
    realm: o.realm,
    scheme,
    formatError: o.formatError,
    rateLimitHeaders: o.rateLimitHeaders,
  });
  const anonymous: FastifyAuthState = Object.freeze({ key: undefined, keys, responder, charge: undefined });
  const link = deprecationLinkValue(o.deprecationLink);
  const { required, rateLimitHeaders, lifecycleHeaders } = o;
  const pipeline = keys.pipeline;

  const base: VerifyPolicy<FastifyRequest, Admitted> = Object.freeze({
    modes: o.modes ?? null,
    modeError: o.modes ? modeForbidden(o.modes) : null,
    project: projectStep<FastifyRequest>(o, (request, name) => request.headers[name]),
    memberOf: o.memberOf ?? null,
    ip: o.ip ?? requestIp,
    check: null,
    scopesUsed: null,
    onStoreError: routeFallback(o.onStoreError ?? keys.pipeline.fallback.defaultMode),
    cost: o.cost,
    malformed: (request: FastifyRequest, token: string) => reader.malformed(request.raw, token),
    describe: describeRequest,
    admit: (_request: FastifyRequest, key: VerifiedKey, principal: AuthenticatedKey, charge: Charge) => ({ key, principal, charge }),
  });

  /** Sends the refusal, or hands a failure of `formatError` to Fastify's error handler. */
  const refuse = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction, error: KeywardError): void => {
    try {
      sendRefusal(request, reply, error, responder);
    } catch (failure) {
      done(failure as Error);
    }
  };

  const settle = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction, verdict: Admitted | KeywardError, now: number): void => {
    if (verdict instanceof KeywardError) return refuse(request, reply, done, verdict);
    const charge = verdict.charge.counters.length ? verdict.charge : undefined;
    if (charge !== undefined) replyRateLimitHeaders(reply, charge.limits, rateLimitHeaders, charge.policy);
    const key = verdict.key;
    if (lifecycleHeaders && now >= key.noticeFrom) replyLifecycleHeaders(reply, key.notice!, link);
    (request as StatefulRequest)[STATE] = { key, keys, responder, charge };
    request.apiKey = verdict.principal;
    done();
  };

  /** The onRequest hook for a route with these `config.scopes` (null: none) and `config.cost` (undefined: the plugin's). */
  const hookFor = (scopes: RouteScopes | null, cost?: number): Hook => {
    const policy =
      scopes === null && cost === undefined
        ? base
        : Object.freeze({ ...base, ...(scopes && { check: scopes.check, scopesUsed: scopes.used }), ...(cost !== undefined && { cost }) });
    return function keywardFastifyAuth(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
      try {
        const token = reader.read(request.raw);
        // Another scheme (e.g. Basic) carries no API key: anonymous when keys are optional.
        if (token === null || (token === OTHER_SCHEME && !required)) {
          if (required) return refuse(request, reply, done, pipeline.refuse(request, policy, missing));
          (request as StatefulRequest)[STATE] = anonymous;
          return done();
        }
        if (typeof token !== "string") return refuse(request, reply, done, pipeline.refuse(request, policy, token));
        const now = keys.now();
        const verdict = pipeline.verify(token, request, policy, now);
        if (verdict instanceof Promise) verdict.then((v) => settle(request, reply, done, v, now), done);
        else settle(request, reply, done, verdict, now);
      } catch (error) {
        done(error as Error);
      }
    };
  };

  const plain = hookFor(null);
  /** The hook for a route with this `config` (named `route` in errors), or null for an open route. */
  const forRoute = (routeConfig: unknown, route: string): Hook | null => {
    const config = (routeConfig ?? {}) as { scopes?: unknown; apiKey?: unknown; cost?: unknown };
    if (config.apiKey !== undefined && typeof config.apiKey !== "boolean") throw new KeywardConfigError(`${route} config.apiKey`, "must be true or false");
    const check = routeScopes(config.scopes, route);
    const cost = routeCost(config.cost, route);
    if (config.apiKey === false) {
      if (check !== null) throw new KeywardConfigError(`${route} config.scopes`, "a route with apiKey: false reads no key, so it cannot require scopes");
      if (cost !== undefined) throw new KeywardConfigError(`${route} config.cost`, "a route with apiKey: false reads no key, so it charges no credits");
      return null;
    }
    if (!o.global && config.apiKey !== true && check === null && cost === undefined) return null;
    return check === null && cost === undefined ? plain : hookFor(check, cost);
  };
  return { forRoute };
}

/** Adds `hook` first among the route's own onRequest hooks, so theirs see `request.apiKey`. */
function prepend(route: RouteOptions, hook: Hook): void {
  const existing = route.onRequest;
  route.onRequest = (existing === undefined ? [hook] : [hook, ...(Array.isArray(existing) ? existing : [existing])]) as RouteOptions["onRequest"];
}

/** Where a route seen by the plugin keeps its hook (null: open) in its config. */
const ROUTE = Symbol("keyward.fastifyRoute");
const NO_CONFIG = Object.freeze({});

const plugin: FastifyPluginCallback<FastifyApiKeyAuthOptions> = (app: FastifyInstance, options, done) => {
  let forRoute: ReturnType<typeof compile>["forRoute"];
  try {
    forRoute = compile(options).forRoute;
  } catch (error) {
    return done(error as Error);
  }
  if (!app.hasRequestDecorator("apiKey")) app.decorateRequest("apiKey", undefined);
  if (!app.hasRequestDecorator(STATE as unknown as string)) app.decorateRequest(STATE as unknown as string, null);
  app.addHook("onRoute", (route) => {
    const hook = forRoute(route.config, `${String(route.method)} ${route.url}`);
    route.config = { ...route.config, [ROUTE]: hook } as RouteOptions["config"];
    if (hook !== null) prepend(route, hook);
  });
  // Fail closed for routes the onRoute hook never saw: those added before the plugin finished
  // loading (`app.register(keyward, …)` not awaited), and the not-found handler. Every request the
  // route hook handled carries a state, so this costs the rest one property read.
  const unseen = new WeakMap<object, Hook | null>();
  app.addHook("preHandler", function keywardFastifyUnseenRoute(request: FastifyRequest, reply: FastifyReply, next: HookHandlerDoneFunction): void {
    if ((request as StatefulRequest)[STATE] !== null) return next();
    const route = request.routeOptions;
    const config = (route.config ?? NO_CONFIG) as unknown as Record<PropertyKey, unknown>;
    let hook = config[ROUTE] as Hook | null | undefined;
    if (hook === undefined) {
      hook = unseen.get(config);
      if (hook === undefined) {
        try {
          hook = forRoute(config, `${String(route.method)} ${route.url ?? "(not found)"}`);
        } catch (error) {
          return next(error as Error);
        }
        unseen.set(config, hook);
      }
    }
    if (hook === null) return next();
    hook(request, reply, next);
  });
  done();
};

/**
 * The keyward Fastify plugin (Fastify 5). Register it before the routes it protects: every route
 * added after it (in its scope) verifies the request's key in an `onRequest` hook, sets
 * `request.apiKey`, adds the RateLimit and lifecycle headers, and answers refusals itself (same
 * statuses, `WWW-Authenticate` and bodies as `apiKeyAuth`). Route config: `scopes` (all of,
 * checked before the rate limit is charged) and `apiKey: false` (an open route).
 *
 * @example
 * import Fastify from "fastify";
 * import { KeyManager, MemoryStore } from "keyward";
 * import { keyward, requireScope } from "keyward/fastify";
 * const keys = new KeyManager({ store: new MemoryStore() });
 * const app = Fastify();
 * await app.register(keyward, { keys });
 * app.get("/health", { config: { apiKey: false } }, async () => ({ ok: true }));
 * app.get("/v1/nodes", { config: { scopes: ["nodes:read"] } }, async (request) => ({ key: request.apiKey?.id }));
 * app.post("/v1/nodes", { preHandler: requireScope("nodes:write") }, async () => ({ created: true }));
 */
export const keyward = fp(plugin, { fastify: "5.x", name: "keyward" });
