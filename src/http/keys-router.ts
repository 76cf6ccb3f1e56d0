/**
 * keysRouter(): the key-management REST API as Connect-style middleware for Express 4 and 5,
 * Connect and node:http (create, list, show, usage, scope usage, patch, rotate, revoke); its routing and JSON
 * body parsing are its own, so no framework needs to be installed. The owner comes only from the app's `owner(req)`; requests carrying an
 * API key are refused unless `allowApiKeys` names a scope; bodies are zod-validated before any
 * write; CSRF checks and JSON parsing (16 KiB limit) are built in; envelopes follow `formatBody`
 * and `formatError`. Responses carry `Cache-Control: no-store` and never a hash.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
// biome-ignore lint/suspicious/noTsIgnore: @ts-expect-error would fail when @types/express is installed
// @ts-ignore -- express is an optional peer: without its types this is `any` and RouterRequest falls back to node:http's request
import type { Request as ExpressRequest } from "express";
import { parse as parseQuery } from "node:querystring";
import { z } from "zod";
import { KeywardError } from "../core/errors.js";
import { fn, parseOptions } from "../core/options.js";
import { requiredScope, ScopeSet } from "../core/scopes.js";
import type { ApiKey, MaybePromise } from "../core/types.js";
import { KeyManager } from "../keys/key-manager.js";
import { crossSiteError, jsonBodyError } from "./csrf.js";
import { keyJson, type ApiKeyJson } from "./key-json.js";
import { createBody, listQuery, parseRequest, patchBody, rotateBody, usageQuery } from "./router-body.js";
import { resolveCaller, type Caller, type CallerPolicy } from "./router-caller.js";
import { assertGrantable, defaultGrant } from "./router-scopes.js";
import { sendJson } from "./respond.js";
import { readJsonBody } from "./router-json.js";
import { checkModeFilter } from "../keys/new-key.js";

/**
 * The request keysRouter's callbacks get by default: Express's `Request` when `@types/express` is
 * installed (so `req.header(...)`, `req.session` type-check as before), else node:http's
 * `IncomingMessage` with what the app's middleware declares on the global `Express.Request`
 * (`req.session` from express-session, `req.user` from Passport, `req.apiKey`). Another request
 * type can be named: `keysRouter<IncomingMessage>({ ... })`.
 *
 * @example
 * const owner = (req: RouterRequest) => req.session?.userId; // express-session's typing, with or without @types/express
 */
export type RouterRequest = unknown extends ExpressRequest ? IncomingMessage & Express.Request : ExpressRequest;

/**
 * The middleware keysRouter returns: `(req, res, next)` for Express, Connect and node:http.
 *
 * @example
 * const router: RouterMiddleware<IncomingMessage> = keysRouter<IncomingMessage>({ keys, owner: (req) => sessionUser(req) });
 * http.createServer((req, res) => router(req, res, () => { res.statusCode = 404; res.end(); }));
 */
export type RouterMiddleware<Req extends IncomingMessage = RouterRequest> = (req: Req, res: ServerResponse, next: (err?: unknown) => void) => void;

/**
 * Options for {@link keysRouter}.
 *
 * @example
 * const options: KeysRouterOptions = { keys, owner: (req) => req.session?.userId, allowedScopes: () => ["notes:read", "notes:write"] };
 * app.use("/api/keys", keysRouter(options));
 */
