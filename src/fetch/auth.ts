/**
 * fetchAuth(): API-key authentication for Web `Request`s (Next.js route handlers, Bun.serve,
 * Deno.serve, Hono, Cloudflare-style handlers). A thin translation around the one verification
 * pipeline (`keys/verifier.ts`), with the credential rules of `apiKeyAuth` (`http/credentials.ts`):
 * same statuses, codes, `WWW-Authenticate` and bodies. Imports nothing from node:http or Express.
 */
import { z } from "zod";
import { KeywardError } from "../core/errors.js";
import { fn, parseOptions } from "../core/options.js";
import { insufficientScope, modeForbidden } from "../core/refusals.js";
import { requiredScope, type RequiredScope } from "../core/scopes.js";
import type { AuthenticatedKey } from "../core/types.js";
import type { VerifiedKey } from "../keys/authenticator.js";
import type { Charge } from "../keys/charger.js";
import { routeFallback, type StoreErrorMode } from "../keys/counter-fallback.js";
import type { RequestInfo } from "../keys/events.js";
import { KeyManager } from "../keys/key-manager.js";
import type { VerifyPolicy } from "../keys/verifier.js";
import { credentialReaderFor, OTHER_SCHEME } from "../http/credentials.js";
import { fetchHeader, HeaderList, setLifecycleHeaders, setRateLimitHeaders, type FetchRateLimitStyle } from "./headers.js";
import { refusalResponse, type FetchFormatError, type FetchResponder } from "./respond.js";
import { checkModesOption, credentialSettings, projectOptionFields, projectStep, sharedAdapterOptions } from "../http/adapter-options.js";
import { deprecationLinkValue } from "../http/lifecycle-headers.js";

/**
 * Options for {@link fetchAuth}; they mean what `apiKeyAuth`'s options of the same name mean.
 *
 * @example
 * const options: FetchAuthOptions = { keys, header: "x-api-key", scopes: ["nodes:read"] };
 * const auth = fetchAuth(options);
 */
export interface FetchAuthOptions {
  /** The KeyManager (required: the zero-config SQLite manager needs Node, and this adapter does not assume it). */
  keys: KeyManager;
  /** Read the key from this header instead of `Authorization: Bearer` (e.g. `"x-api-key"`). Defaults to Bearer. */
  header?: string;
  /** With `header`, also accept `Authorization: Bearer` (sending both is a 400). Defaults to false. */
  bearer?: boolean;
  /** `false`: a request without a key passes as anonymous (`key` undefined); a bad key is still refused. Defaults to true. */
  required?: boolean;
  /** Accept only keys of these modes (403 `mode_forbidden`). Defaults to all modes. */
  modes?: string[];
  /** Every one of these scopes is required (403 `insufficient_scope`), checked before the rate limit is charged. Defaults to none. */
  scopes?: string[];
  /** Header naming the project a user key acts on (e.g. `"x-project"`). Defaults to none. */
  projectHeader?: string;
  /** Picks the project from the request before the header (e.g. a path segment); a non-id answer is a 400. Defaults to none. */
  project?: (request: Request) => string | null | undefined;
  /** The project when the request names none: an id, or a function of the key (e.g. the owner's default). Defaults to none. */
  defaultProject?: string | ((key: AuthenticatedKey, request: Request) => string | null | undefined);
  /**
   * Whether a user key's owner may act on the resolved project (membership in your own data); false
   * is 403 `project_forbidden` (see `apiKeyAuth`). Defaults to none.
   *
   * @example
   * const auth = fetchAuth({ keys, projectHeader: "x-project", memberOf: (ownerId, project) => db.isMember(ownerId, project) });
   */
  memberOf?: (ownerId: string | null, project: string, request: Request) => boolean | Promise<boolean>;
  /** The status of a malformed credential: 400 `invalid_request` or 401 `invalid_key` (see `apiKeyAuth`). Defaults to 400 for Bearer, 401 for a custom header. */
  malformedStatus?: 400 | 401;
  /** The realm in `WWW-Authenticate`. Defaults to `"api"`. */
  realm?: string;
  /** Shapes refusal bodies. Defaults to `{ error: { code, message } }`. */
  formatError?: FetchFormatError;
  /** RateLimit headers: `"draft"`, `"legacy"`, `"both"` or false. Defaults to `"draft"`. */
  rateLimitHeaders?: FetchRateLimitStyle;
  /** `Deprecation` / `Sunset` headers for keys near their end (see `apiKeyAuth`). Defaults to true. */
  lifecycleHeaders?: boolean;
  /** A page explaining key rotation, sent as `Link: <url>; rel="deprecation"`. Defaults to none. */
  deprecationLink?: string;
  /**
   * The client address checked against a key's `allowedIps`. A Web `Request` carries no peer
   * address, so without this keys with an allow-list are refused (403 `ip_forbidden`); on Bun pass
   * `(req) => server.requestIP(req)?.address`, on Deno the handler's `info.remoteAddr.hostname`.
   */
  ip?: (request: Request) => string | null | undefined;
  /** What this route does when the counter store fails or times out: `"closed"` (503), `"open"` or `"local"` (see `apiKeyAuth`). Defaults to the KeyManager's (`"closed"`). */
  onStoreError?: StoreErrorMode;
  /**
   * Credits each request takes from a key with credits, in the same atomic step as its rate limits
   * and quota (see `apiKeyAuth`): a whole number from 0 to 10^12. Keys without credits ignore it. Defaults to 1.
   *
   * @example
   * const auth = fetchAuth({ keys, scopes: ["reports:run"], cost: 10 });
   */
  cost?: number;
}

