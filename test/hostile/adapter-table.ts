/**
 * One table of hostile and RFC 6750 credential cases, run against every adapter (Express, Connect,
 * node:http, Fastify, Fetch, Hono) by `adapters.test.ts`, one runner each: each adapter must answer
 * the same status and code. Routes every runner mounts: `/bearer` (Authorization: Bearer),
 * `/custom` (x-api-key), `/either` (x-api-key or Bearer), `/scoped` (Bearer plus the scope
 * `nodes:write`), `/down` (Bearer on a store whose `findByHash` throws).
 */

/** The secrets a case may send, made in the runner's set-up. */
export interface TableKeys {
  /** A valid, active key with the scope `nodes:read`. */
  valid: string;
  /** Well-formed (valid checksum) but unknown. */
  unknown: string;
  /** A revoked key. */
  revoked: string;
  /** A well-formed key never seen, for the failing store (no cache can answer it). */
  fresh: string;
}

/** The routes every runner mounts. */
export type TableRoute = "/bearer" | "/custom" | "/either" | "/scoped" | "/down";

/** One case: a route, the request's header lines (name, value; a name may repeat), the answer. */
export interface AdapterCase {
  name: string;
  route: TableRoute;
  headers: (k: TableKeys) => Array<[string, string]>;
  status: number;
  code: string | null;
  /**
   * A Fetch `Headers` joins repeated headers with ", ", so Fetch and Hono cannot tell this case
   * from other comma-holding values: same status and code, a message of their own.
   */
  joined?: true;
}

const bearer = (value: string): [string, string] => ["Authorization", value];

/** The shared cases. */
export const ADAPTER_CASES: AdapterCase[] = [
  { name: "a valid Bearer key", route: "/bearer", headers: (k) => [bearer(`Bearer ${k.valid}`)], status: 200, code: null },
  { name: "a lowercase scheme", route: "/bearer", headers: (k) => [bearer(`bearer ${k.valid}`)], status: 200, code: null },
  { name: "no key", route: "/bearer", headers: () => [], status: 401, code: "missing_key" },
  { name: "another scheme (Basic)", route: "/bearer", headers: () => [bearer("Basic dXNlcjpwYXNz")], status: 401, code: "missing_key" },
  { name: "an empty Bearer", route: "/bearer", headers: () => [bearer("Bearer")], status: 400, code: "invalid_request" },
  { name: "two tokens in one header", route: "/bearer", headers: (k) => [bearer(`Bearer ${k.valid} ${k.unknown}`)], status: 400, code: "invalid_request" },
  {
    name: "two Authorization headers",
    route: "/bearer",
    headers: (k) => [bearer(`Bearer ${k.valid}`), bearer(`Bearer ${k.valid}`)],
    status: 400,
    code: "invalid_request",
    joined: true,
  },
  { name: "a comma after the key", route: "/bearer", headers: (k) => [bearer(`Bearer ${k.valid},`)], status: 400, code: "invalid_request", joined: true },
  { name: "illegal characters (quotes)", route: "/bearer", headers: (k) => [bearer(`Bearer "${k.valid}"`)], status: 400, code: "invalid_request" },
  { name: "a tab after the scheme", route: "/bearer", headers: (k) => [bearer(`Bearer\t${k.valid}`)], status: 400, code: "invalid_request" },
  { name: "an oversized token", route: "/bearer", headers: () => [bearer(`Bearer ${"A".repeat(1025)}`)], status: 400, code: "invalid_request" },
  { name: "an unknown key", route: "/bearer", headers: (k) => [bearer(`Bearer ${k.unknown}`)], status: 401, code: "invalid_key" },
  { name: "a b64token that is not a key", route: "/bearer", headers: () => [bearer("Bearer abc.def-ghi_jkl~mno+pqr/stu==")], status: 401, code: "invalid_key" },
  { name: "a revoked key", route: "/bearer", headers: (k) => [bearer(`Bearer ${k.revoked}`)], status: 401, code: "key_revoked" },
  { name: "the custom header", route: "/custom", headers: (k) => [["X-API-Key", k.valid]], status: 200, code: null },
  { name: "no custom header", route: "/custom", headers: () => [], status: 401, code: "missing_key" },
  {
    name: "the custom header sent twice",
    route: "/custom",
    headers: (k) => [
      ["x-api-key", k.valid],
      ["X-Api-Key", k.valid],
    ],
    status: 401,
    code: "invalid_key",
    joined: true,
  },
  { name: "an oversized custom header", route: "/custom", headers: () => [["x-api-key", "A".repeat(1025)]], status: 401, code: "invalid_key" },
  { name: "the custom header with illegal characters", route: "/custom", headers: (k) => [["x-api-key", `"${k.valid}"`]], status: 401, code: "invalid_key" },
  {
    name: "a Bearer key where the custom header is expected",
    route: "/custom",
    headers: (k) => [bearer(`Bearer ${k.valid}`)],
    status: 401,
    code: "missing_key",
  },
  { name: "either: the Bearer key", route: "/either", headers: (k) => [bearer(`Bearer ${k.valid}`)], status: 200, code: null },
  {
    name: "either: the custom header and Bearer at once",
    route: "/either",
    headers: (k) => [["x-api-key", k.valid], bearer(`Bearer ${k.valid}`)],
    status: 400,
    code: "invalid_request",
  },
  { name: "a key without the required scope", route: "/scoped", headers: (k) => [bearer(`Bearer ${k.valid}`)], status: 403, code: "insufficient_scope" },
  { name: "a store failure", route: "/down", headers: (k) => [bearer(`Bearer ${k.fresh}`)], status: 503, code: "store_unavailable" },
];

/** What a runner reports for one request. */
export interface AdapterAnswer {
  status: number;
  code: string | null;
  headers: Record<string, string>;
}