export interface KeysRouterOptions<Req extends IncomingMessage = RouterRequest> {
  /** The KeyManager. Required. */
  keys: KeyManager;
  /** The signed-in user's id from your session; none → 401 `unauthenticated`. Required. */
  owner: (req: Req) => MaybePromise<string | null | undefined>;
  /** Projects the owner may bind keys to (`project`, `projects`); others → 403 `project_forbidden`. Defaults to any. */
  projects?: (req: Req) => MaybePromise<string[]>;
  /**
   * Scopes the creator may grant (e.g. the signed-in user's role), so a key never exceeds its
   * creator's permissions. Requested scopes outside it → 403 `insufficient_scope` with a detail per
   * offending `scopes.<i>`; wildcards and `implies` count (`nodes:read` is inside `nodes:*` and `*`,
   * `nodes:*` only inside `nodes:*` or `*`). A key created without `scopes` gets the manager's
   * `defaultScopes` narrowed to this set: a full-access default (`*`) becomes exactly this set.
   * Defaults to any (within the catalogue).
   *
   * @example
   * const ROLES = { admin: ["*"], member: ["nodes:*", "batches:*"], viewer: ["nodes:read", "batches:read"] };
   * keysRouter({ keys, owner: (req) => req.session?.userId, allowedScopes: (req) => ROLES[req.session!.role] });
   * // POST {"name":"ci"} as a viewer → scopes ["nodes:read", "batches:read"]; {"scopes":["nodes:write"]} → 403
   */
  allowedScopes?: (req: Req) => MaybePromise<string[]>;
  /** Tiers the creator may pick with `tier`; others → 403 `forbidden`. Defaults to any configured tier. */
  tiers?: (req: Req) => MaybePromise<string[]>;
  /**
   * Whether the signed-in user may change a key's credits with `PATCH /:id` (`{ credits }`: a new
   * balance and refill, or null for no credit limit). Credits are often what you bill for, so this
   * is yours to allow: without it such a PATCH is 403 `forbidden` and changes nothing. Creating a
   * key with `credits` needs no permission: a key without credits has no credit limit at all, so a
   * balance only limits it. Defaults to none (refused).
   *
   * @example
   * keysRouter({ keys, owner, changeCredits: (req) => req.session?.role === "admin" });
   */
  changeCredits?: (req: Req) => MaybePromise<boolean>;
  /** `{ scope }` lets API keys holding that scope manage their owner's keys. Defaults to false (403 `forbidden`). */
  allowApiKeys?:
    | false
    | {
        /** The scope a key needs to manage keys, e.g. `keys:manage`. */ scope: string;
      };
  /** Shapes error bodies, e.g. `(e) => ({ data: null, error: e.message })`. Defaults to `{ error: { code, message, details? } }`. */
  formatError?: (error: KeywardError, req: Req) => unknown;
  /** Shapes success bodies, e.g. `(data) => ({ data, error: null })`. Defaults to the data itself. */
  formatBody?: (data: unknown, req: Req) => unknown;
  /**
   * Shapes each key in responses (`key`, `keys[]`, `previous`), e.g. to rename fields to your API's
   * style. Gets the safe JSON view (never a hash or secret; dates as ISO strings). Defaults to that
   * view as is. The bundled `keysPage` expects the default shape.
   *
   * @example
   * keysRouter({ keys, owner, present: (k) => ({ id: k.id, name: k.name, scopes: k.scopes, last_used_at: k.lastUsedAt, expires_at: k.expiresAt }) });
   */
  present?: (key: ApiKeyJson, req: Req) => unknown;
  /** Refuse cross-site POST/PATCH/DELETE and non-JSON bodies. Defaults to true. */
  csrf?: boolean;
  /** Largest `limit` a listing accepts (and the default page size). Defaults to 100. */
  maxPageSize?: number;
}

const schema = z.strictObject({
  keys: z.instanceof(KeyManager, { message: "must be a KeyManager" }),
  owner: fn<KeysRouterOptions["owner"]>("a function returning the signed-in user's id, e.g. (req) => req.session?.userId"),
  projects: fn<NonNullable<KeysRouterOptions["projects"]>>().optional(),
  allowedScopes: fn<NonNullable<KeysRouterOptions["allowedScopes"]>>().optional(),
  tiers: fn<NonNullable<KeysRouterOptions["tiers"]>>().optional(),
  changeCredits: fn<NonNullable<KeysRouterOptions["changeCredits"]>>().optional(),
  allowApiKeys: z.union([z.literal(false), z.strictObject({ scope: z.string() })]).default(false),
  formatError: fn<NonNullable<KeysRouterOptions["formatError"]>>().optional(),
  formatBody: fn<NonNullable<KeysRouterOptions["formatBody"]>>().optional(),
  present: fn<NonNullable<KeysRouterOptions["present"]>>(
    "a function of the key's JSON view, e.g. (k) => ({ id: k.id, last_used_at: k.lastUsedAt })",
  ).optional(),
  csrf: z.boolean().default(true),
  maxPageSize: z.number().int().min(1).max(1000).default(100),
});

/** Largest JSON body the router parses. */
export const MAX_BODY = "16kb";
const MAX_BODY_BYTES = 16 * 1024;

/** What routing left for a handler: the request, its `:id` (when the route has one) and its query. */
interface Routed<Req> {
  req: Req & { body?: unknown };
  id: string | undefined;
  query: () => unknown;
}

type Handler<Req> = (routed: Routed<Req>, caller: Caller) => Promise<{ status: number; data: unknown }>;

/** A route's place: the collection (`/`), one key (`/:id`), or a key's action (`/:id/usage`, `/:id/rotate`, …). */
type Place = "" | ":id" | ":id/usage" | ":id/scope-usage" | ":id/rotate" | ":id/disable" | ":id/enable";
const ACTIONS: ReadonlySet<string> = new Set(["usage", "scope-usage", "rotate", "disable", "enable"]);

