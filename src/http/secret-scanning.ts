/**
 * `secretScanning()`: GitHub's secret scanning partner endpoint as a Connect-style middleware.
 * GitHub POSTs `[{ token, type, url, source }]` signed with ECDSA P-256 (SHA-256, DER signature in
 * base64 in `Github-Public-Key-Signature`, key named by `Github-Public-Key-Identifier`); keyward
 * checks the signature over the raw body against GitHub's public keys (fetched from GitHub's meta
 * URL and cached by `github-public-keys.ts`, or given), pre-filters tokens by
 * format and checksum (no store read for a non-key), revokes (or reports) the real keys, emits
 * `key.leaked`, and answers `[{ token_hash, token_type, label }]` (the protocol accepts the
 * token's SHA-256 instead of the token itself, so no response carries a secret).
 */
import { createHash, type KeyObject, verify as verifySignature } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import type { KeywardError } from "../core/errors.js";
import { durationOption, fn, parseOptions } from "../core/options.js";
import { publicKeysUnavailable } from "../core/refusals.js";
import type { ApiKey } from "../core/types.js";
import { KeyManager } from "../keys/key-manager.js";
import type { Middleware } from "./api-key-auth.js";
import { GITHUB_PUBLIC_KEYS_URL, GitHubKeySource, type PublicKeysFetch } from "./github-public-keys.js";
import { sendJson } from "./respond.js";

const publicKeyEntry = z.object({ key_identifier: z.string(), key: z.string(), is_current: z.boolean().optional() });

const schema = z.strictObject({
  keys: z.instanceof(KeyManager, { message: "must be a KeyManager" }),
  publicKeys: z
    .union([z.array(publicKeyEntry), fn()], { error: "must be an array of { key_identifier, key, is_current } or a function returning one" })
    .optional(),
  publicKeysUrl: z
    .string()
    .refine((v) => /^https?:\/\/[^\s]+$/.test(v) && URL.canParse(v), "must be an http(s) URL")
    .default(GITHUB_PUBLIC_KEYS_URL),
  fetch: fn<PublicKeysFetch>().optional(),
  publicKeysRefetchInterval: durationOption.refine((ms) => ms >= 1000, "must be at least 1s").default(300_000),
  publicKeysMaxAge: durationOption.refine((ms) => ms >= 1000, "must be at least 1s").default(3_600_000),
  action: z
    .union([z.enum(["revoke", "notify"]), fn<(key: ApiKey, report: LeakReport) => void | Promise<void>>()], {
      error: 'must be "revoke", "notify" or a function',
    })
    .default("revoke"),
});

/** The global fetch, looked up per call (so a test or polyfill installed later is used). */
const defaultFetch: PublicKeysFetch = (url, init) => globalThis.fetch(url, init);

/** Largest report body accepted (GitHub's are far smaller); larger is 413. */
const MAX_BODY_BYTES = 1024 * 1024;
/** Digests of recently handled report bodies, so a replay or a retry is answered without acting again. */
const REPLAY_MEMORY = 1000;

/**
 * One of GitHub's secret scanning public keys, as `https://api.github.com/meta/public_keys/secret_scanning` lists them.
 *
 * @example
 * const key: GitHubPublicKey = { key_identifier: "bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c", key: "-----BEGIN PUBLIC KEY-----\n…", is_current: true };
 */
export interface GitHubPublicKey {
  /** The id GitHub sends in `Github-Public-Key-Identifier`. */
  key_identifier: string;
  /** The PEM-encoded P-256 public key. */
  key: string;
  /** Whether GitHub currently signs with it (older keys still verify). */
  is_current: boolean;
}

/**
 * One reported token, as GitHub sends it.
 *
 * @example
 * const report: LeakReport = { token: "sk_live_…", type: "acme_api_key", url: "https://github.com/o/r/blob/abc/config.ts#L2", source: "content" };
 */
export interface LeakReport {
  /** The token found. */
  token: string;
  /** The token type registered with GitHub. */
  type: string;
  /** Where it was found. */
  url?: string;
  /** The kind of place: `content`, `commit`, `pull_request_description`, `gist_content`, … */
  source?: string;
}

/**
 * The verdict per token: a key of this app (`true_positive`) or not (`false_positive`).
 *
 * @example
 * const label: LeakLabel = "true_positive";
 */
export type LeakLabel = "true_positive" | "false_positive";

/**
 * Options of {@link secretScanning}.
 *
 * @example
 * const options: SecretScanningOptions = { keys, publicKeys: await fetchGitHubKeys(), action: "revoke" };
 */
