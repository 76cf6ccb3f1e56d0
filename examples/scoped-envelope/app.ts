/**
 * The scoped-envelope API: `sk_live_`/`sk_test_` Bearer keys owned by an organisation, `resource:action`
 * scopes guarding every operation of the scope table (a key without scopes gets its creator's
 * role), every response in a `{ data, error }` envelope (401 for any bad key, 500 for a handler
 * failure, 503 for a key-store outage), and a dashboard key listing with last-used times and counts.
 */
import express from "express";
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { KeyManager, KeywardError, apiKeyAuth, keysRouter, requireScope } from "keyward";
import { SqliteStore } from "keyward/sqlite";

/** The scopes a key may be restricted to. */
export const SCOPES = ["nodes:read", "nodes:write", "batches:read", "batches:write", "analytics:read", "webhooks:manage", "templates:manage"];

/** What each dashboard role may do; a key never gets more than its creator's role. */
export const ROLES = {
  admin: ["*"],
  member: ["nodes:read", "nodes:write", "batches:read", "batches:write", "analytics:read"],
  viewer: ["nodes:read", "batches:read", "analytics:read"],
} as const satisfies Record<string, readonly string[]>;
export type Role = keyof typeof ROLES;

/** Every API operation and the scope it needs (the doc's scope table). `:id` is a resource of the collection before it. */
export const ENDPOINTS: ReadonlyArray<readonly [method: "get" | "post" | "patch" | "delete", path: string, scope: string]> = [
  ["get", "/api/v1/nodes", "nodes:read"],
  ["get", "/api/v1/nodes/:id", "nodes:read"],
  ["post", "/api/v1/nodes", "nodes:write"],
  ["patch", "/api/v1/nodes/:id", "nodes:write"],
  ["delete", "/api/v1/nodes/:id", "nodes:write"],
  ["get", "/api/v1/batches", "batches:read"],
  ["get", "/api/v1/batches/:id", "batches:read"],
  ["post", "/api/v1/batches", "batches:write"],
  ["post", "/api/v1/batches/:id/generate", "batches:write"],
  ["get", "/api/v1/analytics", "analytics:read"],
  ["get", "/api/v1/webhooks", "webhooks:manage"],
  ["post", "/api/v1/webhooks", "webhooks:manage"],
  ["patch", "/api/v1/webhooks/:id", "webhooks:manage"],
  ["delete", "/api/v1/webhooks/:id", "webhooks:manage"],
  ["get", "/api/v1/templates", "templates:manage"],
  ["post", "/api/v1/templates", "templates:manage"],
  ["patch", "/api/v1/templates/:id", "templates:manage"],
  ["delete", "/api/v1/templates/:id", "templates:manage"],
];

export interface AppOptions {
  /** SQLite file holding the keys. */
  db: string;
  /** Requests per key per window (429 beyond). Defaults to 100 per minute. */
  rateLimit?: { limit: number; window: string };
  clock?: () => number;
  /** The scan-analytics backend. Defaults to counting the organisation's nodes. */
  analytics?: (org: string, mode: string) => Promise<object> | object;
}

type Item = { id: string; name: string; [field: string]: unknown };
const SINGULAR: Record<string, string> = { nodes: "Node", batches: "Batch", webhooks: "Webhook", templates: "Template" };

