/**
 * apiKeyAuth(): the middleware. Reads the credential, verifies it through the KeyManager, applies
 * mode and project rules and the key's limits, sets `req.apiKey`, and answers refusals itself
 * (or forwards them), and tells callers whose key nears its end (`Deprecation`, `Sunset`, `Link`).
 * Runs under Express 4/5, Connect and node:http; stays synchronous when the store does.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import { KeywardError } from "../core/errors.js";
import { fn, parseOptions } from "../core/options.js";
import type { AuthenticatedKey } from "../core/types.js";
import { modeForbidden } from "../core/refusals.js";
import type { VerifiedKey } from "../keys/authenticator.js";
import type { Charge } from "../keys/charger.js";
import { routeFallback, type StoreErrorMode } from "../keys/counter-fallback.js";
import { KeyManager } from "../keys/key-manager.js";
import type { VerifyPolicy } from "../keys/verifier.js";
import { credentialReader, OTHER_SCHEME, type MalformedStatus } from "./credentials.js";
import { defaultKeyFormat, defaultKeyManager } from "../keys/default-manager.js";
import { deprecationLinkValue, writeLifecycleHeaders } from "./lifecycle-headers.js";
import { writeRateLimitHeaders, type RateLimitHeaderStyle } from "./rate-limit-headers.js";
import { installApiKeyGetter, setAuthState, type AuthContext, type AuthState, type KeywardRequest } from "./request-state.js";
import { requestInfo, socketAddress } from "./request-info.js";
import { refuse, type FormatError, type Responder } from "./respond.js";
import { checkModesOption, credentialSettings, projectOptionFields, projectStep, sharedAdapterOptions } from "./adapter-options.js";

/**
 * A Connect/Express middleware.
 *
 * @example
 * import type { Middleware } from "keyward";
 * const tagKey: Middleware = (req, res, next) => {
 *   res.setHeader("X-Key-Id", req.apiKey?.id ?? "anonymous"); // the key's id, never the secret
 *   next();
 * };
 * app.use(apiKeyAuth({ keys }), tagKey);
 */
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/**
 * Options for {@link apiKeyAuth}.
 *
 * @example
 * import { apiKeyAuth, type ApiKeyAuthOptions } from "keyward";
 * const options: ApiKeyAuthOptions = { keys, header: "x-api-key", modes: ["live"], projectHeader: "x-project-id" };
 * app.use(apiKeyAuth(options));
 */
