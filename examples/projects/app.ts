/**
 * The projects API: user keys (scopes, optional project allow-list, TTL 30/60/90 days or none) act
 * on the projects their owner is a member of; project keys are bound to one project and not
 * scope-gated. `X-Nodion-Project` picks the project, else the owner's default project. Every
 * operation of the scope table is routed; the dashboard shows keys with the doc's field names.
 */
import express from "express";
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { KeyManager, apiKeyAuth, keysRouter, requireKey, requireScope, type ApiKeyJson } from "keyward";
import { SqliteStore } from "keyward/sqlite";

export const SCOPES = ["read", "write", "deploy", "env:read", "env:write", "logs:read"];
export const PROJECTS: Record<string, { name: string; apps: string[] }> = {
  "5903725b-f554-4294-ab17-c992a765a001": { name: "Shop", apps: ["shop-web", "shop-worker"] },
  "5903725b-f554-4294-ab17-c992a765a002": { name: "Blog", apps: ["blog"] },
  "5903725b-f554-4294-ab17-c992a765a003": { name: "Internal", apps: ["wiki"] },
};
const REGIONS = [
  { id: "5903725b-f554-4294-ab17-c992a765a001", name: "EU Central", slug: "euc" },
  { id: "5e4ce16b-7409-4bb4-849a-9aec0ec0c7af", name: "US East", slug: "use" },
];

type Method = "get" | "post" | "put" | "patch" | "delete";
const APP = "/v1/applications/:app";
/** Every operation and the scopes it needs (additive). `:id` is a record made by POSTing to the path before it. */
export const ENDPOINTS: ReadonlyArray<readonly [method: Method, path: string, scopes: readonly string[]]> = [
  ["get", "/v1/regions", ["read"]],
  ["get", "/v1/projects", ["read"]],
  ["get", "/v1/applications", ["read"]],
  ["get", APP, ["read"]],
  ["get", `${APP}/deployments`, ["read"]],
  ["post", `${APP}/deployments`, ["deploy"]],
  ["get", `${APP}/env`, ["read", "env:read"]],
  ["put", `${APP}/env`, ["env:write"]],
  ["delete", `${APP}/env/:name`, ["env:write"]],
  ["get", `${APP}/logs`, ["read", "logs:read"]],
  ...["/v1/domains", `${APP}/processes`, "/v1/ssh_keys", "/v1/dns_records"].flatMap(
    (path) =>
      [
        ["get", path, ["read"]],
        ["post", path, ["write"]],
        ["patch", `${path}/:id`, ["write"]],
        ["delete", `${path}/:id`, ["write"]],
      ] as const,
  ),
];

/**
 * A key as the dashboard shows it, in the doc's words (`last_used_at`, snake_case throughout).
 *
 * @example
 * present(keyJson) // { id, name, kind, project_id, projects, scopes, start, status, created_at, expires_at, last_used_at, revoked_at }
 */
export const present = (k: ApiKeyJson) => ({
  id: k.id,
  name: k.name,
  kind: k.kind,
  project_id: k.projectId,
  projects: k.projects,
  scopes: k.scopes,
  start: k.start,
  status: k.status,
  created_at: k.createdAt,
  expires_at: k.expiresAt,
  last_used_at: k.lastUsedAt,
  revoked_at: k.revokedAt,
});

export interface AppOptions {
  /** SQLite file holding the keys. */
  db: string;
  /** Per-key rate limit (429 beyond). Defaults to 300 requests per minute. */
  rateLimit?: { limit: number; window: string };
  clock?: () => number;
}