/**
 * Where `url` (as the mount left it) points, case-insensitively and with an optional trailing
 * slash, as Express's router matches; null when no route is there. The id is URI-decoded (null
 * when it cannot be).
 */
function place(url: string): { place: Place; id: string | null | undefined } | null {
  const q = url.indexOf("?");
  let path = q < 0 ? url : url.slice(0, q);
  if (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1);
  if (path === "" || path === "/") return { place: "", id: undefined };
  if (!path.startsWith("/")) return null;
  const parts = path.slice(1).split("/");
  if (parts.length > 2 || parts[0] === "") return null;
  let id: string | null;
  try {
    id = decodeURIComponent(parts[0]!);
  } catch {
    id = null;
  }
  if (parts.length === 1) return { place: ":id", id };
  const action = parts[1]!.toLowerCase();
  return ACTIONS.has(action) ? { place: `:id/${action}` as Place, id } : null;
}

/** The query the app already parsed (Express's `req.query`), else the URL's, parsed like Express 5. */
function queryOf(req: IncomingMessage): unknown {
  const parsed = (req as { query?: unknown }).query;
  if (parsed !== null && typeof parsed === "object") return parsed;
  const url = req.url ?? "";
  const q = url.indexOf("?");
  return q < 0 ? {} : parseQuery(url.slice(q + 1));
}

const NOT_FOUND = new KeywardError("not_found", "No such API key.");
const CREDITS_FORBIDDEN = new KeywardError("forbidden", "Not allowed to change a key's credits.", {
  details: [{ path: "credits", message: "changing credits is not allowed to you" }],
});
const BAD_ID = new KeywardError("invalid_request", "The key id in the path is not valid URI encoding.");

/**
 * The key-management REST API for the signed-in user's own keys.
 *
 * Routes: `POST /` (201 `{ secret, key }`), `GET /` (`{ keys, next }`), `GET /:id` (`{ key }`),
 * `GET /:id/usage?days=30` (`{ usage }`), `GET /:id/scope-usage?days=30` (`{ used, unused }`: the
 * scopes the key's requests were admitted for and its scopes none needed), `PATCH /:id` (`{ key }`; `credits` only
 * with `changeCredits`), `POST /:id/rotate`
 * (201 `{ secret, key, previous }`), `POST /:id/disable` and `POST /:id/enable` (`{ key }`: pause
 * and resume), `DELETE /:id` (`{ key }`).
 *
 * @example
 * import { keysRouter } from "keyward";
 * app.use("/api/keys", keysRouter({ keys, owner: (req) => req.session?.userId }));
 * // a { data, error } envelope:
 * app.use("/api/keys", keysRouter({ keys, owner, formatBody: (data) => ({ data, error: null }), formatError: (e) => ({ data: null, error: e.message }) }));
 */