export interface ApiKeyAuthOptions {
  /** The KeyManager. Defaults to the zero-config SQLite one (`KEYWARD_DB` or `./keyward.db`). */
  keys?: KeyManager;
  /** Read the key from this header instead of `Authorization: Bearer` (e.g. `"x-api-key"`). Defaults to Bearer. */
  header?: string;
  /** With `header`, also accept `Authorization: Bearer` (sending both is a 400). Defaults to false. */
  bearer?: boolean;
  /** `false`: a request without a key passes as anonymous; a bad key is still refused. Defaults to true. */
  required?: boolean;
  /** Accept only keys of these modes (403 `mode_forbidden`). Defaults to all modes. */
  modes?: string[];
  /** Header naming the project a user key acts on (e.g. `"x-project"`). Defaults to none. */
  projectHeader?: string;
  /** Picks the project from the request before the header; a non-id answer is a 400. Defaults to none. */
  project?: (req: IncomingMessage) => string | null | undefined;
  /** The project when the request names none: an id, or a function of the key (e.g. the owner's default). */
  defaultProject?: string | ((key: AuthenticatedKey, req: IncomingMessage) => string | null | undefined);
  /**
   * Whether a user key's owner may act on the resolved project (membership in your own data), e.g.
   * `(ownerId, project) => db.isMember(ownerId, project)`; false is 403 `project_forbidden`. Applies
   * on top of the key's allow-list, so an empty allow-list means "every project the owner has".
   * Project keys are not asked. Defaults to none (any project the allow-list admits).
   */
  memberOf?: (ownerId: string | null, project: string, req: IncomingMessage) => boolean | Promise<boolean>;
  /**
   * The status for a malformed credential: an empty `Bearer`, two tokens, characters outside the
   * token syntax, the header sent twice, an over-long value. `400` answers `invalid_request`
   * (RFC 6750 §3.1); `401` answers `invalid_key` (RFC 6750's `invalid_token`, "malformed" included),
   * for APIs whose docs promise 401 for any bad key. Defaults to 400 for `Authorization: Bearer`
   * (and for a request sending both sources) and 401 for a custom `header`, which RFC 6750 does
   * not govern.
   *
   * @example
   * app.use(apiKeyAuth({ keys, malformedStatus: 401 })); // "Authorization: Bearer" alone → 401 invalid_key
   */
  malformedStatus?: MalformedStatus;
  /** The realm in `WWW-Authenticate`. Defaults to `"api"`. */
  realm?: string;
  /** Shapes refusal bodies, e.g. `(e) => ({ data: null, error: e.message })`. Defaults to `{ error: { code, message } }`. */
  formatError?: FormatError;
  /** Call `next(err)` with a KeywardError (status, code, headers) instead of answering. Defaults to false. */
  forwardErrors?: boolean;
  /** RateLimit headers: `"draft"` (IETF draft fields), `"legacy"` (Limit/Remaining/Reset), `"both"` or false. Defaults to `"draft"`. */
  rateLimitHeaders?: RateLimitHeaderStyle;
  /**
   * Tell callers when their key nears its end: a key in its rotation overlap, or within the
   * KeyManager's `warnBeforeExpiry` (default 14 days) of its expiry, gets `Deprecation: @<unix
   * seconds>` (RFC 9745: the rotation time, or when the warning window began) and `Sunset:
   * <HTTP-date>` (RFC 8594: when the key stops working). `false` turns them off. Defaults to true.
   *
   * @example
   * app.use(apiKeyAuth({ keys, lifecycleHeaders: false })); // no Deprecation / Sunset headers
   */
  lifecycleHeaders?: boolean;
  /**
   * A page explaining key rotation, sent as `Link: <url>; rel="deprecation"` alongside the
   * lifecycle headers. Defaults to none.
   *
   * @example
   * app.use(apiKeyAuth({ keys, deprecationLink: "https://example.com/docs/rotating-keys" }));
   */
  deprecationLink?: string;
  /**
   * The client address checked against a key's `allowedIps` (403 `ip_forbidden` outside it). Asked
   * only for keys that have an allow-list. Defaults to the socket's peer address
   * (`req.socket.remoteAddress`), which behind a proxy or load balancer is the proxy's: there,
   * set Express's `trust proxy` to your proxies and pass `(req) => req.ip`. Never read
   * `X-Forwarded-For` yourself unless your proxy overwrites it: clients can send it.
   *
   * @example
   * app.set("trust proxy", "loopback"); // the proxies you run, nothing wider
   * app.use(apiKeyAuth({ keys, ip: (req) => (req as { ip?: string }).ip })); // Express sets req.ip
   */
  ip?: (req: IncomingMessage) => string | null | undefined;
  /**
   * What this route does when the COUNTER store (rate limits, quotas) fails or times out:
   * `"closed"` refuses with 503 `store_unavailable`; `"open"` admits without counting; `"local"`
   * counts in this process's memory over the same windows (with N processes, at most N × limit
   * per window while the store is down). Each failure is reported as a `counters.unavailable`
   * event (throttled). A key LOOKUP failure (key store down, key not cached) is always refused:
   * there is no key to admit. Defaults to the KeyManager's `onStoreError` (`"closed"`).
   *
   * @example
   * app.use("/v1/search", apiKeyAuth({ keys, onStoreError: "local" })); // keep serving through a Redis outage
   */
  onStoreError?: StoreErrorMode;
  /**
   * Credits each request takes from a key with credits, in the same atomic step as its rate limits
   * and quota, so a refused request takes nothing: a whole number from 0 to 10^12 (0: the route is
   * free even for a key out of credits). Keys without credits ignore it. Over the balance: 429
   * `credits_exhausted` with `Retry-After` until the refill. A `chargeCredits(n)` or guard
   * `{ cost: n }` after it takes only what is left of its n. Defaults to 1.
   *
   * @example
   * app.post("/v1/reports", apiKeyAuth({ keys, cost: 10 }), runReport); // 10 credits, taken at once
   */
  cost?: number;
}

const schema = z.strictObject({
  keys: z.instanceof(KeyManager, { message: "must be a KeyManager" }).optional(),
  ...sharedAdapterOptions,
  ...projectOptionFields<IncomingMessage>(),
  formatError: fn<FormatError>().optional(),
  forwardErrors: z.boolean().default(false),
  ip: fn<(req: IncomingMessage) => string | null | undefined>().optional(),
});

