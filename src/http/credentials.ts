/**
 * Credential extraction from a request: `Authorization: Bearer <key>` (scheme case-insensitive,
 * RFC 9110 §11.1; b64token syntax, RFC 6750 §2.1) or a custom header. Query strings are never read.
 * Returns the token, `null` when none was sent, or the refusal (400 or 401 per source, see
 * `malformedStatus`); the b64token syntax is checked by `CredentialReader.malformed` once a token
 * has failed verification.
 */
import type { IncomingMessage } from "node:http";
import { KeywardError } from "../core/errors.js";
import { MAX_CREDENTIAL_LENGTH } from "../core/key-format.js";

/** The status a malformed credential is answered with (see `apiKeyAuth`'s `malformedStatus`). */
export type MalformedStatus = 400 | 401;

/**
 * A malformed-credential refusal: 400 `invalid_request` (RFC 6750 §3.1), or 401 `invalid_key`
 * (RFC 6750's `invalid_token`, whose definition includes "malformed") when the app asks for 401.
 */
const malformed = (status: MalformedStatus, message: string) => new KeywardError(status === 400 ? "invalid_request" : "invalid_key", message);

/** The shared Bearer refusals at one status, made once. */
function bearerRefusals(status: MalformedStatus) {
  return {
    tooLong: malformed(status, "The credential is too long."),
    empty: malformed(status, "The Bearer token is empty."),
    malformed: malformed(status, "The Bearer token is malformed: send exactly `Authorization: Bearer <key>`."),
    twice: malformed(status, "The request has more than one Authorization header."),
    joined: malformed(
      status,
      "The Authorization header holds a comma: it was sent more than once or is malformed; send exactly `Authorization: Bearer <key>`.",
    ),
    both: malformed(status, "The request carries a key in both the Authorization header and the API-key header; send one."),
  };
}
const BEARER = { 400: bearerRefusals(400), 401: bearerRefusals(401) } as const;
type BearerRefusals = ReturnType<typeof bearerRefusals>;
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

/** Whether `text` starts with `Bearer` spelt exactly so (the common case of the case-insensitive scheme). */
function isBearerWord(text: string): boolean {
  return (
    text.charCodeAt(0) === 66 &&
    text.charCodeAt(1) === 101 &&
    text.charCodeAt(2) === 97 &&
    text.charCodeAt(3) === 114 &&
    text.charCodeAt(4) === 101 &&
    text.charCodeAt(5) === 114
  );
}

/** Returned by a {@link HeaderLookup} for a header the client sent more than once. */
export const SENT_TWICE: unique symbol = Symbol("sent twice");

/**
 * Reads header `lowerName` of a request of type `R`: its value, undefined when absent, or
 * {@link SENT_TWICE} when it was sent more than once (or, where repeats arrive joined, as in a Fetch
 * `Headers`, when it cannot be one credential). Lets one set of credential rules serve node:http
 * requests and Web `Request`s alike.
 */
export type HeaderLookup<R> = (request: R, lowerName: string) => string | string[] | undefined | typeof SENT_TWICE | typeof JOINED;

/**
 * Returned by a {@link HeaderLookup} whose source joins repeated headers with ", " (Fetch
 * `Headers`) for a value holding a comma: sent twice, or malformed; no key contains a comma.
 */
export const JOINED: unique symbol = Symbol("joined");

/**
 * Whether header name `name` is `lowerName` (same length), ignoring ASCII case. The spellings
 * clients send (`authorization`, `Authorization`) are one native compare each; the
 * case-insensitive loop, character by character, is the fallback.
 */
function sameName(name: string, lowerName: string): boolean {
  if (name === lowerName) return true;
  if (lowerName === "authorization" && name === "Authorization") return true;
  return startsWithIgnoringCase(name, lowerName);
}

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
    if (name.length === lowerName.length && sameName(name, lowerName) && count++ === 0) value = raw[i + 1];
  }
  if (count > 1) return SENT_TWICE;
  return count === 0 ? req.headers[lowerName] : value;
}

/**
 * The token from `Authorization: Bearer …`, null when no Authorization header, or a refusal at
 * `status`. The token's characters are not checked here: see {@link CredentialReader.malformed}.
 */
export function bearerToken(req: IncomingMessage, status: MalformedStatus = 400): string | null | KeywardError {
  return bearerFromValue(sentHeader(req, "authorization"), BEARER[status]);
}

/**
 * {@link bearerToken} for an Authorization value already read (by any {@link HeaderLookup}), with
 * the refusals of the caller's status (looked up once per reader, not per request).
 */