export interface SecretScanningOptions {
  /** The key manager whose keys are checked (and revoked). */
  keys: KeyManager;
  /**
   * GitHub's public keys, or a function returning them (called per request; cache it yourself).
   * Defaults to fetching them from `publicKeysUrl` and caching them (see `publicKeysRefetchInterval`).
   */
  publicKeys?: readonly GitHubPublicKey[] | (() => readonly GitHubPublicKey[] | Promise<readonly GitHubPublicKey[]>);
  /**
   * Where to fetch GitHub's public keys when `publicKeys` is not given. Defaults to
   * `https://api.github.com/meta/public_keys/secret_scanning`.
   */
  publicKeysUrl?: string;
  /**
   * The fetch function for `publicKeysUrl`, e.g. one adding an `Authorization` header (GitHub
   * allows authenticated callers more requests). Defaults to the global `fetch`.
   */
  fetch?: PublicKeysFetch;
  /**
   * Least time between two fetches of the key list, however many reports name an unknown key
   * identifier (so forged identifiers cannot make this server hammer GitHub). Defaults to `"5m"`.
   */
  publicKeysRefetchInterval?: string | number;
  /**
   * Age after which the cached key list is fetched again on the next report, so a key GitHub
   * withdraws stops verifying (if that fetch fails, the old list stays in use). Defaults to `"1h"`.
   */
  publicKeysMaxAge?: string | number;
  /**
   * What to do with a leaked key: `"revoke"` it (default), only `"notify"` (the `key.leaked`
   * event), or a function of the key and the report (called after the event).
   */
  action?: "revoke" | "notify" | ((key: ApiKey, report: LeakReport) => void | Promise<void>);
}

/**
 * The GitHub secret scanning partner endpoint: verifies GitHub's signature (401 when missing or
 * bad; 413 over 1 MB; 400 for a body that is not a report), revokes each reported key of this
 * app (or only reports it), emits `key.leaked` with the report's `url` and `source`, and answers
 * each token's label. Mount it before any body parser (or keep `req.rawBody` as a Buffer): the
 * signature covers the raw bytes. A replayed or retried report (same body, verified again) gets
 * the same answer without acting again (the last 1,000 reports are remembered per process; revoking
 * is idempotent anyway).
 *
 * GitHub's public keys are fetched from `publicKeysUrl` on the first report and cached; a report
 * naming a key identifier the cache lacks refetches the list (at most once per
 * `publicKeysRefetchInterval`; still unknown: 401). Until a list has been fetched, reports are
 * refused with 503 `public_keys_unavailable` and `Retry-After` (GitHub retries), never accepted.
 *
 * @example
 * app.post("/github/secret-scanning", secretScanning({ keys, action: "revoke" })); // fetches GitHub's keys itself
 */
