/**
 * The app the keys-page tests drive: a demo login that sets a session cookie, keysRouter behind
 * that session, the keys page, and an API protected by apiKeyAuth.
 */
import express from "express";
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { apiKeyAuth, keysPage, keysRouter, requireScope, type KeyManager, type KeysPageOptions, type KeysRouterOptions } from "keyward";

export const SCOPES = ["notes:read", "notes:write", "billing:read"];
export const PROJECTS = ["proj_alpha", "proj_beta"];

/** The session user from the `sid` cookie, or null. */
function sessionUser(sessions: Map<string, string>, req: IncomingMessage): string | null {
  const match = /(?:^|;\s*)sid=([A-Za-z0-9_-]+)/.exec(req.headers.cookie ?? "");
  return match ? (sessions.get(match[1]!) ?? null) : null;
}

export function createPageApp(keys: KeyManager, pageOptions: KeysPageOptions = {}, routerOptions: Partial<KeysRouterOptions> = {}) {
  const app = express();
  const sessions = new Map<string, string>();
  app.post("/login/:user", (req, res) => {
    const sid = randomBytes(18).toString("base64url");
    sessions.set(sid, req.params.user);
    res.setHeader("Set-Cookie", `sid=${sid}; Path=/; HttpOnly; SameSite=Lax`);
    res.json({ user: req.params.user });
  });
  app.use("/api/keys", keysRouter({ keys, owner: (req) => sessionUser(sessions, req), projects: () => PROJECTS, ...routerOptions }));
  app.use("/settings/api-keys", keysPage({ router: "/api/keys", keys, projects: PROJECTS, loginUrl: "/login", ...pageOptions }));
  app.use("/v1", apiKeyAuth({ keys }));
  app.get("/v1/notes", requireScope("notes:read"), (req, res) => {
    res.json({ notes: [], key: req.apiKey?.id });
  });
  return { app, sessions };
}