function bearerFromValue(header: string | string[] | undefined | typeof SENT_TWICE | typeof JOINED, refuse: BearerRefusals): string | null | KeywardError {
  if (header === undefined) return null;
  if (header === JOINED) return refuse.joined;
  if (typeof header !== "string") return refuse.twice;
  if (header.length > MAX_CREDENTIAL_LENGTH) return refuse.tooLong;
  // What clients send: `Bearer` then one SP and the token, answered without the general scan below.
  if (header.length > 7 && header.charCodeAt(6) === 32 && header.charCodeAt(7) !== 32 && isBearerWord(header)) return header.slice(7);
  // The scheme ends at the first SP or HTAB; RFC 6750 allows only SP after it, so a tab is malformed.
  let i = 0;
  while (i < header.length && header.charCodeAt(i) !== 32 && header.charCodeAt(i) !== 9) i++;
  const isBearer = i === 6 && startsWithIgnoringCase(header, "bearer");
  if (!isBearer) return OTHER_SCHEME;
  if (header.charCodeAt(i) === 9) return refuse.malformed;
  while (header.charCodeAt(i) === 32) i++;
  if (i >= header.length) return refuse.empty;
  return i === 7 ? header.slice(7) : header.slice(i);
}

/**
 * Reads the credential for one configured source; built once per middleware, so its refusals are
 * made once too.
 */
export interface CredentialReader<R = IncomingMessage> {
  /** The token, null when none was sent, or the refusal (a malformed header, or a key sent twice). */
  read(req: R): string | null | KeywardError;
  /**
   * The refusal for a token that is not a b64token (RFC 6750 §2.1), or null when its syntax is
   * fine. Asked only after a token failed verification: every key that verifies is well-formed
   * (the key format is stricter than b64token), so a good key never pays for this check.
   */
  malformed(req: R, token: string): KeywardError | null;
}

/**
 * A {@link CredentialReader} for Bearer (`header` null), a custom header, or either (never both).
 * `status` gives the status of a malformed credential per source: `bearer` for the Authorization
 * header (and for a request sending both), `header` for the custom header.
 *
 * @example
 * const reader = credentialReader("x-api-key", false, { bearer: 400, header: 401 });
 * reader.read(req); // "sk_live_…", null, or a KeywardError
 */
export function credentialReader(header: string | null, alsoBearer: boolean, status: { bearer: MalformedStatus; header: MalformedStatus }): CredentialReader {
  return credentialReaderFor(sentHeader, header, alsoBearer, status);
}

/**
 * {@link credentialReader} for requests of any type: `lookup` reads a header (e.g. from a Fetch
 * `Headers`), and the same rules, refusals and statuses apply.
 *
 * @example
 * const reader = credentialReaderFor((r: Request, name) => r.headers.get(name) ?? undefined, null, false, { bearer: 400, header: 401 });
 */
export function credentialReaderFor<R>(
  lookup: HeaderLookup<R>,
  header: string | null,
  alsoBearer: boolean,
  status: { bearer: MalformedStatus; header: MalformedStatus },
): CredentialReader<R> {
  const bearer = BEARER[status.bearer];
  const custom =
    header === null
      ? null
      : {
          twice: malformed(status.header, `The ${header} header was sent more than once.`),
          joined: malformed(status.header, `The ${header} header holds a comma: it was sent more than once or is malformed; send the key alone.`),
          tooLong: status.header === status.bearer ? bearer.tooLong : malformed(status.header, "The credential is too long."),
          empty: malformed(status.header, `The ${header} header is empty.`),
          malformed: malformed(status.header, `The ${header} header is malformed: send the key alone.`),
        };
  const bearerOf = (req: R) => bearerFromValue(lookup(req, "authorization"), bearer);
  const headerToken = (req: R, name: string, refuse: NonNullable<typeof custom>): string | null | KeywardError => {
    const value = lookup(req, name);
    if (value === undefined) return null;
    if (value === JOINED) return refuse.joined;
    if (typeof value !== "string") return refuse.twice;
    if (value.length > MAX_CREDENTIAL_LENGTH) return refuse.tooLong;
    if (value.length === 0) return refuse.empty;
    return value;
  };
  return {
    read(req) {
      if (header === null) return bearerOf(req);
      const fromHeader = headerToken(req, header, custom!);
      if (!alsoBearer) return fromHeader;
      const fromBearer = bearerOf(req);
      if (fromHeader === null) return fromBearer;
      if (fromBearer === null || fromBearer === OTHER_SCHEME) return fromHeader;
      return bearer.both;
    },
    malformed(req, token) {
      if (isB64Token(token)) return null;
      if (header !== null && lookup(req, header) === token) return custom!.malformed;
      return bearer.malformed;
    },
  };
}
