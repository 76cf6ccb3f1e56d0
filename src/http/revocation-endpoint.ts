/**
 * `revocationEndpoint()`: a public endpoint where anyone holding a leaked key submits it to have
 * it revoked, without a session (modelled on GitHub's "revoke a list of credentials" API:
 * `POST { "credentials": ["…", …] }`, at most 1,000 per request, 202 Accepted). The answer is the
 * same for unknown, already revoked and just revoked keys, so the endpoint is no validity oracle.
 * Requests are rate-limited per client address through the KeyManager's counter store (exact
 * across instances); IPv6 clients are counted per /64, the block one host usually holds.
 */
import { isIP } from "node:net";
import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import { formatDuration } from "../core/duration.js";
import { KeywardError } from "../core/errors.js";
import { MAX_CREDENTIAL_LENGTH } from "../core/key-format.js";
import { fn, parseOptions, rateLimitOption } from "../core/options.js";
import { REVOCATION_BAD_JSON, revocationBodyInvalid, revocationRateLimited } from "../core/refusals.js";
import { KeyManager } from "../keys/key-manager.js";
import type { Middleware } from "./api-key-auth.js";
import { jsonBodyError } from "./csrf.js";
import { socketAddress } from "./request-info.js";
import { sendJson } from "./respond.js";
import { readJsonBody } from "./router-json.js";

/** Most credentials one request may submit (GitHub's limit for its own revocation API). */
export const MAX_REVOCATION_CREDENTIALS = 1000;
/** Largest body read (1,000 keys of ~50 characters, formatted, fit with room to spare); larger is 413. */
const MAX_BODY_BYTES = 128 * 1024;
/** Most field problems listed in one 422. */
const MAX_DETAILS = 10;

/**
 * Options of {@link revocationEndpoint}.
 *
 * @example
 * const options: RevocationEndpointOptions = { keys, rateLimit: { limit: 60, window: "1h" }, ip: (req) => (req as { ip?: string }).ip };
 */
export interface RevocationEndpointOptions {
  /** The key manager whose keys are revoked; its counter store holds the per-address counts. */
  keys: KeyManager;
  /**
   * Requests admitted per client address (IPv4 address, or IPv6 /64) per window; more are 429
   * `rate_limited` with `Retry-After`. Defaults to `{ limit: 60, window: "1h" }`.
   */
  rateLimit?: {
    /** Requests admitted per address per window. */ limit: number;
    /** The window, e.g. `"1h"` (or seconds). */ window: string | number;
  };
  /**
   * The client address the rate limit counts by. Defaults to the socket's peer address
   * (`req.socket.remoteAddress`), which behind a proxy or load balancer is the proxy's, so every
   * client would share one count: there, set Express's `trust proxy` to your proxies and pass
   * `(req) => req.ip`. Never read `X-Forwarded-For` yourself unless your proxy overwrites it:
   * clients can send it and would get a fresh count per made-up address.
   */
  ip?: (req: IncomingMessage) => string | null | undefined;
}

const schema = z.strictObject({
  keys: z.instanceof(KeyManager, { message: "must be a KeyManager" }),
  rateLimit: rateLimitOption.default({ limit: 60, windowMs: 3_600_000 }),
  ip: fn<(req: IncomingMessage) => string | null | undefined>().optional(),
});

/**
 * The public revocation endpoint: `POST` a JSON body `{ "credentials": ["sk_live_…", …] }` (1 to
 * 1,000 strings) and every one that is a key of this app is revoked through `keys.revoke()`, with
 * a `key.leaked` event (`source: "public_revocation"`, `action: "revoke"`) besides its
 * `key.revoked`. The answer is always `202 { "received": <number of credentials> }`, whether
 * the keys were unknown, already revoked, or revoked just now; submitting again changes nothing.
 * Refusals: 415 for a body that is not `application/json`, 413 over 128 KiB, 400
 * `invalid_request` for bad JSON, 422 `validation_failed` for any other shape (naming the first
 * bad entries), 429 `rate_limited` beyond the per-address limit (valid requests count), 503 when
 * the store fails. A refused request writes nothing: no revocation, no event, no count. Mount it on its own path, with or
 * without a JSON body parser in front; requests other than `POST` pass to `next()`.
 *
 * @example
 * app.set("trust proxy", "loopback"); // your proxies, nothing wider
 * app.post("/keys/revoke", revocationEndpoint({ keys, ip: (req) => (req as { ip?: string }).ip }));
 * // curl -X POST https://api.example.com/keys/revoke -H 'Content-Type: application/json' -d '{"credentials":["sk_live_…"]}'
 */
