/**
 * Quickstart: the smallest protected API. One public route, one route any valid key may call,
 * one that needs the `notes:write` scope; and the self-service keys page at /keys behind a demo login.
 */
import express from "express";
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { apiKeyAuth, keysPage, keysRouter, requireScope, type KeyManager } from "keyward";

export function createApp(keys: KeyManager) {
  const app = express();
  app.get("/health", (_req, res) => {
    res.json({ ok: true });
  });
  app.use("/v1", apiKeyAuth({ keys }));
  app.get("/v1/whoami", (req, res) => {
    res.json({ key: req.apiKey });
  });
  app.post("/v1/notes", requireScope("notes:write"), (_req, res) => {
    res.status(201).json({ created: true });
  });
  // Demo login: GET /login signs you in as "demo". Use your app's real login and session store instead.
  const sessions = new Map<string, string>();
  const sessionUser = (req: IncomingMessage) => sessions.get(/(?:^|;\s*)sid=([\w-]+)/.exec(req.headers.cookie ?? "")?.[1] ?? "") ?? null;
  app.get("/login", (_req, res) => {
    const sid = randomBytes(18).toString("base64url");
    sessions.set(sid, "demo");
    res.setHeader("Set-Cookie", `sid=${sid}; Path=/; HttpOnly; SameSite=Lax`);
    res.redirect("/keys");
  });
  app.use("/api/keys", keysRouter({ keys, owner: sessionUser }));
  app.use(
    "/keys",
    (req, res, next) => (sessionUser(req) ? next() : res.redirect("/login")),
    keysPage({ router: "/api/keys", keys, scopes: ["notes:read", "notes:write"] }),
  );
  return app;
}