export function createApp({ db, rateLimit = { limit: 100, window: "1m" }, clock, analytics }: AppOptions) {
  const store = new SqliteStore(db);
  const keys = new KeyManager({ store, prefix: "sk", modes: ["live", "test"], scopes: SCOPES, rateLimit, clock });
  const envelope = (error: KeywardError) => ({ data: null, error: error.message });
  const ok = (res: express.Response, data: unknown, status = 200) => res.status(status).json({ data, error: null });
  const fail = (res: express.Response, status: number, error: string) => res.status(status).json({ data: null, error });

  // Demo dashboard session: `Cookie: session=<token>` → a user of an organisation with a role.
  const sessions = new Map<string, { org: string; role: Role }>();
  const login = (org: string, role: Role = "admin") => {
    const token = randomUUID();
    sessions.set(token, { org, role });
    return `session=${token}`;
  };
  const sessionOf = (req: IncomingMessage) => sessions.get(/(?:^|;\s*)session=([^;]*)/.exec(req.headers.cookie ?? "")?.[1] ?? "");

  // Each organisation has separate data per mode: sk_test_ keys never touch live data.
  const data = new Map<string, Item[]>();
  const items = (req: express.Request, kind: string) => {
    const name = `${req.apiKey!.ownerId}:${req.apiKey!.mode}:${kind}`;
    if (!data.has(name)) data.set(name, []);
    return data.get(name)!;
  };
  const find = (req: express.Request, res: express.Response, kind: string) => {
    const item = items(req, kind).find((i) => i.id === req.params.id);
    if (!item) fail(res, 404, `${SINGULAR[kind]} ${req.params.id} not found`);
    return item;
  };
  const named = (req: express.Request, res: express.Response) => {
    const name: unknown = req.body?.name;
    if (typeof name === "string" && name.trim() !== "") return name;
    fail(res, 422, "name is required and must be a non-empty string");
    return null;
  };

  const app = express();
  app.use(
    "/dashboard/api-keys",
    keysRouter({
      keys,
      owner: (req) => sessionOf(req)?.org,
      allowedScopes: (req) => [...ROLES[sessionOf(req)!.role]],
      formatBody: (body) => ({ data: body, error: null }),
      formatError: envelope,
    }),
  );
  // The docs promise 401 for any missing or invalid key, malformed ones included.
  app.use("/api/v1", apiKeyAuth({ keys, formatError: envelope, malformedStatus: 401 }), express.json());

  // Plain create / list / read / update / delete over one organisation's collection.
  for (const kind of ["nodes", "batches", "webhooks", "templates"]) {
    const [read, write] = {
      nodes: ["nodes:read", "nodes:write"],
      batches: ["batches:read", "batches:write"],
      webhooks: ["webhooks:manage", "webhooks:manage"],
      templates: ["templates:manage", "templates:manage"],
    }[kind]!;
    const base = `/api/v1/${kind}`;
    app.get(base, requireScope(read!), (req, res) => {
      ok(res, items(req, kind));
    });
    app.get(`${base}/:id`, requireScope(read!), (req, res) => {
      const item = find(req, res, kind);
      if (item) ok(res, item);
    });
    app.post(base, requireScope(write!), (req, res) => {
      const name = named(req, res);
      if (name === null) return;
      const item: Item = { id: `${SINGULAR[kind]!.toLowerCase()}_${randomUUID()}`, name, ...(kind === "batches" ? { status: "draft" } : {}) };
      items(req, kind).push(item);
      ok(res, item, 201);
    });
    if (kind === "batches") continue; // batches are created and generated, not edited
    app.patch(`${base}/:id`, requireScope(write!), (req, res) => {
      const item = find(req, res, kind);
      if (!item) return;
      const name = named(req, res);
      if (name !== null) ok(res, Object.assign(item, { name }));
    });
    app.delete(`${base}/:id`, requireScope(write!), (req, res) => {
      const list = items(req, kind);
      const at = list.findIndex((i) => i.id === req.params.id);
      if (at < 0) return void fail(res, 404, `${SINGULAR[kind]} ${req.params.id} not found`);
      ok(res, list.splice(at, 1)[0]);
    });
  }
  app.post("/api/v1/batches/:id/generate", requireScope("batches:write"), (req, res) => {
    const batch = find(req, res, "batches");
    if (batch) ok(res, Object.assign(batch, { status: "queued" }), 202);
  });
  app.get("/api/v1/analytics", requireScope("analytics:read"), async (req, res, next) => {
    try {
      ok(res, analytics ? await analytics(req.apiKey!.ownerId!, req.apiKey!.mode!) : { scans: 0, nodes: items(req, "nodes").length });
    } catch (error) {
      next(error);
    }
  });

  app.use((req, res) => {
    fail(res, 404, `No route for ${req.method} ${req.path}`);
  });
  // A keyward refusal keeps its status (a key-store outage is 503: fail closed, retry later); a
  // malformed JSON body is 400; anything else a handler throws is the doc's 500, details hidden.
  app.use((err: { status?: number; message?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    if (err instanceof KeywardError) return void fail(res, err.status, err.message);
    const status = err.status && err.status >= 400 && err.status < 500 ? err.status : 500;
    fail(res, status, status === 500 ? "Internal server error" : (err.message ?? "Bad request"));
  });
  return { app, keys, login, store };
}
