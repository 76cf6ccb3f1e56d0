/**
 * NearNode-style API (seed 000): `sk_live_`/`sk_test_` Bearer keys owned by an organisation,
 * `resource:action` scopes (a key without scopes has full access), every response in a
 * `{ data, error }` envelope, and a dashboard key listing with last-used times and request counts.
 */
import express from "express";
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { KeyManager, apiKeyAuth, keysRouter, requireScope, type KeywardError } from "keyward";
import { SqliteStore } from "keyward/sqlite";

/** The scopes a key may be restricted to. */
export const SCOPES = ["nodes:read", "nodes:write", "batches:read", "batches:write", "analytics:read", "webhooks:manage", "templates:manage"];

export interface AppOptions {
  /** SQLite file holding the keys. */
  db: string;
  /** Requests per key per window (429 beyond). Defaults to 100 per minute. */
  rateLimit?: { limit: number; window: string };
  clock?: () => number;
}

export function createApp({ db, rateLimit = { limit: 100, window: "1m" }, clock }: AppOptions) {
  const keys = new KeyManager({ store: new SqliteStore(db), prefix: "sk", modes: ["live", "test"], scopes: SCOPES, rateLimit, clock });
  const envelope = (error: KeywardError) => ({ data: null, error: error.message });
  const ok = (res: express.Response, data: unknown, status = 200) => res.status(status).json({ data, error: null });

  // Demo dashboard session: `Cookie: session=<token>` → organisation id.
  const sessions = new Map<string, string>();
  const login = (org: string) => { const token = randomUUID(); sessions.set(token, org); return `session=${token}`; };
  const orgOf = (req: IncomingMessage) => sessions.get(/(?:^|;\s*)session=([^;]*)/.exec(req.headers.cookie ?? "")?.[1] ?? "");

  // Each organisation has separate data per mode: sk_test_ keys never touch live data.
  const nodes = new Map<string, Array<{ id: string; name: string }>>();
  const bucket = (req: express.Request) => {
    const name = `${req.apiKey!.ownerId}:${req.apiKey!.mode}`;
    if (!nodes.has(name)) nodes.set(name, []);
    return nodes.get(name)!;
  };

  const app = express();
  app.use("/dashboard/api-keys", keysRouter({ keys, owner: orgOf, formatBody: (data) => ({ data, error: null }), formatError: envelope }));
  app.use("/api/v1", apiKeyAuth({ keys, formatError: envelope }), express.json());
  app.get("/api/v1/nodes", requireScope("nodes:read"), (req, res) => { ok(res, bucket(req)); });
  app.get("/api/v1/nodes/:id", requireScope("nodes:read"), (req, res) => {
    const node = bucket(req).find((n) => n.id === req.params.id);
    if (node) ok(res, node);
    else res.status(404).json({ data: null, error: `Node ${req.params.id} not found` });
  });
  app.post("/api/v1/nodes", requireScope("nodes:write"), (req, res) => {
    const name: unknown = req.body?.name;
    if (typeof name !== "string" || name.trim() === "") return void res.status(422).json({ data: null, error: "name is required and must be a non-empty string" });
    const node = { id: `node_${randomUUID()}`, name };
    bucket(req).push(node);
    ok(res, node, 201);
  });
  app.delete("/api/v1/nodes/:id", requireScope("nodes:write"), (req, res) => {
    const list = bucket(req);
    const at = list.findIndex((n) => n.id === req.params.id);
    if (at < 0) return void res.status(404).json({ data: null, error: `Node ${req.params.id} not found` });
    ok(res, list.splice(at, 1)[0]);
  });
  app.get("/api/v1/batches", requireScope("batches:read"), (_req, res) => { ok(res, []); });
  app.post("/api/v1/batches", requireScope("batches:write"), (_req, res) => { ok(res, { id: `batch_${randomUUID()}`, status: "queued" }, 201); });
  app.get("/api/v1/analytics", requireScope("analytics:read"), (req, res) => { ok(res, { scans: 0, nodes: bucket(req).length }); });
  app.post("/api/v1/webhooks", requireScope("webhooks:manage"), (_req, res) => { ok(res, { id: `wh_${randomUUID()}` }, 201); });
  app.post("/api/v1/templates", requireScope("templates:manage"), (_req, res) => { ok(res, { id: `tpl_${randomUUID()}` }, 201); });

  app.use((req, res) => { res.status(404).json({ data: null, error: `No route for ${req.method} ${req.path}` }); });
  app.use((err: { status?: number; message?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    const status = err.status && err.status < 500 ? err.status : 500; // e.g. 400 for a malformed JSON body
    res.status(status).json({ data: null, error: status === 500 ? "Internal server error" : err.message });
  });
  return { app, keys, login };
}