export function createApp({ db, rateLimit = { limit: 300, window: "1m" }, clock }: AppOptions) {
  const keys = new KeyManager({
    store: new SqliteStore(db),
    prefix: "nodion",
    modes: [],
    scopes: SCOPES,
    rateLimit,
    clock,
    allowedTtls: ["30d", "60d", "90d", null],
    defaultTtl: "90d",
  });
  // Demo users: their memberships (first = default project) and dashboard sessions.
  const members = new Map<string, string[]>();
  const sessions = new Map<string, string>();
  const login = (user: string, projects: string[]) => {
    const token = randomUUID();
    members.set(user, projects);
    sessions.set(token, user);
    return `session=${token}`;
  };
  const userOf = (req: IncomingMessage) => sessions.get(/(?:^|;\s*)session=([^;]*)/.exec(req.headers.cookie ?? "")?.[1] ?? "");

  // The projects a request may see: a project key's one project; a user key's memberships, narrowed by its allow-list.
  const visible = (req: express.Request) => {
    const key = req.apiKey!;
    if (key.kind === "project") return [key.project!];
    const mine = members.get(key.ownerId ?? "") ?? [];
    return key.projects.length ? mine.filter((p) => key.projects.includes(p)) : mine;
  };
  const memberOf = (owner: string | null, project: string) => members.get(owner ?? "")?.includes(project) ?? false;
  const inProject = requireKey((key) => key.project !== null, "Name a project with the X-Nodion-Project header.");
  const application = (req: express.Request, res: express.Response) => {
    const name = PROJECTS[req.apiKey!.project!]?.apps.find((a) => a === req.params.app);
    if (!name) res.status(404).json({ error: { code: "not_found", message: "No such application." } });
    return name;
  };
  // Domains, processes, SSH keys and DNS records of each project: small in-memory stand-ins.
  const records = new Map<string, Array<{ id: string; [field: string]: unknown }>>();
  const recordsOf = (req: express.Request, kind: string) => {
    const name = `${req.apiKey!.project}:${req.params.app ?? ""}:${kind}`;
    if (!records.has(name)) records.set(name, []);
    return records.get(name)!;
  };

  const app = express();
  app.use("/dashboard/keys", keysRouter({ keys, owner: userOf, projects: (req) => members.get(userOf(req) ?? "") ?? [], present }));
  // Without the header: the owner's default project (or the key's first allow-listed one, if the default is not on its list).
  const defaultProject = (key: { ownerId: string | null; projects: readonly string[] }) => {
    const home = members.get(key.ownerId ?? "")?.[0];
    return home && key.projects.length && !key.projects.includes(home) ? key.projects[0] : home;
  };
  // The docs answer 401 for "missing, malformed or expired" tokens: malformed ones included.
  app.use("/v1", apiKeyAuth({ keys, projectHeader: "x-nodion-project", defaultProject, memberOf, malformedStatus: 401 }), express.json());
  app.get("/v1/regions", requireScope("read"), (_req, res) => {
    res.json({ regions: REGIONS });
  });
  app.get("/v1/projects", requireScope("read"), (req, res) => {
    res.json({ projects: visible(req).map((id) => ({ id, name: PROJECTS[id]!.name })) });
  });
  app.get("/v1/applications", requireScope("read"), inProject, (req, res) => {
    res.json({ project: req.apiKey!.project, applications: PROJECTS[req.apiKey!.project!]!.apps });
  });
  app.get(APP, requireScope("read"), inProject, (req, res) => {
    if (application(req, res)) res.json({ application: { id: req.params.app, project: req.apiKey!.project } });
  });
  app.get(`${APP}/deployments`, requireScope("read"), inProject, (req, res) => {
    if (application(req, res)) res.json({ deployments: [] });
  });
  app.post(`${APP}/deployments`, requireScope("deploy"), inProject, (req, res) => {
    if (application(req, res)) res.status(201).json({ deployment: { id: randomUUID(), application: req.params.app, project: req.apiKey!.project } });
  });
  app.get(`${APP}/env`, requireScope("read", "env:read"), inProject, (req, res) => {
    if (application(req, res)) res.json({ env: { NODE_ENV: "production" } });
  });
  app.put(`${APP}/env`, requireScope("env:write"), inProject, (req, res) => {
    if (application(req, res)) res.json({ env: req.body });
  });
  app.delete(`${APP}/env/:name`, requireScope("env:write"), inProject, (req, res) => {
    if (application(req, res)) res.json({ deleted: req.params.name });
  });
  app.get(`${APP}/logs`, requireScope("read", "logs:read"), inProject, (req, res) => {
    if (application(req, res)) res.json({ lines: ["listening on :8080"] });
  });
  for (const [path, kind] of [
    ["/v1/domains", "domains"],
    [`${APP}/processes`, "processes"],
    ["/v1/ssh_keys", "ssh_keys"],
    ["/v1/dns_records", "dns_records"],
  ] as const) {
    const inApp = path.startsWith(APP)
      ? [
          (req: express.Request, res: express.Response, next: express.NextFunction) => {
            if (application(req, res)) next();
          },
        ]
      : [];
    const found = (req: express.Request, res: express.Response) => {
      const record = recordsOf(req, kind).find((r) => r.id === req.params.id);
      if (!record) res.status(404).json({ error: { code: "not_found", message: `No such ${kind.slice(0, -1).replace("_", " ")}.` } });
      return record;
    };
    app.get(path, requireScope("read"), inProject, ...inApp, (req, res) => {
      res.json({ [kind]: recordsOf(req, kind) });
    });
    app.post(path, requireScope("write"), inProject, ...inApp, (req, res) => {
      const record = { ...(req.body && typeof req.body === "object" ? req.body : {}), id: randomUUID(), project: req.apiKey!.project };
      recordsOf(req, kind).push(record);
      res.status(201).json(record);
    });
    app.patch(`${path}/:id`, requireScope("write"), inProject, ...inApp, (req, res) => {
      const record = found(req, res);
      if (record) res.json(Object.assign(record, req.body, { id: record.id, project: record.project }));
    });
    app.delete(`${path}/:id`, requireScope("write"), inProject, ...inApp, (req, res) => {
      const record = found(req, res);
      if (!record) return;
      const list = recordsOf(req, kind);
      list.splice(list.indexOf(record), 1);
      res.json({ id: record.id, deleted: true });
    });
  }
  return { app, keys, login, members };
}