export function keysRouter<Req extends IncomingMessage = RouterRequest>(options: KeysRouterOptions<Req>): RouterMiddleware<Req> {
  const o = parseOptions(schema, options, "keysRouter");
  const keys = o.keys;
  const policy: CallerPolicy = {
    keys,
    owner: o.owner as unknown as CallerPolicy["owner"],
    apiKeyScope: o.allowApiKeys === false ? null : requiredScope(o.allowApiKeys.scope, "keysRouter.allowApiKeys.scope"),
  };
  const list = listQuery(o.maxPageSize);
  const present = o.present as KeysRouterOptions<Req>["present"];
  const formatError = o.formatError as KeysRouterOptions<Req>["formatError"];
  const formatBody = o.formatBody as KeysRouterOptions<Req>["formatBody"];
  const allowedScopes = o.allowedScopes as KeysRouterOptions<Req>["allowedScopes"];
  const tiers = o.tiers as KeysRouterOptions<Req>["tiers"];
  const projects = o.projects as KeysRouterOptions<Req>["projects"];
  const changeCredits = o.changeCredits as KeysRouterOptions<Req>["changeCredits"];
  /** A key as responses show it: the JSON view, through `present` when given. */
  const view = (key: ApiKey, req: Req): unknown => (present ? present(keyJson(key), req) : keyJson(key));

  const fail = (req: Req, res: ServerResponse, next: (err?: unknown) => void, error: unknown): void => {
    const refusal = asRefusal(error);
    if (!refusal || res.headersSent) return next(error);
    for (const name in refusal.headers) res.setHeader(name, refusal.headers[name]!);
    let body: unknown;
    try {
      body = formatError ? formatError(refusal, req) : { error: refusal.toJSON() };
    } catch (formatFailure) {
      return next(formatFailure);
    }
    sendJson(res, refusal.status, body);
  };

  /** One middleware per route: CSRF, caller (before reading the body), JSON body, handler, error mapping. */
  const route =
    (handler: Handler<Req>) =>
    async (req: Req, res: ServerResponse, next: (err?: unknown) => void, id: string | null | undefined): Promise<void> => {
      res.setHeader("Cache-Control", "no-store");
      try {
        const refused = o.csrf ? (crossSiteError(req) ?? jsonBodyError(req)) : null;
        if (refused) throw refused;
        const caller = await resolveCaller(req, policy);
        await readJsonBody(req, MAX_BODY_BYTES);
        if (id === null) throw BAD_ID;
        const { status, data } = await handler({ req, id, query: () => queryOf(req) }, caller);
        sendJson(res, status, formatBody ? formatBody(data, req) : data);
      } catch (error) {
        fail(req, res, next, error);
      }
    };

  const owned = async (id: string | undefined, caller: Caller): Promise<ApiKey> => {
    const key = typeof id !== "string" ? null : await keys.get(id);
    if (!key || key.ownerId !== caller.ownerId) throw NOT_FOUND;
    return key;
  };

  const routes: Record<Place, Partial<Record<string, ReturnType<typeof route>>>> = {
    "": {},
    ":id": {},
    ":id/usage": {},
    ":id/scope-usage": {},
    ":id/rotate": {},
    ":id/disable": {},
    ":id/enable": {},
  };
  const router = {
    get: (at: Place, handler: Handler<Req>) => void (routes[at].GET = route(handler)),
    post: (at: Place, handler: Handler<Req>) => void (routes[at].POST = route(handler)),
    patch: (at: Place, handler: Handler<Req>) => void (routes[at].PATCH = route(handler)),
    delete: (at: Place, handler: Handler<Req>) => void (routes[at].DELETE = route(handler)),
  };

  router.post("", async ({ req }, caller) => {
    const body = parseRequest(createBody, req.body, "body");
    const kind = body.kind ?? "user";
    if (kind === "project" && body.scopes !== undefined) {
      throw new KeywardError("validation_failed", "scopes: project keys are not scope-gated", {
        details: [{ path: "scopes", message: "project keys are not scope-gated; leave scopes out" }],
      });
    }
    if (projects) await checkProjects(await projects(req), body.project, body.projects);
    const allowed = allowedScopes ? await allowedScopes(req) : null;
    let scopes: readonly string[] | undefined = body.scopes;
    const allowance = allowed ? ScopeSet.compile(allowed, keys.scopeImplications) : null;
    if (kind === "project") {
      if ((allowance && !allowance.all) || (caller.grant && !caller.grant.all)) {
        throw new KeywardError("insufficient_scope", "Not allowed to create project keys: a project key has full access within its project.", {
          details: [{ path: "kind", message: "project keys need the * scope" }],
          scope: "*",
        });
      }
    } else {
      // No scopes asked for: the defaults, narrowed to what the creator may grant.
      const granted = body.scopes ?? (allowed ? defaultGrant(keys.defaultScopes, allowed, keys.scopeImplications) : keys.defaultScopes);
      if (allowance && body.scopes) assertGrantable(granted, allowance, "is outside the scopes you may grant");
      if (caller.grant) assertGrantable(granted, caller.grant, "is not held by the API key making this request");
      if (allowed) scopes = granted;
    }
    if (body.tier !== undefined && tiers && !(await tiers(req)).includes(body.tier)) {
      throw new KeywardError("forbidden", `The tier "${body.tier}" is not available to you.`, { details: [{ path: "tier", message: "not available to you" }] });
    }
    const { secret, key } = await keys.create({ ...body, ...(scopes ? { scopes: [...scopes] } : {}), ownerId: caller.ownerId });
    return { status: 201, data: { secret, key: view(key, req) } };
  });

  router.get("", async ({ req, query }, caller) => {
    const q = parseRequest(list, query(), "query");
    checkModeFilter(keys.format, q.mode);
    const page = await keys.list({
      ownerId: caller.ownerId,
      mode: q.mode,
      status: q.status,
      projectId: q.project,
      limit: q.limit ?? o.maxPageSize,
      before: q.before,
    });
    return { status: 200, data: { keys: page.keys.map((k) => view(k, req)), next: page.next } };
  });

  router.get(":id", async ({ req, id }, caller) => ({ status: 200, data: { key: view(await owned(id, caller), req) } }));

  router.get(":id/usage", async ({ id, query }, caller) => {
    const key = await owned(id, caller);
    const q = parseRequest(usageQuery, query(), "query");
    return { status: 200, data: { usage: await keys.usage(key.id, q.days ?? 30) } };
  });

  router.get(":id/scope-usage", async ({ id, query }, caller) => {
    const key = await owned(id, caller);
    const q = parseRequest(usageQuery, query(), "query");
    const { used, unused } = await keys.scopeUsage(key.id, q.days ?? 30);
    return { status: 200, data: { used: used.map((u) => ({ scope: u.scope, count: u.count, lastUsedAt: u.lastUsedAt?.toISOString() ?? null })), unused } };
  });

  router.patch(":id", async ({ req, id }, caller) => {
    const key = await owned(id, caller);
    const body = parseRequest(patchBody, req.body, "body");
    if (body.credits !== undefined && !(changeCredits && (await changeCredits(req)) === true)) throw CREDITS_FORBIDDEN;
    if (body.scopes !== undefined && key.kind === "user") {
      assertGrantable(body.scopes, ScopeSet.compile(key.scopes, keys.scopeImplications), "is not held by this key; scopes may only narrow");
    }
    return { status: 200, data: { key: view(await keys.update(key.id, body), req) } };
  });

  router.post(":id/rotate", async ({ req, id }, caller) => {
    const key = await owned(id, caller);
    const body = parseRequest(rotateBody, req.body, "body");
    const { secret, key: successor, previous } = await keys.rotate(key.id, body.overlap === undefined ? {} : { overlap: body.overlap });
    return { status: 201, data: { secret, key: view(successor, req), previous: view(previous, req) } };
  });

  router.post(":id/disable", async ({ req, id }, caller) => ({ status: 200, data: { key: view(await keys.disable((await owned(id, caller)).id), req) } }));
  router.post(":id/enable", async ({ req, id }, caller) => ({ status: 200, data: { key: view(await keys.enable((await owned(id, caller)).id), req) } }));

  router.delete(":id", async ({ req, id }, caller) => {
    const key = await owned(id, caller);
    return { status: 200, data: { key: view(await keys.revoke(key.id), req) } };
  });

  return function keywardKeysRouter(req: Req, res: ServerResponse, next: (err?: unknown) => void): void {
    const at = place(req.url ?? "/");
    if (!at) return next();
    const methods = routes[at.place];
    const method = req.method ?? "GET";
    const handler = methods[method] ?? (method === "HEAD" ? methods.GET : undefined);
    if (handler) return void handler(req, res, next, at.id);
    if (method !== "OPTIONS") return next();
    // As Express's router does: OPTIONS on a route answers the methods it has.
    const allow = Object.keys(methods)
      .flatMap((m) => (m === "GET" ? ["GET", "HEAD"] : [m]))
      .sort()
      .join(", ");
    res.statusCode = 200;
    res.setHeader("Allow", allow);
    res.setHeader("Content-Type", "text/plain; charset=utf-8");
    res.setHeader("Content-Length", Buffer.byteLength(allow));
    res.setHeader("X-Content-Type-Options", "nosniff");
    res.end(allow);
  };
}

