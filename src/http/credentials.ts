/**
 * Credential extraction from a request: `Authorization: Bearer <key>` (scheme case-insensitive,
 * RFC 9110 §11.1; b64token syntax, RFC 6750 §2.1) or a custom header. Query strings are never read.
 * Returns the token, `null` when none was sent, or the refusal; the b64token syntax is checked by
 * `malformedToken` once a token has failed verification.
 */
import type { IncomingMessage } from "node:http";
import { KeywardError } from "../core/errors.js";
import { MAX_CREDENTIAL_LENGTH } from "../core/key-format.js";

const e400 = (message: string) => new KeywardError("invalid_request", message);
const TOO_LONG = e400("The credential is too long.");
const EMPTY = e400("The Bearer token is empty.");
const MALFORMED = e400("The Bearer token is malformed: send exactly `Authorization: Bearer <key>`.");
const TWO_AUTH = e400("The request has more than one Authorization header.");
const BOTH = e400("The request carries a key in both the Authorization header and the API-key header; send one.");
/** Returned for an Authorization header with another scheme (e.g. Basic): no API key was sent. */
export const OTHER_SCHEME = new KeywardError("missing_key", "No API key was sent: use `Authorization: Bearer <key>`.");

/** b64token (RFC 6750 §2.1): ALPHA DIGIT - . _ ~ + / then optional trailing `=`. A regular expression: V8 runs it as native code, faster than a charCodeAt loop. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** True for a b64token. */
function isB64Token(token: string): boolean {
  return B64TOKEN.test(token);
}

/** Whether `text` starts with `lower` (lowercase ASCII letters, digits and punctuation), ignoring ASCII case, without allocating. */
function startsWithIgnoringCase(text: string, lower: string): boolean {
  if (text.length < lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 65 && c <= 90 ? c | 0x20 : c) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** Returned by {@link sentHeader} for a header the client sent more than once. */
const SENT_TWICE = Symbol("sent twice");

/**
 * Header `lowerName` as the client sent it: its value in `req.rawHeaders` ({@link SENT_TWICE} when
 * it appears more than once), or, when the client did not send it, whatever the app put into
 * `req.headers` before apiKeyAuth. The raw list comes first because it is an own data property:
 * under Express, whose requests each have a hidden class of their own, `req.headers` (a getter three
 * prototypes up) costs several times more to reach.
 */
function sentHeader(req: IncomingMessage, lowerName: string): string | string[] | undefined | typeof SENT_TWICE {
  const raw = req.rawHeaders;
  let value: string | undefined;
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === lowerName.length && startsWithIgnoringCase(name, lowerName) && count++ === 0) value = raw[i + 1];
  }
  if (count > 1) return SENT_TWICE;
  return count === 0 ? req.headers[lowerName] : value;
}

/**
 * The token from `Authorization: Bearer …`, null when no Authorization header, or a refusal. The
 * token's characters are not checked here: see {@link malformedToken}.
 */
export function bearerToken(req: IncomingMessage): string | null | KeywardError {
  const header = sentHeader(req, "authorization");
  if (header === undefined) return null;
  if (typeof header !== "string") return TWO_AUTH;
  if (header.length > MAX_CREDENTIAL_LENGTH) return TOO_LONG;
  // The scheme ends at the first SP or HTAB; RFC 6750 allows only SP after it, so a tab is malformed.
  let i = 0;
  while (i < header.length && header.charCodeAt(i) !== 32 && header.charCodeAt(i) !== 9) i++;
  const isBearer = i === 6 && startsWithIgnoringCase(header, "bearer");
  if (!isBearer) return OTHER_SCHEME;
  if (header.charCodeAt(i) === 9) return MALFORMED;
  while (header.charCodeAt(i) === 32) i++;
  if (i >= header.length) return EMPTY;
  return i === 7 ? header.slice(7) : header.slice(i);
}

/** The token from a custom header (`x-api-key`), null when absent, or a refusal (characters unchecked, as for Bearer). */
export function headerToken(req: IncomingMessage, lowerName: string): string | null | KeywardError {
  const value = sentHeader(req, lowerName);
  if (value === undefined) return null;
  if (typeof value !== "string") return e400(`The ${lowerName} header was sent more than once.`);
  if (value.length > MAX_CREDENTIAL_LENGTH) return TOO_LONG;
  if (value.length === 0) return e400(`The ${lowerName} header is empty.`);
  return value;
}

/** Reads the credential for a configured source: Bearer, a custom header, or either (never both). */
export function credential(req: IncomingMessage, header: string | null, alsoBearer: boolean): string | null | KeywardError {
  if (header === null) return bearerToken(req);
  const custom = headerToken(req, header);
  if (!alsoBearer) return custom;
  const bearer = bearerToken(req);
  if (custom === null) return bearer;
  if (bearer === null || bearer === OTHER_SCHEME) return custom;
  return BOTH;
}

/**
 * The 400 for a token that is not a b64token (RFC 6750 §2.1), or null when its syntax is fine.
 * Asked only after a token failed verification: every key that verifies is well-formed (the key
 * format is stricter than b64token), so a good key never pays for this check.
 */
export function malformedToken(req: IncomingMessage, token: string, header: string | null): KeywardError | null {
  if (isB64Token(token)) return null;
  if (header !== null && req.headers[header] === token) return e400(`The ${header} header is malformed: send the key alone.`);
  return MALFORMED;
}
