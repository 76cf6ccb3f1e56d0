/**
 * keyward/fastify: a Fastify 5 plugin. `app.register(keyward, { keys })` verifies each request's
 * key through the one pipeline in an `onRequest` hook and sets `request.apiKey`; route config
 * `{ scopes: [...] }` and the `requireScope()` preHandler guard routes. fastify and fastify-plugin
 * are optional peers: `import "keyward"` loads neither.
 */
export { keyward } from "./fastify/plugin.js";
export type { FastifyApiKeyAuthOptions } from "./fastify/plugin.js";
export { requireScope } from "./fastify/guard.js";
export type { FastifyFormatError, FastifyRateLimitStyle } from "./fastify/reply.js";