/**
 * What {@link fetchAuth} answers: the key (undefined for an anonymous request when keys are
 * optional) and the headers to put on your response, or a ready refusal `Response`.
 *
 * @example
 * const result = await auth(request);
 * if (!result.ok) return result.response;
 * return Response.json({ id: result.key?.id }, { headers: result.headers });
 */
export type FetchAuthResult =
  | {
      /** The request is admitted. */
      readonly ok: true;
      /** The key, as `req.apiKey` shows it under Express; undefined for an anonymous request. */
      readonly key: AuthenticatedKey | undefined;
      /** RateLimit and lifecycle headers (`Deprecation`, `Sunset`, `Link`) to put on your response. */
      readonly headers: Headers;
    }
  | {
      /** The request is refused. */
      readonly ok: false;
      /** The refusal, ready to return: status, `WWW-Authenticate`, headers and JSON body. */
      readonly response: Response;
    };

/**
 * A configured authenticator: call it with each request.
 *
 * @example
 * const auth: FetchAuth = fetchAuth({ keys });
 * const result = await auth(request);
 */
export type FetchAuth = (request: Request) => Promise<FetchAuthResult>;

/** {@link FetchAuthResult} with the admitted request's headers as a {@link HeaderList} (what the Hono adapter reads). */
export type FetchAuthListResult =
  | Exclude<FetchAuthResult, { ok: true }>
  | { readonly ok: true; readonly key: AuthenticatedKey | undefined; readonly headers: HeaderList };

/** What an admitted request leaves for guards after it (Hono's `requireScope`). */
export interface FetchAuthState {
  readonly key: VerifiedKey | undefined;
  readonly keys: KeyManager;
  readonly responder: FetchResponder;
  readonly headers: HeaderList;
  charge: Charge | undefined;
}

const states = new WeakMap<Request, FetchAuthState>();

/** fetchAuth's record for `request`, if it admitted it. */
export function fetchAuthState(request: Request): FetchAuthState | undefined {
  return states.get(request);
}

const schema = z.strictObject({
  keys: z.instanceof(KeyManager, { message: "must be a KeyManager" }),
  ...sharedAdapterOptions,
  ...projectOptionFields<Request>(),
  scopes: z.array(z.string()).min(1, "list at least one scope, or leave scopes out").optional(),
  formatError: fn<FetchFormatError>().optional(),
  ip: fn<(request: Request) => string | null | undefined>().optional(),
});

/** Request details for audit events: id, method, path (never the query string). */
export function describeRequest(request: Request): RequestInfo {
  let path = "";
  try {
    path = new URL(request.url).pathname;
  } catch {
    // A relative or odd URL: report none rather than fail the request.
  }
  const info: RequestInfo = { method: request.method, path };
  const id = request.headers.get("x-request-id");
  if (id !== null) info.requestId = id.slice(0, 128);
  return info;
}

/** Compiles `scopes` (all of) into a pipeline check. */
function scopeCheck(required: readonly RequiredScope[]): (key: VerifiedKey) => KeywardError | null {
  const all = insufficientScope(required);
  return (key) => {
    let missing: RequiredScope[] | null = null;
    for (const scope of required) if (!key.grant.has(scope)) (missing ??= []).push(scope);
    if (missing === null) return null;
    return missing.length === required.length ? all : insufficientScope(missing);
  };
}