export function secretScanning(options: SecretScanningOptions): Middleware {
  const o = parseOptions(schema, options, "secretScanning");
  const { keys, action } = o;
  const publicKeys = o.publicKeys as SecretScanningOptions["publicKeys"];
  const source =
    publicKeys === undefined
      ? new GitHubKeySource(o.publicKeysUrl, o.fetch ?? defaultFetch, o.publicKeysRefetchInterval, o.publicKeysMaxAge, () => keys.now())
      : null;
  const handled = new Map<string, string>();
  return (req, res, next) => {
    if (req.method !== "POST") return next();
    handle(req, res).catch(next);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const identifier = header(req, "github-public-key-identifier");
    const signature = header(req, "github-public-key-signature");
    if (!identifier || !signature) return refuse(res, 401, "missing_signature", "Github-Public-Key-Identifier and Github-Public-Key-Signature are required.");
    const declared = Number(req.headers["content-length"]);
    if (declared > MAX_BODY_BYTES) return refuse(res, 413, "payload_too_large", "The report is larger than 1 MB.");
    const body = await rawBody(req);
    if (body === null) return refuse(res, 413, "payload_too_large", "The report is larger than 1 MB.");
    const key = await publicKey(identifier);
    if (key === "unavailable") return refuseWith(res, publicKeysUnavailable(source ? source.retryAfterSeconds() : 60));
    if (key === null) return refuse(res, 401, "invalid_signature", "The Github-Public-Key-Identifier names none of GitHub's public keys.");
    if (!validSignature(body, key, signature)) return refuse(res, 401, "invalid_signature", "The signature does not verify with GitHub's public key.");
    const digest = createHash("sha256").update(body).digest("base64");
    const replayed = handled.get(digest);
    if (replayed !== undefined) {
      res.statusCode = 200;
      res.setHeader("Content-Type", "application/json; charset=utf-8");
      res.end(replayed);
      return;
    }
    const reports = parseReports(body);
    if (!reports) return refuse(res, 400, "invalid_request", "The body must be a JSON array of { token, type, url, source }.");
    // token_hash (hex SHA-256), which the protocol accepts as well as token_raw: no response body carries a secret.
    const answer: Array<{ token_hash: string; token_type: string; label: LeakLabel }> = [];
    for (const report of reports)
      answer.push({ token_hash: createHash("sha256").update(report.token).digest("hex"), token_type: report.type, label: await handleReport(report) });
    const text = JSON.stringify(answer);
    handled.set(digest, text);
    if (handled.size > REPLAY_MEMORY) handled.delete(handled.keys().next().value!);
    res.statusCode = 200;
    res.setHeader("Content-Type", "application/json; charset=utf-8");
    res.end(text);
  }

  /** The public key GitHub names, from the given list or the fetched one. */
  async function publicKey(identifier: string): Promise<KeyObject | string | null | "unavailable"> {
    if (source) return source.find(identifier);
    let list: readonly GitHubPublicKey[];
    try {
      list = typeof publicKeys === "function" ? await publicKeys!() : publicKeys!;
    } catch {
      return "unavailable"; // the app's own key function failed: refuse, as when fetching fails
    }
    return list.find((k) => k.key_identifier === identifier)?.key ?? null;
  }

  async function handleReport(report: LeakReport): Promise<LeakLabel> {
    if (keys.format.check(report.token) === undefined) return "false_positive"; // not a key of this format: no store read
    const key = await keys.findBySecret(report.token);
    if (!key) return "false_positive";
    if (action === "revoke") await keys.revoke(key.id);
    keys.emit({
      type: "key.leaked",
      at: new Date(),
      keyId: key.id,
      ownerId: key.ownerId,
      name: key.name,
      mode: key.mode,
      ...(report.url !== undefined ? { url: report.url } : {}),
      ...(report.source !== undefined ? { source: report.source } : {}),
      action: typeof action === "function" ? "function" : action,
    });
    if (typeof action === "function") await action(key, report);
    return "true_positive";
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === "string" && value.length > 0 && value.length <= 1024 ? value : undefined;
}

function refuse(res: ServerResponse, status: number, code: string, message: string): void {
  sendJson(res, status, { error: { code, message } });
}

function refuseWith(res: ServerResponse, error: KeywardError): void {
  for (const name in error.headers) res.setHeader(name, error.headers[name]!);
  sendJson(res, error.status, { error: error.toJSON() });
}

function validSignature(body: Buffer, publicKey: KeyObject | string, signature: string): boolean {
  try {
    return verifySignature("sha256", body, publicKey, Buffer.from(signature, "base64"));
  } catch {
    return false;
  }
}

/** The raw body (a `req.rawBody` Buffer when a parser kept one), or null when over the limit. */
async function rawBody(req: IncomingMessage): Promise<Buffer | null> {
  const kept = (req as IncomingMessage & { rawBody?: unknown }).rawBody;
  if (Buffer.isBuffer(kept)) return kept.length > MAX_BODY_BYTES ? null : kept;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer | string) => {
      const buffer = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      size += buffer.length;
      if (size > MAX_BODY_BYTES) {
        // Stop collecting; the rest drains unread so the 413 still reaches the client.
        req.off("data", onData).off("end", onEnd).off("error", reject);
        req.resume();
        resolve(null);
      } else chunks.push(buffer);
    };
    const onEnd = () => resolve(Buffer.concat(chunks));
    req.on("data", onData).on("end", onEnd).on("error", reject);
  });
}

function parseReports(body: Buffer): LeakReport[] | null {
  let data: unknown;
  try {
    data = JSON.parse(body.toString("utf8"));
  } catch {
    return null;
  }
  if (!Array.isArray(data) || data.length > 10_000) return null;
  const reports: LeakReport[] = [];
  for (const item of data) {
    if (typeof item !== "object" || item === null) return null;
    const { token, type, url, source } = item as Record<string, unknown>;
    if (typeof token !== "string" || typeof type !== "string") return null;
    reports.push({ token, type, ...(typeof url === "string" ? { url } : {}), ...(typeof source === "string" ? { source } : {}) });
  }
  return reports;
}
