/**
 * The notes API on Hono: an open health route, and under /v1 the keyward middleware, a route any
 * valid key may call, a read route needing `notes:read` and a write route needing `notes:write`.
 * The app is a plain `fetch` handler: the same code runs on Node (server.ts), Bun and Deno.
 */
import { Hono } from "hono";
import type { KeyManager } from "keyward";
import { apiKeyAuth, requireScope, type ApiKeyEnv } from "keyward/hono";

export function createApp(keys: KeyManager) {
  const app = new Hono<ApiKeyEnv>();
  const notes: Array<{ id: number; text: string; by: string }> = [];
  app.get("/health", (c) => c.json({ ok: true }));
  app.use("/v1/*", apiKeyAuth({ keys }));
  app.get("/v1/whoami", (c) => c.json({ key: c.get("apiKey") }));
  app.get("/v1/notes", requireScope("notes:read"), (c) => c.json({ notes }));
  app.post("/v1/notes", requireScope("notes:write"), async (c) => {
    const body = (await c.req.json().catch(() => null)) as { text?: unknown } | null;
    const text = body?.text;
    if (typeof text !== "string" || text.length === 0 || text.length > 500) {
      return c.json({ error: { code: "invalid_request", message: "Send { text } (1 to 500 characters)." } }, 400);
    }
    const note = { id: notes.length + 1, text, by: c.get("apiKey")!.id };
    notes.push(note);
    return c.json(note, 201);
  });
  return app;
}
