/**
 * Quickstart: the smallest protected API. One public route, one route any valid key may call,
 * one that needs the `notes:write` scope.
 */
import express from "express";
import { apiKeyAuth, requireScope, type KeyManager } from "keyward";

export function createApp(keys: KeyManager) {
  const app = express();
  app.get("/health", (_req, res) => { res.json({ ok: true }); });
  app.use("/v1", apiKeyAuth({ keys }));
  app.get("/v1/whoami", (req, res) => { res.json({ key: req.apiKey }); });
  app.post("/v1/notes", requireScope("notes:write"), (_req, res) => { res.status(201).json({ created: true }); });
  return app;
}