export function revocationEndpoint(options: RevocationEndpointOptions): Middleware {
  const o = parseOptions(schema, options, "revocationEndpoint");
  const { keys } = o;
  const { limit, windowMs } = o.rateLimit;
  const windowText = formatDuration(windowMs);
  const clientAddress = o.ip ?? socketAddress;

  return (req, res, next) => {
    if (req.method !== "POST") return next();
    handle(req, res).catch((error: unknown) => {
      const refusal = asRefusal(error);
      if (refusal === null || res.headersSent) return next(error);
      for (const name in refusal.headers) res.setHeader(name, refusal.headers[name]!);
      sendJson(res, refusal.status, { error: refusal.toJSON() });
    });
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader("Cache-Control", "no-store");
    const notJson = jsonBodyError(req);
    if (notJson) throw notJson;
    await readJsonBody(req, MAX_BODY_BYTES);
    const credentials = parseCredentials((req as IncomingMessage & { body?: unknown }).body);
    // Counted only once the body is valid, so a refused request writes nothing (a bad body costs a parse, never a store read).
    const now = keys.now();
    const start = now - (now % windowMs);
    const count = await keys.consumeCounter(`revoke:${clientBucket(clientAddress(req))}:${start}`, limit, start + windowMs);
    if (count < 0) throw revocationRateLimited(limit, windowText, Math.max(1, Math.ceil((start + windowMs - now) / 1000)));
    for (const credential of new Set(credentials)) await revokeLeaked(credential);
    sendJson(res, 202, { received: credentials.length });
  }

  /**
   * Revokes the key `credential` belongs to, if any. A string not of this app's format (prefix,
   * mode, checksum) costs no store read: that tells a client only whether it is well-formed, which
   * anyone can compute. Well-formed ones cost one lookup each, known or not; only a key revoked
   * right now costs more, and it is worthless from then on.
   */
  async function revokeLeaked(credential: string): Promise<void> {
    if (keys.format.check(credential) === undefined) return;
    const key = await keys.findBySecret(credential);
    if (key === null || key.status === "revoked") return;
    await keys.revoke(key.id);
    keys.emit({
      type: "key.leaked",
      at: new Date(keys.now()),
      keyId: key.id,
      ownerId: key.ownerId,
      name: key.name,
      mode: key.mode,
      source: "public_revocation",
      action: "revoke",
    });
  }
}

/** The credentials of a `{ "credentials": [...] }` body, or a 422 naming what is wrong. */
function parseCredentials(body: unknown): string[] {
  if (body === undefined || body === null || typeof body !== "object" || Array.isArray(body))
    throw revocationBodyInvalid([{ path: "", message: "must be a JSON object" }]);
  const details: Array<{ path: string; message: string }> = [];
  for (const field of Object.keys(body)) if (field !== "credentials") details.push({ path: field, message: "unknown field" });
  const list = (body as { credentials?: unknown }).credentials;
  if (!Array.isArray(list)) details.push({ path: "credentials", message: "must be an array of strings" });
  else if (list.length === 0) details.push({ path: "credentials", message: "must hold at least one credential" });
  else if (list.length > MAX_REVOCATION_CREDENTIALS)
    details.push({ path: "credentials", message: `at most ${MAX_REVOCATION_CREDENTIALS} credentials per request (got ${list.length})` });
  else
    for (let i = 0; i < list.length && details.length < MAX_DETAILS; i++) {
      const item: unknown = list[i];
      if (typeof item !== "string") details.push({ path: `credentials.${i}`, message: "must be a string" });
      else if (item.length === 0 || item.length > MAX_CREDENTIAL_LENGTH)
        details.push({ path: `credentials.${i}`, message: `must be 1 to ${MAX_CREDENTIAL_LENGTH} characters` });
    }
  if (details.length) throw revocationBodyInvalid(details.slice(0, MAX_DETAILS));
  return list as string[];
}

/** A KeywardError for a body-reading failure (shaped like body-parser's), else the error itself or null. */
function asRefusal(error: unknown): KeywardError | null {
  if (error instanceof KeywardError) return error;
  const { type, status } = (error ?? {}) as { type?: unknown; status?: unknown };
  if (type === "entity.too.large") return new KeywardError("payload_too_large", "The request body is larger than 128 KiB.");
  if (type === "entity.parse.failed") return REVOCATION_BAD_JSON;
  if (type === "encoding.unsupported" || type === "charset.unsupported")
    return new KeywardError("unsupported_media_type", "Send the request body as UTF-8 JSON.");
  if (typeof type === "string" && status === 400) return new KeywardError("invalid_request", "The request body could not be read.");
  return null;
}

/**
 * The rate-limit bucket of a client address: an IPv4 address as is (also when IPv4-mapped), an
 * IPv6 address by its /64, anything else (no address, or not an address) in one shared bucket.
 */
export function clientBucket(address: string | null | undefined): string {
  if (typeof address !== "string" || address.length > 64) return "unknown";
  let a = address.toLowerCase();
  const zone = a.indexOf("%");
  if (zone >= 0) a = a.slice(0, zone);
  if (a.startsWith("::ffff:") && isIP(a.slice(7)) === 4) return a.slice(7);
  const family = isIP(a);
  if (family === 4) return a;
  if (family !== 6) return "unknown";
  const [head = "", tail] = a.split("::");
  const front = head === "" ? [] : head.split(":");
  const back = tail === undefined || tail === "" ? [] : tail.split(":");
  // An embedded IPv4 tail (`::1.2.3.4`) fills two groups.
  const backGroups = back.length + (back.length > 0 && back[back.length - 1]!.includes(".") ? 1 : 0);
  const groups = tail === undefined ? front : [...front, ...new Array<string>(8 - front.length - backGroups).fill("0"), ...back];
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(":")}::/64`;
}
