/**
 * Nodion-style API (seed 003): user keys (scopes, optional project allow-list, TTL 30/60/90 days or
 * none) act on the projects their owner is a member of; project keys are bound to one project and
 * not scope-gated. `X-Nodion-Project` picks the project, else the owner's default project.
 */
import express from "express";
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { KeyManager, apiKeyAuth, keysRouter, requireKey, requireScope } from "keyward";
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

export interface AppOptions {
  /** SQLite file holding the keys. */
  db: string;
  /** Per-key rate limit (429 beyond). Defaults to 300 requests per minute. */
  rateLimit?: { limit: number; window: string };
  clock?: () => number;
}

export function createApp({ db, rateLimit = { limit: 300, window: "1m" }, clock }: AppOptions) {
  const keys = new KeyManager({
    store: new SqliteStore(db), prefix: "nodion", modes: [], scopes: SCOPES, rateLimit, clock,
    allowedTtls: ["30d", "60d", "90d", null], defaultTtl: "90d",
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
  const app_ = (req: express.Request) => PROJECTS[req.apiKey!.project!]?.apps.find((a) => a === req.params.id);

  const app = express();
  app.use("/dashboard/keys", keysRouter({ keys, owner: userOf, projects: (req) => members.get(userOf(req) ?? "") ?? [] }));
  // Without the header: the owner's default project (or the key's first allow-listed one, if the default is not on its list).
  const defaultProject = (key: { ownerId: string | null; projects: readonly string[] }) => {
    const home = members.get(key.ownerId ?? "")?.[0];
    return home && key.projects.length && !key.projects.includes(home) ? key.projects[0] : home;
  };
  app.use("/v1", apiKeyAuth({ keys, projectHeader: "x-nodion-project", defaultProject, memberOf }), express.json());
  app.get("/v1/regions", requireScope("read"), (_req, res) => { res.json({ regions: REGIONS }); });
  app.get("/v1/projects", requireScope("read"), (req, res) => { res.json({ projects: visible(req).map((id) => ({ id, name: PROJECTS[id]!.name })) }); });
  app.get("/v1/applications", requireScope("read"), inProject, (req, res) => { res.json({ project: req.apiKey!.project, applications: PROJECTS[req.apiKey!.project!]!.apps }); });
  app.post("/v1/applications/:id/deployments", requireScope("deploy"), inProject, (req, res) => {
    if (!app_(req)) return void res.status(404).json({ error: { code: "not_found", message: "No such application." } });
    res.status(201).json({ deployment: { id: randomUUID(), application: req.params.id, project: req.apiKey!.project } });
  });
  app.get("/v1/applications/:id/env", requireScope("read", "env:read"), inProject, (_req, res) => { res.json({ env: { NODE_ENV: "production" } }); });
  app.put("/v1/applications/:id/env", requireScope("env:write"), inProject, (req, res) => { res.json({ env: req.body }); });
  app.get("/v1/applications/:id/logs", requireScope("read", "logs:read"), inProject, (_req, res) => { res.json({ lines: ["listening on :8080"] }); });
  app.post("/v1/domains", requireScope("write"), inProject, (req, res) => { res.status(201).json({ domain: req.body?.name, project: req.apiKey!.project }); });
  return { app, keys, login, members };
}
