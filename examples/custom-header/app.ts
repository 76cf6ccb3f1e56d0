/**
 * The custom-header API: `niq_live_` keys sent in the `X-NearIQ-Key` header (a missing, malformed,
 * unknown or revoked key is 401); keys created without scopes get the default read-only set, stored
 * on the key; every endpoint of the scope table is guarded by its scope; key management only from
 * a dashboard session (never with an API key); plan-gated endpoints → 403.
 */
import express from "express";
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { KeyManager, apiKeyAuth, keysRouter, requireKey, requireScope } from "keyward";
import { SqliteStore } from "keyward/sqlite";

/** Every scope a key may hold. */
export const SCOPES = [
  "competitors:read",
  "alerts:read",
  "export",
  "webhooks:manage",
  "usage:read",
  "content:write",
  "payments:write",
  "chat:write",
  "competitors:write",
  "business:write",
  "alerts:write",
  "contacts:write",
  "embeds:write",
  "notifications:write",
  "reports:write",
  "reviews:write",
  "social:write",
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
type Method = "get" | "post" | "patch" | "delete";

/** Every endpoint and the scope that allows it (the doc's scope table). `:id` is a resource made by POSTing to the path before it. */
export const ENDPOINTS: ReadonlyArray<readonly [method: Method, path: string, scope: string]> = [
  ...[
    "/business",
    "/business/competitors",
    "/reviews",
    "/snapshots",
    "/gbp/health",
    "/gap-analysis",
    "/ai-visibility",
    "/content/history",
    "/report-card",
    "/gbp/insights",
  ].map((path) => ["get", `/v1${path}`, "competitors:read"] as const),
  ["get", "/v1/alerts", "alerts:read"],
  ["get", "/v1/export", "export"],
  ["get", "/v1/webhooks", "webhooks:manage"],
  ["post", "/v1/webhooks", "webhooks:manage"],
  ["patch", "/v1/webhooks/:id", "webhooks:manage"],
  ["delete", "/v1/webhooks/:id", "webhooks:manage"],
  ["get", "/v1/usage", "usage:read"],
  ["get", "/v1/keys/current", "usage:read"],
  ["post", "/v1/content/drafts", "content:write"],
  ["post", "/v1/content/drafts/:id/refine", "content:write"],
  ["post", "/v1/crm/payments", "payments:write"],
  ["post", "/v1/chat/messages", "chat:write"],
  ["post", "/v1/competitors", "competitors:write"],
  ["patch", "/v1/business", "business:write"],
  ["patch", "/v1/alerts/:id", "alerts:write"],
  ["post", "/v1/crm/contacts", "contacts:write"],
  ["post", "/v1/embeds", "embeds:write"],
  ["patch", "/v1/notifications/settings", "notifications:write"],
  ["post", "/v1/reports", "reports:write"],
  ["post", "/v1/review-requests", "reviews:write"],
  ["post", "/v1/social/posts", "social:write"],
];

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

  // Each account's records, per collection (webhooks, drafts, contacts, …): small in-memory stand-ins.
  const records = new Map<string, Array<Record<string, unknown> & { id: string }>>();
  const collection = (req: express.Request, name: string) => {
    const key = `${req.apiKey!.ownerId}:${name}`;
    if (!records.has(key)) records.set(key, []);
    return records.get(key)!;
  };
  const create = (name: string) => (req: express.Request, res: express.Response) => {
    const record = { id: `${name.replace(/\W/g, "_")}_${randomUUID()}`, ...(req.body && typeof req.body === "object" ? req.body : {}) };
    collection(req, name).push(record);
    res.status(201).json(record);
  };
  const list = (name: string) => (req: express.Request, res: express.Response) => {
    res.json({ [name]: collection(req, name) });
  };
  const withRecord =
    (name: string, then: (record: Record<string, unknown>, req: express.Request, res: express.Response) => void) =>
    (req: express.Request, res: express.Response) => {
      const record = collection(req, name).find((r) => r.id === req.params.id);
      if (!record) return void res.status(404).json({ error: { code: "not_found", message: `No such ${name} record.` } });
      then(record, req, res);
    };
  const profile = new Map<string, Record<string, unknown>>();
  const read = (what: string) => (req: express.Request, res: express.Response) => {
    res.json({ [what]: what === "business" ? (profile.get(req.apiKey!.ownerId ?? "") ?? {}) : [] });
  };

  const app = express();
  app.use("/settings/api/keys", keysRouter({ keys, owner: accountOf }));
  // A custom header: a missing, malformed, unknown or revoked key is 401 (malformedStatus defaults to 401 here).
  app.use("/v1", apiKeyAuth({ keys, header: "x-neariq-key" }), express.json());
  const competitorsRead = requireScope("competitors:read");
  for (const [, path] of ENDPOINTS.filter(([, , scope]) => scope === "competitors:read"))
    app.get(path, competitorsRead, read(path.split("/").pop()!.replace(/-/g, "_")));
  app.get("/v1/alerts", requireScope("alerts:read"), list("alerts"));
  app.patch("/v1/alerts/:id", requireScope("alerts:write"), (req, res) => {
    res.json({ id: req.params.id, read: Boolean(req.body?.read) });
  });
  app.get("/v1/export", requireScope("export"), requirePlan("pro"), (req, res) => {
    res.json({ account: req.apiKey!.ownerId, rows: [] });
  });
  app.get("/v1/webhooks", requireScope("webhooks:manage"), list("webhooks"));
  app.post("/v1/webhooks", requireScope("webhooks:manage"), create("webhooks"));
  app.patch(
    "/v1/webhooks/:id",
    requireScope("webhooks:manage"),
    withRecord("webhooks", (record, req, res) => {
      res.json(Object.assign(record, req.body, { id: record.id }));
    }),
  );
  app.delete(
    "/v1/webhooks/:id",
    requireScope("webhooks:manage"),
    withRecord("webhooks", (record, req, res) => {
      const all = collection(req, "webhooks");
      all.splice(all.indexOf(record as (typeof all)[number]), 1);
      res.json({ id: record.id, deleted: true });
    }),
  );
  app.get("/v1/usage", requireScope("usage:read"), (req, res) => {
    res.json({ key: req.apiKey!.name, scopes: req.apiKey!.scopes });
  });
  app.get("/v1/keys/current", requireScope("usage:read"), (req, res) => {
    res.json({ id: req.apiKey!.id, name: req.apiKey!.name, scopes: req.apiKey!.scopes });
  });
  app.post("/v1/content/drafts", requireScope("content:write"), create("drafts"));
  app.post(
    "/v1/content/drafts/:id/refine",
    requireScope("content:write"),
    withRecord("drafts", (record, _req, res) => {
      res.status(201).json({ ...record, refined: true });
    }),
  );
  app.post("/v1/crm/payments", requireScope("payments:write"), create("payments"));
  app.post("/v1/chat/messages", requireScope("chat:write"), (req, res) => {
    res.status(201).json({ reply: `You said: ${String(req.body?.message ?? "")}` });
  });
  app.post("/v1/competitors", requireScope("competitors:write"), create("competitors"));
  app.patch("/v1/business", requireScope("business:write"), (req, res) => {
    const owner = req.apiKey!.ownerId ?? "";
    profile.set(owner, { ...profile.get(owner), ...(req.body && typeof req.body === "object" ? req.body : {}) });
    res.json({ business: profile.get(owner) });
  });
  app.post("/v1/crm/contacts", requireScope("contacts:write"), create("contacts"));
  app.post("/v1/embeds", requireScope("embeds:write"), (_req, res) => {
    res.status(201).json({ token: `emb_${randomUUID()}`, readOnly: true });
  });
  app.patch("/v1/notifications/settings", requireScope("notifications:write"), (req, res) => {
    res.json({ settings: req.body ?? {} });
  });
  app.post("/v1/reports", requireScope("reports:write"), create("reports"));
  app.post("/v1/review-requests", requireScope("reviews:write"), create("review-requests"));
  app.post("/v1/social/posts", requireScope("social:write"), create("social-posts"));
  return { app, keys, login, plans };
}