/** Throws 403 `project_forbidden` naming each project outside `allowed`. */
async function checkProjects(allowed: string[], project: string | undefined, projects: string[] | undefined): Promise<void> {
  const details: Array<{ path: string; message: string }> = [];
  if (project !== undefined && !allowed.includes(project)) details.push({ path: "project", message: "not one of your projects" });
  projects?.forEach((p, i) => {
    if (!allowed.includes(p)) details.push({ path: `projects.${i}`, message: "not one of your projects" });
  });
  if (details.length) throw new KeywardError("project_forbidden", "Keys may only be bound to your own projects.", { details });
}

/** A KeywardError for `error`, mapping body-parser failures; null for anything else (forwarded). */
function asRefusal(error: unknown): KeywardError | null {
  if (error instanceof KeywardError) return error;
  const type = (error as { type?: unknown } | null)?.type;
  if (type === "entity.too.large") return new KeywardError("payload_too_large", `The request body is larger than ${MAX_BODY}.`);
  if (type === "entity.parse.failed") return new KeywardError("invalid_request", "The request body is not valid JSON.");
  if (type === "encoding.unsupported" || type === "charset.unsupported")
    return new KeywardError("unsupported_media_type", "Send the request body as UTF-8 JSON.");
  if (typeof type === "string" && (error as { status?: unknown }).status === 400)
    return new KeywardError("invalid_request", "The request body could not be read.");
  return null;
}
