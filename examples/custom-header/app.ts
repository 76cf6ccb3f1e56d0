/**
 * NearIQ-style API (seed 001): `niq_live_` keys sent in the `X-NearIQ-Key` header; keys created
 * without scopes get the default read-only set, stored on the key; key management only from a
 * dashboard session (never with an API key); revocation is immediate; plan-gated endpoints → 403.
 */
import express from "express";
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { KeyManager, apiKeyAuth, keysRouter, requireKey, requireScope } from "keyward";
import { SqliteStore } from "keyward/sqlite";

/** Every scope a key may hold. */
export const SCOPES = [
  "competitors:read", "alerts:read", "export", "webhooks:manage", "usage:read", "content:write", "payments:write",
  "chat:write", "competitors:write", "business:write", "alerts:write", "contacts:write", "embeds:write",
  "notifications:write", "reports:write", "reviews:write", "social:write",
];
/** What a key created without a scope list gets (and keeps, even if this default changes later). */
export const READ_ONLY_SCOPES = ["competitors:read", "alerts:read", "usage:read"];

export interface AppOptions {
  /** SQLite file holding the keys. */
  db: string;
  /** Scopes stored on keys created without any. Defaults to {@link READ_ONLY_SCOPES}. */
  defaultScopes?: string[];
}

type Plan = "starter" | "pro";

export function createApp({ db, defaultScopes = READ_ONLY_SCOPES }: AppOptions) {
  const keys = new KeyManager({ store: new SqliteStore(db), prefix: "niq", modes: ["live"], scopes: SCOPES, defaultScopes });

  // Demo dashboard session (`Cookie: session=<token>`) and each account's plan.
  const sessions = new Map<string, string>();
  const plans = new Map<string, Plan>();
  const login = (account: string, plan: Plan = "starter") => {
    const token = randomUUID();
    sessions.set(token, account);
    plans.set(account, plan);
    return `session=${token}`;
  };
  const accountOf = (req: IncomingMessage) => sessions.get(/(?:^|;\s*)session=([^;]*)/.exec(req.headers.cookie ?? "")?.[1] ?? "");
  const requirePlan = (plan: Plan) => requireKey((key) => plans.get(key.ownerId ?? "") === plan, `This endpoint needs the ${plan} plan.`);

  const app = express();
  app.use("/settings/api/keys", keysRouter({ keys, owner: accountOf }));
  app.use("/v1", apiKeyAuth({ keys, header: "x-neariq-key" }), express.json());
  app.get("/v1/business/competitors", requireScope("competitors:read"), (_req, res) => { res.json({ competitors: [] }); });
  app.get("/v1/alerts", requireScope("alerts:read"), (_req, res) => { res.json({ alerts: [] }); });
  app.patch("/v1/alerts/:id", requireScope("alerts:write"), (req, res) => { res.json({ id: req.params.id, read: Boolean(req.body?.read) }); });
  app.get("/v1/usage", requireScope("usage:read"), (req, res) => { res.json({ key: req.apiKey!.name, scopes: req.apiKey!.scopes }); });
  app.post("/v1/content/drafts", requireScope("content:write"), (_req, res) => { res.status(201).json({ id: `draft_${randomUUID()}` }); });
  app.get("/v1/export", requireScope("export"), requirePlan("pro"), (req, res) => { res.json({ account: req.apiKey!.ownerId, rows: [] }); });
  return { app, keys, login, plans };
}