/**
 * Builds an authenticator for Web `Request`s. Options are validated once, here.
 *
 * @example
 * import { KeyManager, MemoryStore } from "keyward";
 * import { fetchAuth } from "keyward/fetch";
 * const keys = new KeyManager({ store: new MemoryStore(), prefix: "sk", modes: ["live", "test"] });
 * const auth = fetchAuth({ keys, scopes: ["nodes:read"] });
 * export async function GET(request: Request) {           // a Next.js route handler
 *   const result = await auth(request);
 *   if (!result.ok) return result.response;               // 401/403/429/503, ready to return
 *   return Response.json({ key: result.key?.id }, { headers: result.headers });
 * }
 */
export function fetchAuth(options: FetchAuthOptions): FetchAuth {
  const auth = fetchAuthList(options);
  return (request) => auth(request).then(withHeaders);
}

const withHeaders = (result: FetchAuthListResult): FetchAuthResult => (result.ok ? { ok: true, key: result.key, headers: result.headers.toHeaders() } : result);

/** {@link fetchAuth}, answering an admitted request's headers as a {@link HeaderList}. */
export function fetchAuthList(options: FetchAuthOptions): (request: Request) => Promise<FetchAuthListResult> {
  const o = parseOptions(schema, options, "fetchAuth");
  const keys = o.keys;
  checkModesOption("fetchAuth", o.modes, keys.modes);
  const { header, status, scheme, missing } = credentialSettings(o);
  const reader = credentialReaderFor(fetchHeader, header, o.bearer, status);
  const responder: FetchResponder = Object.freeze({
    realm: o.realm,
    scheme,
    formatError: o.formatError,
    rateLimitHeaders: o.rateLimitHeaders,
  });
  const link = deprecationLinkValue(o.deprecationLink);
  const { required, rateLimitHeaders, lifecycleHeaders } = o;
  const pipeline = keys.pipeline;
  const scopes: readonly RequiredScope[] | null = o.scopes ? Object.freeze(o.scopes.map((s, i) => requiredScope(s, `fetchAuth.scopes[${i}]`))) : null;

  const policy: VerifyPolicy<Request, { key: VerifiedKey; principal: AuthenticatedKey; charge: Charge }> = Object.freeze({
    modes: o.modes ?? null,
    modeError: o.modes ? modeForbidden(o.modes) : null,
    project: projectStep<Request>(o, (request, name) => request.headers.get(name)),
    memberOf: o.memberOf ?? null,
    ip: o.ip ?? null,
    check: scopes ? scopeCheck(scopes) : null,
    scopesUsed: scopes ? () => scopes : null,
    onStoreError: routeFallback(o.onStoreError ?? keys.pipeline.fallback.defaultMode),
    cost: o.cost,
    malformed: (request: Request, token: string) => reader.malformed(request, token),
    describe: describeRequest,
    admit: (_request: Request, key: VerifiedKey, principal: AuthenticatedKey, charge: Charge) => ({ key, principal, charge }),
  });

  const refused = (request: Request, error: KeywardError): FetchAuthListResult => ({ ok: false, response: refusalResponse(request, error, responder) });

  return async function keywardFetchAuth(request: Request): Promise<FetchAuthListResult> {
    const token = reader.read(request);
    if (token === null || (token === OTHER_SCHEME && !required)) {
      if (required) return refused(request, pipeline.refuse(request, policy, missing));
      const headers = new HeaderList();
      states.set(request, { key: undefined, keys, responder, headers, charge: undefined });
      return { ok: true, key: undefined, headers };
    }
    if (typeof token !== "string") return refused(request, pipeline.refuse(request, policy, token));
    const now = keys.now();
    const verdict = await pipeline.verify(token, request, policy, now);
    if (verdict instanceof KeywardError) return refused(request, verdict);
    const headers = new HeaderList();
    const charge = verdict.charge.counters.length ? verdict.charge : undefined;
    if (charge !== undefined) setRateLimitHeaders(headers, charge.limits, rateLimitHeaders, charge.policy);
    if (lifecycleHeaders && now >= verdict.key.noticeFrom) setLifecycleHeaders(headers, verdict.key.notice!, link);
    states.set(request, { key: verdict.key, keys, responder, headers, charge });
    return { ok: true, key: verdict.principal, headers };
  };
}