/**
 * Authenticates requests by API key and sets `req.apiKey`.
 *
 * @example
 * app.use(apiKeyAuth({ keys }));                                 // Authorization: Bearer sk_live_…
 * app.use(apiKeyAuth({ keys, header: "x-api-key" }));            // custom header
 * app.use(apiKeyAuth({ keys, required: false }));                // optional: no key = anonymous, bad key = 401
 * app.get("/v1/nodes", requireScope("nodes:read"), handler);
 */
export function apiKeyAuth(options: ApiKeyAuthOptions = {}): Middleware {
  const o = parseOptions(schema, options, "apiKeyAuth");
  // Checked before the zero-config manager is created, so a misconfiguration opens no database.
  const knownModes = o.keys ? o.keys.modes : defaultKeyFormat().modes;
  checkModesOption("apiKeyAuth", o.modes, knownModes);
  const keys = o.keys ?? defaultKeyManager();
  installApiKeyGetter();
  const { header, status, scheme, missing } = credentialSettings(o);
  const reader = credentialReader(header, o.bearer, status);
  const responder: Responder = Object.freeze({
    realm: o.realm,
    scheme,
    formatError: o.formatError,
    forwardErrors: o.forwardErrors,
    rateLimitHeaders: o.rateLimitHeaders,
  });
  const context: AuthContext = Object.freeze({ keys, responder });
  const anonymous: AuthState = Object.freeze({ key: undefined, principal: undefined, context, charge: undefined, at: 0 });
  const { memberOf, required, rateLimitHeaders, lifecycleHeaders } = o;
  const deprecationLink = deprecationLinkValue(o.deprecationLink);
  const pipeline = keys.pipeline;

  const policy: VerifyPolicy<IncomingMessage, AuthState> = Object.freeze({
    modes: o.modes ?? null,
    modeError: o.modes ? modeForbidden(o.modes) : null,
    project: projectStep<IncomingMessage>(o, (req, name) => req.headers[name]),
    memberOf: memberOf ?? null,
    ip: o.ip ?? socketAddress,
    check: null,
    scopesUsed: null,
    onStoreError: routeFallback(o.onStoreError ?? keys.pipeline.fallback.defaultMode),
    cost: o.cost,
    // A token that is not even a b64token is a malformed request (`malformedStatus`), not a wrong key.
    malformed: (req: IncomingMessage, token: string) => reader.malformed(req, token),
    describe: requestInfo,
    admit: (_req: IncomingMessage, key: VerifiedKey, principal: AuthenticatedKey, charge: Charge, now: number): AuthState => ({
      key,
      principal,
      context,
      charge: charge.counters.length ? charge : undefined,
      at: now,
    }),
  });

  /** Answers the pipeline's verdict: the refusal, or the key with its RateLimit and lifecycle headers. */
  const settle = (req: KeywardRequest, res: ServerResponse, next: (err?: unknown) => void, verdict: AuthState | KeywardError, now: number): void => {
    if (verdict instanceof KeywardError) return refuse(req, res, next, verdict, responder);
    const charge = verdict.charge;
    if (charge !== undefined) writeRateLimitHeaders(res, charge.limits, rateLimitHeaders, charge.policy);
    const key = verdict.key!;
    if (now >= key.noticeFrom && lifecycleHeaders) writeLifecycleHeaders(res, key.notice!, deprecationLink);
    setAuthState(req, verdict);
    next();
  };

  return function keywardApiKeyAuth(req: KeywardRequest, res: ServerResponse, next: (err?: unknown) => void): void {
    try {
      const token = reader.read(req);
      // Another scheme (e.g. Basic) carries no API key: anonymous when keys are optional.
      if (token === null || (token === OTHER_SCHEME && !required)) {
        if (required) return refuse(req, res, next, pipeline.refuse(req, policy, missing), responder);
        setAuthState(req, anonymous);
        return next();
      }
      if (typeof token !== "string") return refuse(req, res, next, pipeline.refuse(req, policy, token), responder);
      const now = keys.now();
      const verdict = pipeline.verify(token, req, policy, now);
      if (verdict instanceof Promise) verdict.then((v) => settle(req, res, next, v, now), next);
      else settle(req, res, next, verdict, now);
    } catch (error) {
      next(error);
    }
  };
}
