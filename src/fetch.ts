/**
 * keyward/fetch: API-key authentication for Web `Request`/`Response` runtimes: Next.js route
 * handlers, Bun.serve, Deno.serve. Loads no framework and nothing from node:http. The memory store
 * runs everywhere; `keyward/sqlite`, `keyward/postgres` and `keyward/redis` need Node.
 */
export { fetchAuth } from "./fetch/auth.js";
export type { FetchAuth, FetchAuthOptions, FetchAuthResult } from "./fetch/auth.js";
export type { FetchFormatError } from "./fetch/respond.js";
export type { FetchRateLimitStyle } from "./fetch/headers.js";
