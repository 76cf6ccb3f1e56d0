/**
 * The notes API on Fastify 5: an open health route, a route any valid key may call, a read route
 * needing `notes:read` (route config) and a write route needing `notes:write` (a preHandler).
 */
import Fastify from "fastify";
import type { KeyManager } from "keyward";
import { keyward, requireScope } from "keyward/fastify";

export async function createApp(keys: KeyManager) {
  const app = Fastify();
  const notes: Array<{ id: number; text: string; by: string }> = [];
  await app.register(keyward, { keys });
  app.get("/health", { config: { apiKey: false } }, async () => ({ ok: true }));
  app.get("/v1/whoami", async (request) => ({ key: request.apiKey }));
  app.get("/v1/notes", { config: { scopes: ["notes:read"] } }, async () => ({ notes }));
  app.post<{ Body: { text?: unknown } }>("/v1/notes", { preHandler: requireScope("notes:write") }, async (request, reply) => {
    const text = request.body?.text;
    if (typeof text !== "string" || text.length === 0 || text.length > 500) {
      return reply.code(400).send({ error: { code: "invalid_request", message: "Send { text } (1 to 500 characters)." } });
    }
    const note = { id: notes.length + 1, text, by: request.apiKey!.id };
    notes.push(note);
    return reply.code(201).send(note);
  });
  await app.ready();
  return app;
}
